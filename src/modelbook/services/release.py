"""The release flow: stage moves behind gates, reviews, deprecation and archiving.

The rules are pure (:mod:`modelbook.lifecycle`, :mod:`modelbook.policy`,
:mod:`modelbook.checks`, :mod:`modelbook.roles`); this service feeds them
what they need from the store and writes what they decide, each operation in
one transaction. A refused gate still records its evaluation (the evidence
and its event) and then raises :class:`GateFailed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from .. import limits, smoke, uris, validation
from ..annotations import Approval, Attestation, CheckRecord, Rejection
from ..checks import CheckContext, GateOutcome, evaluate_gate
from ..domain import Version
from ..errors import Conflict, GateFailed, InvalidInput, PermissionDenied
from ..lifecycle import ARCHIVED, DEPLOYED
from ..policy import Policy
from ..store import aliases as alias_rows
from ..store import annotations as note_rows
from ..store import models as model_rows
from ..store import versions as version_rows
from ..store.rows import to_dt
from . import audit as log
from . import contracts, loading, notes
from .base import Context, version_row
from .governance import GovernanceService


@dataclass(frozen=True)
class Promotion:
    """What a promotion did: the stages entered, and each gate's outcome."""

    version: Version
    stages: tuple[str, ...]
    outcomes: tuple[GateOutcome, ...]


@dataclass
class Chain:
    """The head of a model's audit chain inside one write; every event moves it.

    ``at`` is the time of the operation (microseconds): every event it writes
    carries it, so one deploy or rollback is one moment in the log.
    """

    head: log.Head
    at: int


@dataclass
class Locked:
    """A version inside a write: its row (model and version locked), its value, and the
    model's chain, shared by every version of the model touched in the write."""

    name: str
    row: Any
    version: Version
    chain: Chain

    @property
    def head(self) -> log.Head:
        return self.chain.head

    @head.setter
    def head(self, value: log.Head) -> None:
        self.chain.head = value


