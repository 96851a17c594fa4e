"""A model's risk tier, which picks the gates its versions pass.

Raising the tier sends back every version that passed gates of the old tier
but does not serve (a stage after the first and before ``deployed``) to the
first stage, each move an event with the reason, in the transaction that
changes the tier: no version reaches ``deployed`` on approvals the new tier
would not have counted (separation of duties, two reviewers, sign-offs). A
deployed version keeps serving; lowering the tier moves nothing.
"""

from __future__ import annotations

from .. import validation
from ..domain import RISK_TIERS
from ..store import models as model_rows
from ..store import versions as version_rows
from . import audit as log
from .base import model_row
from .gates import Chain
from .release import OnRelease


class RiskTierService(OnRelease):
    def set(self, name: str, tier: str, *, actor: str, reason: str) -> tuple[str, tuple[int, ...]]:
        """Change a model's risk tier (admin). Returns the old tier and the numbers of the
        versions a raise sent back to the first stage (see the module).

        Raises NotFound, InvalidInput, PermissionDenied, IntegrityError (the model's
        stored row is damaged: its tier is not one of low, medium, high).
        """
        validation.model_name(name)
        tier = validation.risk_tier(tier)
        why = validation.reason(reason)
        now = self.ctx.clock()
        sent_back: list[int] = []
        with self.ctx.db.write() as conn:
            row = model_row(conn, name, lock=True)
            self.gov.require(conn, "risk_tier_set", actor, at=now)
            before = model_rows.model_from_row(row).risk_tier
            if before == tier:
                return before, ()
            model_rows.set_risk_tier(conn, row.id, tier)
            chain = Chain(
                log.record(
                    conn,
                    log.Head.of_model(name, row),
                    actor=actor,
                    at=now,
                    action="model.risk_tier",
                    subject=log.subject_of(name),
                    model=name,
                    before={"risk_tier": before},
                    after={"risk_tier": tier},
                    reason=why,
                ),
                now,
            )
            if RISK_TIERS.index(tier) > RISK_TIERS.index(before):
                graph = self.gov.policy(conn).graph
                passed = graph.order[1:-1]
                back = (
                    f"the risk tier was raised from {before} to {tier}: the gates of "
                    f"{tier} apply ({why})"
                )
                for number in version_rows.numbers_in_stages(conn, row.id, passed):
                    v = self.release.lock(conn, f"models:/{name}/{number}", chain)
                    self.release.set_stage(conn, v, graph.first, actor, back)
                    sent_back.append(number)
        return before, tuple(sent_back)
