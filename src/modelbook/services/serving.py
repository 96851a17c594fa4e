"""Serving: deploy, alias moves under the serving rule, rollback, drills and swaps.

A version is ``deployed`` exactly while a serving alias (``production`` by
default; the policy's ``serving_aliases``) points at it. Pointing a serving
alias at a version is a deployment wherever it is asked for (``deploy``,
``alias set``, ``alias swap``): the version must be approved and pass the gate
of ``deployed``, the actor must be a deployer, and the version the alias
leaves returns to ``approved``, ready for rollback. Rollback moves the alias
back to the last known-good version without rebuilding anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from .. import validation
from ..annotations import Comment, Health
from ..domain import Alias, Version
from ..errors import Conflict, GateFailed, InvalidInput, NotFound
from ..lifecycle import DEPLOYED
from ..policy import Policy
from ..store import aliases as alias_rows
from ..store import annotations as note_rows
from ..store.rows import to_dt
from . import audit as log
from . import notes
from .aliases import alias_of, check_expect, move, valid_expect
from .base import Context, version_ref
from .governance import GovernanceService
from .release import Chain, Locked, ReleaseService, reason_code


@dataclass(frozen=True)
class RollbackPlan:
    """What a rollback does (or, with ``dry_run``, would do), and why that target."""

    model: str
    alias: str
    from_version: int
    to_version: int
    reason_code: str
    why: str
    dry_run: bool


@dataclass(frozen=True)
class DrillReport:
    """A rollback drill: the target it would choose and whether it is ready."""

    model: str
    alias: str
    from_version: int
    to_version: int
    why: str
    ready: bool
    checks: tuple[str, ...]
    problems: tuple[str, ...]


class ServingService:
    def __init__(
        self, ctx: Context, governance: GovernanceService, release: ReleaseService
    ) -> None:
        self.ctx = ctx
        self.gov = governance
        self.release = release

    # alias moves -----------------------------------------------------------------

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int | str,
        *,
        actor: str,
        reason: str,
        expect: int | None = None,
        require_serving: bool = False,
    ) -> Alias:
        """Point ``alias`` at a version; a serving alias only under the deploy rule.

        Raises NotFound, Conflict (``expect`` did not hold), InvalidInput (not
        approved, deprecated), GateFailed (the ``deployed`` gate refused; the
        evaluation is recorded), PermissionDenied.
        """
        validation.model_name(name)
        validation.alias_name(alias)
        why = validation.reason(reason)
        valid_expect(expect)
        ref = version_ref(name, version)
        refused: GateFailed | None = None
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            target = alias_rows.target(conn, name, alias, ref.kind, ref.value)
            if target is None:
                raise NotFound(f"model {name!r} not found")
            if target.version_id is None:
                raise NotFound(f"version {ref} not found")
            policy = self.gov.policy(conn)
            serving = policy.graph.is_serving(alias)
            if require_serving and not serving:
                raise InvalidInput(
                    f"{alias!r} is not a serving alias (serving: "
                    f"{', '.join(policy.serving_aliases)}): use `modelbook alias set`"
                )
            roles = self.gov.require(conn, "deploy" if serving else "alias_move", actor, at=now)
            check_expect(name, alias, target.current, expect)
            if target.current == target.number:
                return alias_of(conn, name, target.model_id, alias)
            chain = Chain(log.Head.of_model(name, target))
            if serving:
                refused = self._deploy(
                    conn, policy, chain, name, alias, target, actor, roles, why, now
                )
            else:
                chain.head = move(
                    conn,
                    chain.head,
                    name=name,
                    model_id=target.model_id,
                    alias=alias,
                    from_number=target.current,
                    to_number=target.number,
                    to_version_id=target.version_id,
                    actor=actor,
                    reason=why,
                    at=now,
                )
        if refused is not None:
            raise refused
        return Alias(
            model=name, name=alias, version=target.number, updated_at=to_dt(now), updated_by=actor
        )

    def _deploy(
        self,
        conn: Connection,
        policy: Policy,
        chain: Chain,
        name: str,
        alias: str,
        target: Any,
        actor: str,
        roles: frozenset[str],
        why: str,
        now: int,
    ) -> GateFailed | None:
        """Move a serving alias to an approved version through the ``deployed`` gate."""
        new = self.release.lock(conn, f"models:/{name}/{target.number}", chain)
        if new.row.deprecated_at is not None:
            raise InvalidInput(f"{new.version.uri} is deprecated and cannot be deployed")
        policy.graph.check_move(new.row.stage, DEPLOYED, via="deploy")
        outcome = self.release.evaluate(conn, new, policy, DEPLOYED, actor, roles)
        refused = outcome.refusal(new.version)
        if refused is not None:
            return refused
        self._point(conn, policy, chain, name, alias, target, new, actor, why, now)
        self._deployed_event(
            conn, chain, name, alias, target.current, target.number, actor, why, now
        )
        return None

    @staticmethod
    def _deployed_event(
        conn: Connection,
        chain: Chain,
        name: str,
        alias: str,
        before: int | None,
        after: int,
        actor: str,
        why: str,
        now: int,
    ) -> None:
        """The ``version.deploy`` event of a serving alias set to version ``after``."""
        chain.head = log.record(
            conn,
            chain.head,
            actor=actor,
            at=now,
            action="version.deploy",
            subject=log.subject_of(name, after),
            model=name,
            version=after,
            before=None if before is None else {"alias": alias, "version": before},
            after={"alias": alias, "version": after},
            reason=why,
        )

    def _point(
        self,
        conn: Connection,
        policy: Policy,
        chain: Chain,
        name: str,
        alias: str,
        target: Any,
        new: Locked,
        actor: str,
        why: str,
        now: int,
    ) -> None:
        """Move a serving alias to ``new`` and set the stages of both versions."""
        chain.head = move(
            conn,
            chain.head,
            name=name,
            model_id=target.model_id,
            alias=alias,
            from_number=target.current,
            to_number=new.row.number,
            to_version_id=new.row.id,
            actor=actor,
            reason=why,
            at=now,
        )
        self.release.set_stage(conn, new, DEPLOYED, actor, why)
        if target.current is not None and target.current != new.row.number:
            self._unserve(conn, policy, chain, name, target.model_id, target.current, actor, why)

    def _unserve(
        self,
        conn: Connection,
        policy: Policy,
        chain: Chain,
        name: str,
        model_id: int,
        number: int,
        actor: str,
        why: str,
    ) -> Locked:
        """A serving alias left version ``number``: back to approved unless another serves it."""
        old = self.release.lock(conn, f"models:/{name}/{number}", chain)
        still = any(
            a.version == number and policy.graph.is_serving(a.name)
            for a in alias_rows.of_model(conn, name, model_id)
        )
        stage = policy.graph.stage_after_unserved(old.row.stage, still_served=still)
        self.release.set_stage(conn, old, stage, actor, why)
        return old

    def delete_alias(
        self, name: str, alias: str, *, actor: str, reason: str, expect: int | None = None
    ) -> None:
        """Remove an alias; removing a serving alias undeploys its version."""
        validation.model_name(name)
        validation.alias_name(alias)
        why = validation.reason(reason)
        valid_expect(expect)
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            target = alias_rows.target(conn, name, alias)
            if target is None:
                raise NotFound(f"model {name!r} not found")
            if target.current is None:
                raise NotFound(f"alias models:/{name}@{alias} not found")
            policy = self.gov.policy(conn)
            serving = policy.graph.is_serving(alias)
            self.gov.require(conn, "deploy" if serving else "alias_move", actor, at=now)
            check_expect(name, alias, target.current, expect)
            chain = Chain(log.Head.of_model(name, target))
            chain.head = move(
                conn,
                chain.head,
                name=name,
                model_id=target.model_id,
                alias=alias,
                from_number=target.current,
                to_number=None,
                to_version_id=None,
                actor=actor,
                reason=why,
                at=now,
            )
            if serving:
                self._unserve(
                    conn, policy, chain, name, target.model_id, target.current, actor, why
                )

    def swap(self, name: str, first: str, second: str, *, actor: str, reason: str) -> list[Alias]:
        """Exchange the versions two aliases point at, in one transaction.

        A serving alias among them moves under the deploy rule: the version it
        receives must be approved (or deployed) and not deprecated, and pass the
        gate of ``deployed``; deployer role. A refused gate records its
        evaluation, moves nothing and raises GateFailed.
        """
        validation.model_name(name)
        validation.alias_name(first)
        validation.alias_name(second)
        if first == second:
            raise InvalidInput("name two different aliases to swap")
        why = validation.reason(reason)
        now = self.ctx.clock()
        refused: GateFailed | None = None
        with self.ctx.db.write() as conn:
            a = alias_rows.target(conn, name, first)
            if a is None:
                raise NotFound(f"model {name!r} not found")
            b = alias_rows.target(conn, name, second)
            for t, alias in ((a, first), (b, second)):
                if t.current is None:
                    raise NotFound(f"alias models:/{name}@{alias} not found")
            policy = self.gov.policy(conn)
            serving = policy.graph.is_serving(first) or policy.graph.is_serving(second)
            roles = self.gov.require(conn, "deploy" if serving else "alias_move", actor, at=now)
            if a.current == b.current:
                # Both point at one version: nothing moves, as when an alias is set
                # to the version it already names.
                return [
                    alias_of(conn, name, a.model_id, first),
                    alias_of(conn, name, a.model_id, second),
                ]
            chain = Chain(log.Head.of_model(name, b))
            receiving = [
                self.release.lock(conn, f"models:/{name}/{gets.current}", chain)
                for alias, gets in ((first, b), (second, a))
                if policy.graph.is_serving(alias)
            ]
            for v in receiving:
                if v.row.deprecated_at is not None:
                    raise InvalidInput(f"{v.version.uri} is deprecated and cannot be deployed")
                if v.row.stage != DEPLOYED:
                    policy.graph.check_move(v.row.stage, DEPLOYED, via="deploy")
            for v in receiving:
                outcome = self.release.evaluate(conn, v, policy, DEPLOYED, actor, roles)
                refused = outcome.refusal(v.version)
                if refused is not None:
                    break
            if refused is None:
                self._exchange(conn, policy, chain, name, first, second, a, b, actor, why, now)
                result = [
                    alias_of(conn, name, a.model_id, first),
                    alias_of(conn, name, a.model_id, second),
                ]
        if refused is not None:
            raise refused
        return result

    def _exchange(
        self,
        conn: Connection,
        policy: Policy,
        chain: Chain,
        name: str,
        first: str,
        second: str,
        a: Any,
        b: Any,
        actor: str,
        why: str,
        now: int,
    ) -> None:
        """Move both aliases of a swap, set the stages of the versions, record the swap."""
        for alias, had, gets in ((first, a, b), (second, b, a)):
            chain.head = move(
                conn,
                chain.head,
                name=name,
                model_id=a.model_id,
                alias=alias,
                from_number=had.current,
                to_number=gets.current,
                to_version_id=gets.current_id,
                actor=actor,
                reason=why,
                at=now,
            )
        for alias, had, gets in ((first, a, b), (second, b, a)):
            if policy.graph.is_serving(alias):
                v = self.release.lock(conn, f"models:/{name}/{gets.current}", chain)
                self.release.set_stage(conn, v, DEPLOYED, actor, why)
                self._deployed_event(
                    conn, chain, name, alias, had.current, gets.current, actor, why, now
                )
        for alias, had in ((first, a), (second, b)):
            if policy.graph.is_serving(alias):
                self._unserve(conn, policy, chain, name, a.model_id, had.current, actor, why)
        chain.head = log.record(
            conn,
            chain.head,
            actor=actor,
            at=now,
            action="alias.swap",
            subject=f"models:/{name}",
            model=name,
            before={first: a.current, second: b.current},
            after={first: b.current, second: a.current},
            reason=why,
        )

    # rollback ------------------------------------------------------------------------

    def plan(
        self, conn: Connection, name: str, alias: str, to: int | str | None
    ) -> tuple[Any, Locked, str]:
        """The alias's current state, the rollback target and why it was chosen."""
        current = alias_rows.target(conn, name, alias)
        if current is None:
            raise NotFound(f"model {name!r} not found")
        policy = self.gov.policy(conn)
        if not policy.graph.is_serving(alias):
            # Rollback makes its target deployed: only a serving alias may do that.
            raise InvalidInput(
                f"{alias!r} is not a serving alias (serving: "
                f"{', '.join(policy.serving_aliases)}): rollback moves a serving alias; "
                "move this one with `modelbook alias set`"
            )
        if current.current is None:
            raise NotFound(f"alias models:/{name}@{alias} not found: there is nothing to roll back")
        ready = policy.graph.return_stage
        chain = Chain(log.Head.of_model(name, current))
        if to is not None:
            ref = version_ref(name, to)
            target = self.release.lock(conn, str(ref), chain)
            if target.row.number == current.current:
                raise InvalidInput(f"models:/{name}@{alias} already points at {target.version.uri}")
            if target.row.stage != ready or target.row.deprecated_at is not None:
                raise InvalidInput(
                    f"{target.version.uri} is {target.row.stage!r}"
                    + (" and deprecated" if target.row.deprecated_at is not None else "")
                    + f": a rollback target must be {ready!r} and not deprecated"
                )
            return current, target, f"version {target.row.number} was named with --to"
        earlier: list[int] = []
        for move_ in alias_rows.history(conn, name, current.model_id, alias, limit=1000):
            n = move_.from_version
            if n is not None and n != current.current and n not in earlier:
                earlier.append(n)
        skipped: list[str] = []
        eligible: list[Locked] = []
        for n in earlier:
            v = self.release.lock(conn, f"models:/{name}/{n}", chain)
            if v.row.deprecated_at is not None:
                skipped.append(f"{n} (deprecated)")
            elif v.row.stage != ready:
                skipped.append(f"{n} ({v.row.stage})")
            else:
                eligible.append(v)
        if not eligible:
            held = ", ".join(skipped) if skipped else "none"
            raise NotFound(
                f"no known-good version to roll models:/{name}@{alias} back to: earlier holders "
                f"{held}; name one with --to VERSION (it must be {ready!r} and not deprecated)"
            )
        found = note_rows.of_versions(conn, [int(v.row.id) for v in eligible], ("health",))
        signals: dict[int, str] = {}
        for r, h in zip(found, notes.parse_rows(found)["health"], strict=True):
            signals[int(r.version_id)] = h.signal
        skipped_text = f"; skipped {', '.join(skipped)}" if skipped else ""
        for v in eligible:
            if int(v.row.id) in signals:
                return (
                    current,
                    v,
                    f"version {v.row.number} is the most recent earlier holder of @{alias} that "
                    f"is {ready} and not deprecated, and was marked healthy "
                    f"({signals[int(v.row.id)]!r}){skipped_text}",
                )
        v = eligible[0]
        return (
            current,
            v,
            f"version {v.row.number} is the most recent earlier holder of @{alias} that is "
            f"{ready} and not deprecated (none was marked healthy){skipped_text}",
        )

    def rollback(
        self,
        name: str,
        *,
        actor: str,
        alias: str = "production",
        reason_code: str,
        note: str | None = None,
        to: int | str | None = None,
        dry_run: bool = False,
        expect: int | None = None,
    ) -> RollbackPlan:
        """Move ``alias`` back to the last known-good version, in one transaction.

        Without ``to`` the target is the most recent earlier holder of the alias
        that is approved and not deprecated, preferring one marked healthy. The
        version rolled back from is marked deprecated with the incident note.
        ``expect`` (default: the holder seen when the call starts) makes a
        concurrent rollback of the same alias a :class:`Conflict` instead of a
        second step back. Raises NotFound (no alias, no known-good target),
        InvalidInput, Conflict, PermissionDenied.
        """
        validation.model_name(name)
        validation.alias_name(alias)
        code = reason_code_of(reason_code)
        text = None if note is None else validation.text(note, "note", validation.MAX_TEXT_LEN)
        if dry_run:
            with self.ctx.db.read() as conn:
                current, target, why = self.plan(conn, name, alias, to)
            return RollbackPlan(name, alias, current.current, target.row.number, code, why, True)
        if expect is None:
            seen = self.ctx.db.reading(lambda c: alias_rows.target(c, name, alias))
            expect = None if seen is None or seen.current is None else int(seen.current)
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            current, target, why = self.plan(conn, name, alias, to)
            self.gov.require(conn, "rollback", actor, at=now)
            check_expect(name, alias, current.current, expect)
            policy = self.gov.policy(conn)
            chain = target.chain
            reason = f"rollback ({code})" + (f": {text}" if text else "")
            self._point(conn, policy, chain, name, alias, current, target, actor, reason, now)
            bad = self.release.lock(conn, f"models:/{name}/{current.current}", chain)
            if bad.row.deprecated_at is None:
                self.release.mark_deprecated(conn, bad, actor, reason)
            if text:
                incident = Comment(actor=actor, text=text, at=to_dt(now), kind="incident")
                chain.head = notes.record(
                    conn,
                    bad.row,
                    name,
                    incident,
                    "comment",
                    action="version.comment",
                    head=chain.head,
                )
            chain.head = log.record(
                conn,
                chain.head,
                actor=actor,
                at=now,
                action="version.rollback",
                subject=log.subject_of(name, alias=alias),
                model=name,
                version=target.row.number,
                before={"alias": alias, "version": current.current},
                after={"alias": alias, "version": target.row.number, "why": why, "note": text},
                reason=code,
            )
        return RollbackPlan(name, alias, current.current, target.row.number, code, why, False)

    def drill(
        self, name: str, *, actor: str, alias: str = "production", to: int | str | None = None
    ) -> DrillReport:
        """Prove the rollback target is ready without moving anything, and record the drill.

        Rehashes the target's artifacts, checks its stage and deprecation, and
        reports its smoke test (no loader exists for any flavor yet).
        """
        validation.model_name(name)
        validation.alias_name(alias)
        # The role first: rehashing a large model is work an unauthorised call
        # must not cause.
        with self.ctx.db.write() as conn:
            self.gov.require(conn, "drill", actor, at=self.ctx.clock())
        with self.ctx.db.read() as conn:
            current, target, why = self.plan(conn, name, alias, to)
            policy = self.gov.policy(conn)
        checks: list[str] = []
        problems: list[str] = []
        stage_ok = (
            target.row.stage == policy.graph.return_stage and target.row.deprecated_at is None
        )
        deprecated = "deprecated" if target.row.deprecated_at else "not deprecated"
        (checks if stage_ok else problems).append(f"stage {target.row.stage!r}, {deprecated}")
        for a in target.version.artifacts:
            bad = self.ctx.blobs.check(a.sha256, a.size)
            if bad is None:
                checks.append(f"artifact {a.path}: sha256 verified ({a.size} bytes)")
            else:
                problems.append(f"artifact {a.path}: {bad}")
        checks.append("smoke test: no loader for this flavor yet (not run)")
        ready = not problems
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            # The files were checked outside the write (it could take long);
            # the drill is recorded only if the plan still holds.
            again, v, _ = self.plan(conn, name, alias, to)
            if (again.current, v.row.number) != (current.current, target.row.number):
                raise Conflict(
                    f"models:/{name}@{alias} moved while the drill ran "
                    f"(it now points at {again.current}); run the drill again"
                )
            value = notes.Drill(
                alias=alias,
                ready=ready,
                checks=tuple(checks + problems),
                actor=actor,
                at=to_dt(now),
            )
            notes.record(conn, v.row, name, value, "drill", action="version.drill", head=v.head)
        return DrillReport(
            name,
            alias,
            current.current,
            target.row.number,
            why,
            ready,
            tuple(checks),
            tuple(problems),
        )

    def mark_healthy(
        self, uri: str, *, actor: str, signal: str, alias: str | None = None
    ) -> Health:
        """Record that a deployed version ran healthy, and the signal that showed it."""
        text = validation.reason(signal, "signal", "--signal")
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            v = self.release.lock(conn, uri)
            self.gov.require(conn, "mark_healthy", actor, at=now)
            if v.row.stage != DEPLOYED:
                raise InvalidInput(
                    f"{v.version.uri} is {v.row.stage!r}: only a deployed version can be marked "
                    "healthy"
                )
            value = Health(signal=text, alias=alias, actor=actor, at=to_dt(now))
            notes.record(
                conn, v.row, v.name, value, "health", action="version.healthy", head=v.head
            )
        return value


def reason_code_of(code: str) -> str:
    if code is None or not str(code).strip():
        raise InvalidInput("a rollback needs a reason code (--reason-code CODE, e.g. kpi_drop)")
    return reason_code(code)


__all__ = ["Conflict", "DrillReport", "RollbackPlan", "ServingService", "Version"]
