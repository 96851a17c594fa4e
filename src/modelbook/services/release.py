"""The release flow: stage moves behind gates, archive moves, evidence, deprecation.

The rules are pure (:mod:`modelbook.lifecycle`, :mod:`modelbook.policy`,
:mod:`modelbook.checks`, :mod:`modelbook.roles`); this service feeds them
what they need from the store and writes what they decide. Gates are
evaluated before the write that records them (:mod:`.gates`), so a slow check
holds no lock. A refused gate still records its evaluation (the evidence and
its event) and then raises :class:`GateFailed`. Reviews (approve, reject, attest)
are :mod:`.reviews`, which moves versions through this service.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from .. import limits, uris, validation
from .. import roles as role_rules
from ..annotations import CheckRecord, Rejection
from ..checks import GateOutcome
from ..domain import RISK_TIERS, Version
from ..errors import Conflict, GateFailed, IntegrityError, InvalidInput
from ..events import model_chain
from ..lifecycle import ARCHIVED, DEPLOYED
from ..store import annotations as note_rows
from ..store import versions as version_rows
from . import audit as log
from . import notes
from .base import Context, version_row
from .gates import Ask, Chain, Gates, Judged, Locked, lock
from .governance import GovernanceService

__all__ = ["Promotion", "ReleaseService", "Steps"]


@dataclass(frozen=True)
class Promotion:
    """What a promotion did: the stages entered, and each gate's outcome."""

    version: Version
    stages: tuple[str, ...]
    outcomes: tuple[GateOutcome, ...]


@dataclass(frozen=True)
class Steps:
    """A planned promotion: the version and the stages it asks to enter, in order."""

    asks: tuple[Ask, ...]
    state: Any = None