class ReleaseService:
    def __init__(self, ctx: Context, governance: GovernanceService) -> None:
        self.ctx = ctx
        self.gov = governance

    # shared machinery -----------------------------------------------------------

    def lock(self, conn: Connection, uri: str, chain: Chain | None = None) -> Locked:
        """Lock the model and the version ``uri`` names and read it.

        ``chain``: the model's chain when an earlier statement of this write
        already moved it; else it is read with the version.
        """
        ref = uris.parse(uri)
        row = version_row(conn, ref, lock=True)
        return Locked(
            ref.name,
            row,
            version_rows.version_from_row(ref.name, row),
            chain or Chain(log.Head.of_model(ref.name, row), self.ctx.clock()),
        )

    def context(
        self, conn: Connection, v: Locked, target: str, actor: str, roles: frozenset[str]
    ) -> CheckContext:
        """Everything the checks may consult about ``v``, read inside the write."""
        model = model_rows.model_from_row(model_rows.find(conn, v.name))
        served: dict[str, Version] = {}
        numbers = {int(v.row.id): int(v.row.number)}
        pointed = {a.name: a.version for a in alias_rows.of_model(conn, v.name, v.row.model_id)}
        for alias in self.gov.policy(conn).serving_aliases:
            if alias not in pointed:
                # A serving alias removed a moment ago still sets the bar: the
                # version it served last, so removing it cannot switch off `compare`.
                moves = alias_rows.history(conn, v.name, alias, limit=1)
                if moves and moves[0].from_version is not None:
                    pointed[alias] = moves[0].from_version
        for name, number in pointed.items():
            row = version_rows.find(conn, v.name, "number", str(number))
            if row is not None:
                served[name] = self.ctx.cache.version(v.name, row)
                numbers[int(row.id)] = int(row.number)
        found = notes.parse_rows(
            note_rows.of_versions(
                conn, [int(v.row.id)], ("approval", "rejection", "attestation", "smoke")
            )
        )
        observed = note_rows.of_versions(conn, list(numbers), ("observation",))
        by_number: dict[int, list[Any]] = {}
        for r, obs in zip(observed, notes.parse_rows(observed)["observation"], strict=True):
            by_number.setdefault(numbers[int(r.version_id)], []).append(obs)
        return CheckContext(
            model=model,
            target_stage=target,
            actor=actor,
            actor_roles=roles,
            served=served,
            approvals=tuple(found["approval"]),
            rejections=tuple(found["rejection"]),
            attestations=tuple(found["attestation"]),
            observations={k: tuple(o) for k, o in by_number.items()},
            now=to_dt(v.chain.at),
            smoke_test=smoke.recorded(found["smoke"]),
            sample=contracts.sample_reader(self.ctx.blobs.read_verified),
            scan=loading.scanner(self.ctx.blobs.read_verified),
        )

    def evaluate(
        self,
        conn: Connection,
        v: Locked,
        policy: Policy,
        target: str,
        actor: str,
        roles: frozenset[str],
    ) -> GateOutcome:
        """Run the gate of ``target`` and store its evidence and event on the version."""
        ctx = self.context(conn, v, target, actor, roles)
        outcome = evaluate_gate(policy.gate(ctx.model.risk_tier, target), v.version, ctx)
        now = v.chain.at
        value = notes.Evaluation(
            target_stage=target,
            passed=outcome.passed,
            records=outcome.records(actor=actor, at=to_dt(now)),
            actor=actor,
            at=to_dt(now),
        )
        v.head = notes.record(
            conn, v.row, v.name, value, "evaluation", action="version.evaluate", head=v.head
        )
        return outcome

    def set_stage(
        self,
        conn: Connection,
        v: Locked,
        stage: str,
        actor: str,
        reason: str | None,
        action: str = "version.stage",
    ) -> None:
        """Move ``v`` to ``stage`` with its event (``version.stage``, or ``version.archive``)."""
        before = v.row.stage
        if before == stage:
            return
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
        recorded), PermissionDenied.
        """
        if (to is None) == (not auto):
            raise InvalidInput(
                "name the stage to promote to (--to STAGE) or pass --auto, not both"
                if auto
                else "name the stage to promote to (--to STAGE) or pass --auto"
            )
        why = None if comment is None else validation.text(comment, "comment", limits.MAX_TEXT)
        refused: GateFailed | None = None
        with self.ctx.db.write() as conn:
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
            entered: list[str] = []
            outcomes: list[GateOutcome] = []
            for step in path:
                outcome = self.evaluate(conn, v, policy, step, actor, roles)
                outcomes.append(outcome)
                refused = outcome.refusal(v.version)
                if refused is not None:
                    break
                self.set_stage(conn, v, step, actor, why)
                v.row = v.row._replace(stage=step)
                entered.append(step)
        if refused is not None and (not auto or not entered):
            raise refused
        return Promotion(
            version=self.reread(f"models:/{v.name}/{v.row.number}"),
            stages=tuple(entered),
            outcomes=tuple(outcomes),
        )

    # reviews ---------------------------------------------------------------------

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
            v = self.lock(conn, uri)
            policy = self.gov.policy(conn)
            roles = self.gov.require(conn, "attest", actor)
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
            self._try_waiting_gate(conn, v, policy, actor, roles, text)
        return value

    def _try_waiting_gate(
        self,
        conn: Connection,
        v: Locked,
        policy: Policy,
        actor: str,
        roles: frozenset[str],
        reason: str | None,
    ) -> Promotion | None:
        """After a review (approval or sign-off), run the gate of the stage reviews guard
        (the one before ``deployed``) when ``v`` may be promoted to it, and move ``v``
        there if it passes: the last missing piece of evidence lets the version in
        without another ``promote``. None when the version does not wait for that stage.
        """
        gate_stage = policy.graph.return_stage
        if not policy.graph.allows(v.row.stage, gate_stage):
            return None
        outcome = self.evaluate(conn, v, policy, gate_stage, actor, roles)
        if not outcome.passed:
            return Promotion(v.version, (), (outcome,))
        self.set_stage(conn, v, gate_stage, actor, reason)
        v.row = v.row._replace(stage=gate_stage)
        return Promotion(v.version, (gate_stage,), (outcome,))

    def _review(self, uri: str, verb: str, *, actor: str, comment: str | None) -> Promotion:
        text = None if comment is None else validation.text(comment, "comment", limits.MAX_TEXT)
        moved: Promotion | None = None
        with self.ctx.db.write() as conn:
            v = self.lock(conn, uri)
            policy = self.gov.policy(conn)
            roles = self.gov.require(conn, verb, actor)
            if v.row.stage in (ARCHIVED, DEPLOYED):
                raise InvalidInput(
                    f"{v.version.uri} is {v.row.stage!r}: there is nothing to {verb}"
                )
            tier = model_rows.find(conn, v.name).risk_tier
            found = notes.parse_rows(
                note_rows.of_version(conn, v.row.id, ("approval", "rejection"))
            )
            now = to_dt(v.chain.at)
            if verb == "approve":
                me = validation.person(actor)
                if tier == "high" and me == validation.person(v.version.created_by):
                    raise PermissionDenied(
                        f"{actor!r} registered {v.version.uri}, a high-risk version, and so "
                        "cannot approve it (separation of duties): ask another reviewer"
                    )
                mine = [
                    d
                    for d in (*found["approval"], *found["rejection"])
                    if validation.person(d.actor) == me
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
                moved = self._try_waiting_gate(conn, v, policy, actor, roles, text)
            else:
                value = Rejection(actor=actor, comment=text, at=now)
                v.head = notes.record(
                    conn, v.row, v.name, value, "rejection", action="version.reject", head=v.head
                )
                graph = policy.graph
                if v.row.stage == graph.return_stage:
                    # An approved version that a reviewer rejects must not ship: it goes
                    # back to the stage before, and its approval gate must pass again.
                    back = graph.order[graph.order.index(graph.return_stage) - 1]
                    self.set_stage(conn, v, back, actor, text)
                    v.row = v.row._replace(stage=back)
                    moved = Promotion(v.version, (back,), ())
        after = self.reread(f"models:/{v.name}/{v.row.number}")
        if moved is None:
            return Promotion(after, (), ())
        return Promotion(after, moved.stages, moved.outcomes)

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


def reason_code(code: str) -> str:
    """A rollback reason code such as ``kpi_drop`` (a key: letters, digits, ``_ . : / -``)."""
    return validation.key(code, "reason code")
