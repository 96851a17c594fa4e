"""Reviews of a version: approvals, rejections and named sign-offs (attestations).

Each is recorded in its own write; an approval or a sign-off then tries the
gate of the stage reviews guard (the one before ``deployed``), outside that
write as every gate is (:mod:`.gates`), so the last missing piece of evidence
lets the version in without another ``promote``. A rejection of a version in
that stage sends it back to the stage before, unless it served (a rollback
target): it then keeps its stage, and an unanswered rejection keeps it, as any
rejected deployed version, from being deployed or rolled back to again
(:meth:`.release.ReleaseService.require_deployable`). Stage moves, locking and gate
runs are the release flow's (:class:`.release.ReleaseService`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from .. import limits, people, validation
from ..annotations import Approval, Attestation, Rejection
from ..errors import Conflict, InvalidInput, PermissionDenied
from ..lifecycle import ARCHIVED
from ..store import annotations as note_rows
from ..store import models as model_rows
from ..store.rows import to_dt
from . import notes
from .gates import Ask, Judged
from .release import OnRelease, Promotion, Steps

__all__ = ["ReviewService"]


class ReviewService(OnRelease):
    def approve(self, uri: str, *, actor: str, comment: str | None = None) -> Promotion:
        """Record an approval; then, if the version waits for the stage an approval
        gate guards, try that gate (it may need more approvals)."""
        return self._review(uri, "approve", actor=actor, comment=comment)

    def reject(self, uri: str, *, actor: str, comment: str) -> None:
        """Record a rejection with its reason; it blocks approval gates until overturned."""
        if comment is None or not str(comment).strip():
            raise InvalidInput("a rejection needs a reason (--comment TEXT)")
        self._review(uri, "reject", actor=actor, comment=comment)

    def attest(self, uri: str, name: str, *, actor: str, comment: str | None = None) -> Attestation:
        """Record a named sign-off such as ``pii_review`` or ``security_scan``; then, as
        :meth:`approve` does, try the gate the version waits for (:meth:`_try_waiting_gate`).

        Raises Conflict (the same actor attested ``name`` before), PermissionDenied.
        """
        key = validation.key(name, "attestation name")
        text = None if comment is None else validation.text(comment, "comment", limits.MAX_TEXT)
        with self.ctx.db.write() as conn:
            v = self.release.lock(conn, uri)
            roles = self.gov.require(conn, "attest", actor)
            if v.row.risk_tier == "high" and people.same_person(actor, v.version.created_by):
                raise PermissionDenied(
                    f"{actor!r} registered {v.version.uri}, a high-risk version, and so "
                    f"cannot sign off {key!r} on it (separation of duties): ask another "
                    "reviewer"
                )
            value = Attestation(
                name=key,
                actor=actor,
                roles=tuple(sorted(roles)),
                comment=text,
                at=to_dt(v.chain.at),
            )
            existing = notes.parse_rows(note_rows.of_version(conn, v.row.id, ("attestation",)))
            if any(a.name == key and a.actor == actor for a in existing["attestation"]):
                raise Conflict(f"{actor!r} already attested {key!r} on {v.version.uri}")
            v.head = notes.record(
                conn, v.row, v.name, value, "attestation", action="version.attest", head=v.head
            )
        self._try_waiting_gate(f"models:/{v.name}/{v.row.number}", "attest", actor, text)
        return value

    def _try_waiting_gate(
        self, uri: str, verb: str, actor: str, reason: str | None
    ) -> Promotion | None:
        """After a review (approval or sign-off) is committed, run the gate of the stage
        reviews guard (the one before ``deployed``) when the version may be promoted to
        it, and move it there if it passes: the last missing piece of evidence lets the
        version in without another ``promote``. None when the version does not wait
        for that stage.
        """

        def plan(conn: Connection) -> Steps:
            v = self.release.lock(conn, uri)
            policy = self.gov.policy(conn)
            roles = self.gov.require(conn, verb, actor)
            gate_stage = policy.graph.return_stage
            if not policy.graph.allows(v.row.stage, gate_stage):
                return Steps(())
            return Steps(
                (Ask(v, self.release.gates.inputs(conn, v, roles), policy, (gate_stage,)),)
            )

        def apply(conn: Connection, steps: Steps, judged: Judged) -> Promotion | None:
            if not steps.asks:
                return None
            v = steps.asks[0].version
            entered, _ = self.release.enter(conn, v, judged[0], actor, reason)
            return Promotion(v.version, tuple(entered), judged[0])

        return self.release.gates.run(
            f"the review of {uri} is recorded, but the gate it tried", actor, plan, apply
        )

    def _review(self, uri: str, verb: str, *, actor: str, comment: str | None) -> Promotion:
        text = None if comment is None else validation.text(comment, "comment", limits.MAX_TEXT)
        moved: Promotion | None = None
        with self.ctx.db.write() as conn:
            v = self.release.lock(conn, uri)
            policy = self.gov.policy(conn)
            roles = self.gov.require(conn, verb, actor)
            # A deployed version is reviewed too: a finding after deploy is recorded
            # (and holds it from being deployed or rolled back to again), and an
            # approval answers it.
            if v.row.stage == ARCHIVED:
                raise InvalidInput(
                    f"{v.version.uri} is {v.row.stage!r}: there is nothing to {verb}"
                )
            tier = model_rows.model_from_row(model_rows.find(conn, v.name)).risk_tier
            found = notes.parse_rows(
                note_rows.of_version(conn, v.row.id, ("approval", "rejection"))
            )
            now = to_dt(v.chain.at)
            if verb == "approve":
                if tier == "high" and people.same_person(actor, v.version.created_by):
                    raise PermissionDenied(
                        f"{actor!r} registered {v.version.uri}, a high-risk version, and so "
                        "cannot approve it (separation of duties): ask another reviewer"
                    )
                mine = [
                    d
                    for d in (*found["approval"], *found["rejection"])
                    if people.same_person(d.actor, actor)
                ]
                mine.sort(key=lambda d: d.at)
                # A rejection recorded after one's approval is answered by approving
                # again, having read it; until then a second approval adds nothing.
                if (
                    mine
                    and isinstance(mine[-1], Approval)
                    and not any(r.at > mine[-1].at for r in found["rejection"])
                ):
                    raise Conflict(f"{actor!r} already approved {v.version.uri}")
                value: Any = Approval(actor=actor, roles=tuple(sorted(roles)), comment=text, at=now)
                v.head = notes.record(
                    conn, v.row, v.name, value, "approval", action="version.approve", head=v.head
                )
            else:
                value = Rejection(actor=actor, comment=text, at=now)
                v.head = notes.record(
                    conn, v.row, v.name, value, "rejection", action="version.reject", head=v.head
                )
                graph = policy.graph
                if v.row.stage == graph.return_stage and not self.release.has_served(conn, v):
                    # An approved version that a reviewer rejects must not ship: it goes
                    # back to the stage before, and its approval gate must pass again.
                    # One that served is a rollback target; taking it out of rollback is
                    # the deployer's call (deprecate, archive), so it keeps its stage and
                    # the open rejection keeps it from serving again.
                    back = graph.order[graph.order.index(graph.return_stage) - 1]
                    self.release.set_stage(conn, v, back, actor, text)
                    v.row = v.row._replace(stage=back)
                    moved = Promotion(v.version, (back,), ())
        number = f"models:/{v.name}/{v.row.number}"
        if verb == "approve":
            # The approval is committed first: the gate it may complete is evaluated
            # outside the write, as every gate is.
            moved = self._try_waiting_gate(number, verb, actor, text)
        after = self.release.reread(number)
        if moved is None:
            return Promotion(after, (), ())
        return Promotion(after, moved.stages, moved.outcomes)