class ReleaseService:
    def __init__(self, ctx: Context, governance: GovernanceService) -> None:
        self.ctx = ctx
        self.gov = governance
        self.gates = Gates(ctx, governance)

    # shared machinery -----------------------------------------------------------

    def lock(self, conn: Connection, uri: str, chain: Chain | None = None) -> Locked:
        """Lock the model and the version ``uri`` names and read it (see :func:`.gates.lock`);
        every write on a version does, so its stored stage is checked here before any rule
        reads it. Raises NotFound, IntegrityError (a damaged row, a stage not in the graph, a
        risk tier that is none of the three)."""
        v = lock(conn, uri, self.ctx.clock(), chain)
        self.gov.policy(conn).graph.current(v.row.stage, v.version.uri)
        if v.row.risk_tier not in RISK_TIERS:
            # The tier chooses the gates and whether separation of duties applies.
            raise IntegrityError(
                f"model {v.name!r} is stored with risk tier {v.row.risk_tier!r}, none of "
                f"{', '.join(RISK_TIERS)}; its row was damaged or edited"
            )
        return v

    def set_stage(
        self,
        conn: Connection,
        v: Locked,
        stage: str,
        actor: str,
        reason: str | None,
        action: str = "version.stage",
    ) -> None:
        """Move ``v`` to ``stage`` with its event (``version.stage``, or ``version.archive``).

        A move into or out of ``archived`` is held to :meth:`require_archive_move`
        here, whichever operation asks for it.
        """
        before = v.row.stage
        if before == stage:
            return
        self.require_archive_move(conn, v, stage, actor, reason)
        version_rows.set_stage(conn, v.row.id, stage)
        v.head = log.record(
            conn,
            v.head,
            actor=actor,
            at=v.chain.at,
            action=action,
            subject=log.subject_of(v.name, v.row.number),
            model=v.name,
            version=v.row.number,
            before={"stage": before},
            after={"stage": stage},
            reason=reason,
        )

    def require_archive_move(
        self, conn: Connection, v: Locked, stage: str, actor: str, reason: str | None
    ) -> None:
        """The one rule for moving ``v`` into ``archived`` (archive) or out of it (restore).

        Archiving needs the role :func:`modelbook.roles.retire_operation` gives for the
        version's stage (a deployer's for a deployed version or a rollback target) and
        a note. Restoring undoes an archive, so it needs the role archiving it needed
        (judged on the stage it was archived from; a deployer's when no event says)
        and a reason. Raises PermissionDenied, InvalidInput (no note or reason).
        """
        before = v.row.stage
        if stage == before or ARCHIVED not in (stage, before):
            return
        graph = self.gov.policy(conn).graph
        released = (DEPLOYED, graph.return_stage)
        if stage == ARCHIVED:
            operation = role_rules.retire_operation("archive", before, released)
            missing = f"archiving {v.version.uri} needs a note (--note TEXT)"
        else:
            origin = self._archived_from(conn, v)
            operation = role_rules.retire_operation("restore", origin or DEPLOYED, released)
            missing = (
                f"restoring {v.version.uri} from {ARCHIVED!r} needs a reason "
                f"(--comment TEXT): it undoes an archive"
            )
        self.gov.require(conn, operation, actor)
        if reason is None or not reason.strip():
            raise InvalidInput(missing)

    def has_served(self, conn: Connection, v: Locked) -> bool:
        """Whether ``v`` serves now or served before (a serving alias pointed at it): such
        a version in the stage before ``deployed`` is a rollback target."""
        if v.row.stage == DEPLOYED:
            return True
        for text in version_rows.stage_events(conn, model_chain(v.name), v.row.number):
            try:
                if json.loads(text)["after"]["stage"] == DEPLOYED:
                    return True
            except (ValueError, TypeError, KeyError):
                continue
        return False

    def open_rejection(self, conn: Connection, v: Locked) -> Rejection | None:
        """The latest rejection of ``v`` that no approval recorded after it answers;
        None when there is none. Such a version is not deployed again, by any path."""
        row = note_rows.open_rejection(conn, v.row.id)
        if row is None:
            return None
        rejection: Rejection = notes.parse_rows([row])["rejection"][0]
        return rejection

    def require_deployable(self, conn: Connection, v: Locked) -> None:
        """What keeps ``v`` from being pointed at by a serving alias whatever the gate
        says: a deprecation, or a rejection no approval has answered. Raises InvalidInput."""
        if v.row.deprecated_at is not None:
            raise InvalidInput(f"{v.version.uri} is deprecated and cannot be deployed")
        if v.row.stage not in (DEPLOYED, self.gov.policy(conn).graph.return_stage):
            return  # the stage rule refuses it, naming the stage it must reach
        rejected = self.open_rejection(conn, v)
        if rejected is not None:
            raise InvalidInput(rejection_text(v.version.uri, rejected) + " cannot be deployed")

    def _archived_from(self, conn: Connection, v: Locked) -> str | None:
        """The stage ``v`` was in when it was last archived; None when no event says."""
        for text in version_rows.stage_events(conn, model_chain(v.name), v.row.number):
            try:
                doc = json.loads(text)
                if doc["after"]["stage"] == ARCHIVED:
                    before = doc["before"]["stage"]
                    return before if isinstance(before, str) else None
            except (ValueError, TypeError, KeyError):
                return None
        return None

    def enter(
        self,
        conn: Connection,
        v: Locked,
        outcomes: tuple[GateOutcome, ...],
        actor: str,
        why: str | None,
    ) -> tuple[list[str], GateFailed | None]:
        """Record each evaluation and move ``v`` into each stage whose gate passed, in order,
        up to the first refused one. The stages entered, and that refusal (None: none)."""
        entered: list[str] = []
        for outcome in outcomes:
            self.gates.record(conn, v, outcome, actor)
            refused = outcome.refusal(v.version)
            if refused is not None:
                return entered, refused
            self.set_stage(conn, v, outcome.target_stage, actor, why)
            v.row = v.row._replace(stage=outcome.target_stage)
            entered.append(outcome.target_stage)
        return entered, None

    # promotion ------------------------------------------------------------------

    def promote(
        self,
        uri: str,
        *,
        actor: str,
        to: str | None = None,
        auto: bool = False,
        comment: str | None = None,
    ) -> Promotion:
        """Move a version to stage ``to`` through its gate, or with ``auto`` as far as the
        gates allow (stopping before ``deployed``).

        Raises InvalidInput (unknown or illegal stage; ``deployed`` is entered by
        deploy), GateFailed (each failing check and its hint; the evaluation is
        recorded), PermissionDenied, Conflict (what the gates check kept changing
        while they ran; nothing is written).
        """
        if (to is None) == (not auto):
            raise InvalidInput(
                "name the stage to promote to (--to STAGE) or pass --auto, not both"
                if auto
                else "name the stage to promote to (--to STAGE) or pass --auto"
            )
        why = None if comment is None else validation.text(comment, "comment", limits.MAX_TEXT)

        def plan(conn: Connection) -> Steps:
            v = self.lock(conn, uri)
            policy = self.gov.policy(conn)
            graph = policy.graph
            roles = self.gov.require(conn, "promote", actor)
            current = v.row.stage
            if to is not None:
                target = graph.stage(to)
                if target == DEPLOYED:
                    raise InvalidInput(
                        f"a version enters {DEPLOYED!r} when a serving alias points at it: "
                        f"use `modelbook deploy {v.version.uri} --reason TEXT`"
                    )
                if target == ARCHIVED:
                    graph.check_move(current, target)
                    raise InvalidInput(
                        f"a version enters {ARCHIVED!r} by archive, with its role and note: "
                        f"use `modelbook archive {v.version.uri} --note TEXT`"
                    )
            if auto:
                path = graph.auto_path(current)
                if to is not None:
                    if target not in path:
                        graph.check_move(current, target)
                        path = (target,)
                    else:
                        path = path[: path.index(target) + 1]
                if not path:
                    raise InvalidInput(
                        f"{v.version.uri} is {current!r}: --auto has no stage left before "
                        f"{DEPLOYED!r}; deploy it"
                    )
            else:
                graph.check_move(current, target)
                path = (target,)
            # Refused before any gate runs; set_stage holds the move to the same rule.
            self.require_archive_move(conn, v, path[0], actor, why)
            return Steps((Ask(v, self.gates.inputs(conn, v, roles), policy, path),))

        def apply(
            conn: Connection, steps: Steps, judged: Judged
        ) -> tuple[Locked, list[str], tuple[GateOutcome, ...], GateFailed | None]:
            v = steps.asks[0].version
            entered, refused = self.enter(conn, v, judged[0], actor, why)
            return v, entered, judged[0], refused

        v, entered, outcomes, refused = self.gates.run(f"promote {uri}", actor, plan, apply)
        if refused is not None and (not auto or not entered):
            raise refused
        return Promotion(
            version=self.reread(f"models:/{v.name}/{v.row.number}"),
            stages=tuple(entered),
            outcomes=outcomes,
        )

    def evidence(self, uri: str) -> tuple[CheckRecord, ...]:
        """Every gate check ever evaluated on the version, oldest first."""
        found = notes.NoteService(self.ctx).annotations(uri).evaluations
        return tuple(r for e in found for r in e.records)

    # deprecation and archiving ------------------------------------------------------

    def mark_deprecated(
        self, conn: Connection, v: Locked, actor: str, note: str, *, deprecated: bool = True
    ) -> None:
        """Deprecate the locked version (or, ``deprecated=False``, withdraw its
        deprecation) with its event; Conflict when it already is (or is not)."""
        if (v.row.deprecated_at is not None) == deprecated:
            state = "already deprecated" if deprecated else "not deprecated"
            raise Conflict(f"{v.version.uri} is {state}")
        now = v.chain.at
        note_rows.set_deprecated(conn, v.row.id, now if deprecated else None)
        v.head = log.record(
            conn,
            v.head,
            actor=actor,
            at=now,
            action="version.deprecate" if deprecated else "version.undeprecate",
            subject=log.subject_of(v.name, v.row.number),
            model=v.name,
            version=v.row.number,
            before={"deprecated": not deprecated},
            after={"deprecated": deprecated},
            reason=note,
        )

    def reread(self, uri: str) -> Version:
        """The version ``uri`` names as committed, through the version cache."""
        ref = uris.parse(uri)
        return self.ctx.cache.version(ref.name, self.ctx.db.reading(lambda c: version_row(c, ref)))


def rejection_text(uri: str, r: Rejection) -> str:
    """``uri`` and the rejection that holds it, for a refusal to end."""
    return (
        f"{uri} was rejected by {r.actor} ({r.comment!r}) and no approval has answered it "
        f"since (`modelbook approve {uri}` after reading it); until then it"
    )


class OnRelease:
    """A service that acts on versions through the release service: its locks, gates
    and stage moves, under the governance service's policy and roles."""

    def __init__(self, ctx: Context, gov: GovernanceService, release: ReleaseService) -> None:
        self.ctx = ctx
        self.gov = gov
        self.release = release
