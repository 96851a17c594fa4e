"""Rollback: move a serving alias back to the last known-good version, and drills.

Rollback needs no rebuild: it moves the alias back to a version that was
approved before, records the reason code and incident note, and marks the bad
version deprecated, in one transaction. A drill proves the target is ready
(stage, artifacts rehashed, contract pin) without moving anything, so a team
can test rollback in quiet hours. A dry run and a drill refuse, or report,
exactly what the rollback itself would refuse: they ask the same rules
(:func:`.aliases.pin_crossing` for the contract pin, :func:`.servable.check_files`
for the target's files, :func:`.servable.check_mover` for who may move the alias).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from .. import pins, validation
from ..annotations import Comment
from ..errors import Conflict, GateFailed, InvalidInput, NotFound
from ..smoke import latest
from ..store import aliases as alias_rows
from ..store import annotations as note_rows
from ..store.rows import to_dt
from . import audit as log
from . import notes
from .aliases import check_expect, pin_crossing
from .base import Context, version_ref
from .governance import GovernanceService
from .release import Chain, Locked, ReleaseService, reason_code
from .servable import check_files, check_mover
from .serving import ServingService


@dataclass(frozen=True)
class RollbackPlan:
    """What a rollback does (or, with ``dry_run``, would do), and why that target.

    ``pin`` says how the move crosses the alias's contract pin, allowed by
    ``allow_major`` (None: it crosses none). ``forced``: the problems of the
    target's files that ``force`` let the rollback go past (empty: none).
    """

    model: str
    alias: str
    from_version: int
    to_version: int
    reason_code: str
    why: str
    dry_run: bool
    pin: str | None = None
    forced: tuple[str, ...] = ()


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


class RollbackService:
    def __init__(
        self,
        ctx: Context,
        governance: GovernanceService,
        release: ReleaseService,
        serving: ServingService,
    ) -> None:
        self.ctx = ctx
        self.gov = governance
        self.release = release
        self.serving = serving

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
        chain = Chain(log.Head.of_model(name, current), self.ctx.clock())
        earlier: list[int] = []
        for move_ in alias_rows.history(conn, name, alias, limit=1000):
            n = move_.from_version
            if n is not None and n != current.current and n not in earlier:
                earlier.append(n)
        if to is not None:
            ref = version_ref(name, to)
            target = self.release.lock(conn, str(ref), chain)
            if target.row.number == current.current:
                raise InvalidInput(f"models:/{name}@{alias} already points at {target.version.uri}")
            if target.row.number not in earlier:
                # Rollback skips the deploy gate because its target passed it once.
                raise InvalidInput(
                    f"{target.version.uri} never served models:/{name}@{alias}: a rollback "
                    "goes back to a version that served it before; deploy this one instead "
                    f"(`modelbook deploy {target.version.uri}`)"
                )
            if target.row.stage != ready or target.row.deprecated_at is not None:
                raise InvalidInput(
                    f"{target.version.uri} is {target.row.stage!r}"
                    + (" and deprecated" if target.row.deprecated_at is not None else "")
                    + f": a rollback target must be {ready!r} and not deprecated"
                )
            return current, target, f"version {target.row.number} was named with --to"
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
        allow_major: bool = False,
        reason: str | None = None,
        force: bool = False,
    ) -> RollbackPlan:
        """Move ``alias`` back to the last known-good version, in one transaction.

        Without ``to`` the target is the most recent earlier holder of the alias
        that is approved and not deprecated, preferring one marked healthy. The
        version rolled back from is marked deprecated with the incident note.
        ``expect`` (default: the holder seen when the call starts) makes a
        concurrent rollback of the same alias a :class:`Conflict` instead of a
        second step back. A target of another MAJOR than the alias's contract
        pin is refused unless ``allow_major`` with ``reason`` (recorded as the
        override's). Before anything moves, the target's files are checked
        (every blob present with its recorded size, :func:`.servable.check_files`)
        and the ``deployed`` gate's ``actor`` checks judge ``actor``
        (:func:`.servable.check_mover`). Raises NotFound (no alias, no
        known-good target), InvalidInput (also ``allow_major`` without
        ``reason``, or ``reason`` without ``allow_major``), Conflict,
        PermissionDenied, GateFailed (an ``actor`` check refused, or a file of
        the target is missing or of another size, unless ``force``: the
        problems are then recorded with the rollback and in ``forced``).
        Nothing is written when it raises.
        """
        validation.model_name(name)
        validation.alias_name(alias)
        code = reason_code_of(reason_code)
        override = major_override(allow_major, reason)
        text = None if note is None else validation.text(note, "note", validation.MAX_TEXT_LEN)
        if dry_run:
            with self.ctx.db.read() as conn:
                current, target, why = self.plan(conn, name, alias, to)
                # What the rollback below refuses, in its order, without writing.
                self.gov.check(conn, "rollback", actor)
                roles = self.gov.roles_of(conn, actor)
                check_expect(name, alias, current.current, expect)
                check_mover(conn, target, self.gov.policy(conn), actor, roles, _doing(target))
                crossed = self._crossing(conn, name, alias, current, target, override)
                forced = self._servable(target, force)
            return RollbackPlan(
                name,
                alias,
                current.current,
                target.row.number,
                code,
                why,
                True,
                _pin(crossed),
                forced,
            )
        if expect is None:
            seen = self.ctx.db.reading(lambda c: alias_rows.target(c, name, alias))
            expect = None if seen is None or seen.current is None else int(seen.current)
        with self.ctx.db.write() as conn:
            current, target, why = self.plan(conn, name, alias, to)
            now = target.chain.at
            roles = self.gov.require(conn, "rollback", actor, at=now)
            check_expect(name, alias, current.current, expect)
            policy = self.gov.policy(conn)
            check_mover(conn, target, policy, actor, roles, _doing(target))
            # The move below applies the same rule again; this names the crossing.
            crossed = self._crossing(conn, name, alias, current, target, override)
            # Last of the refusals and before any write: a refused rollback leaves the
            # alias, the stages and the deprecation of the current version as they were.
            forced = self._servable(target, force)
            chain = target.chain
            why_moved = f"rollback ({code})"
            if forced:
                why_moved += f", forced past: {'; '.join(forced)}"
            why_moved += f": {text}" if text else ""
            self.serving.point(
                conn, policy, chain, name, alias, current, target, actor, why_moved, now, override
            )
            bad = self.release.lock(conn, f"models:/{name}/{current.current}", chain)
            if bad.row.deprecated_at is None:
                self.release.mark_deprecated(conn, bad, actor, why_moved)
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
                after={
                    "alias": alias,
                    "version": target.row.number,
                    "why": why,
                    "note": text,
                    **({"forced": list(forced)} if forced else {}),
                },
                reason=code,
            )
        return RollbackPlan(
            name,
            alias,
            current.current,
            target.row.number,
            code,
            why,
            False,
            _pin(crossed),
            forced,
        )

    def _servable(self, target: Locked, force: bool) -> tuple[str, ...]:
        """The problems of the target's files that ``force`` goes past (empty when there
        are none); GateFailed naming them when there are some and no ``force``."""
        problems = check_files(self.ctx.blobs, target.version, rehash=False).problems
        if problems and not force:
            lines = [
                f"{target.version.uri} cannot serve: {len(problems)} of its files are not as "
                "registered; nothing was moved or deprecated"
            ]
            lines += [f"- {p}" for p in problems]
            lines.append(
                "name another target with --to VERSION, or, if the serving side has the "
                "files, roll back anyway with --force (recorded with the rollback)"
            )
            raise GateFailed("\n".join(lines))
        return problems if force else ()

    def _crossing(
        self,
        conn: Connection,
        name: str,
        alias: str,
        current: Any,
        target: Locked,
        override: str | None,
    ) -> pins.Override | None:
        return pin_crossing(
            conn, name, current.model_id, alias, target.row.number, int(target.row.id), override
        )

    def drill(
        self,
        name: str,
        *,
        actor: str,
        alias: str = "production",
        to: int | str | None = None,
        allow_major: bool = False,
    ) -> DrillReport:
        """Prove the rollback target is ready without moving anything, and record the drill.

        Rehashes the target's artifacts, checks its stage and deprecation and
        the alias's contract pin (a target of another MAJOR is a problem, as
        the rollback refuses it, unless ``allow_major``: the rollback will pass
        ``allow_major`` with a reason), and reports its last recorded smoke
        test (``modelbook smoke`` runs one).
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
            tested = notes.parse_rows(note_rows.of_version(conn, target.row.id, ("smoke",)))
            try:
                crossed = self._crossing(
                    conn, name, alias, current, target, "drill" if allow_major else None
                )
                refused = None
            except InvalidInput as exc:
                crossed, refused = None, str(exc)
        checks: list[str] = []
        problems: list[str] = []
        if refused is not None:
            problems.append(f"contract pin: {refused}")
        elif crossed is not None:
            checks.append(f"contract pin: {_pin(crossed)} (roll back with --allow-major --reason)")
        else:
            checks.append("contract pin: not crossed")
        stage_ok = (
            target.row.stage == policy.graph.return_stage and target.row.deprecated_at is None
        )
        deprecated = "deprecated" if target.row.deprecated_at else "not deprecated"
        (checks if stage_ok else problems).append(f"stage {target.row.stage!r}, {deprecated}")
        files = check_files(self.ctx.blobs, target.version, rehash=True)
        checks += files.checks
        problems += files.problems
        # The drill reports the last recorded smoke test; running one is `modelbook smoke`.
        last = latest(tested["smoke"])
        if last is None:
            checks.append("smoke test: none recorded (not run)")
        else:
            when = f"{last.at:%Y-%m-%d %H:%M}Z"
            if last.passed:
                checks.append(f"smoke test: last recorded passed at {when}")
            else:
                problems.append(f"smoke test: last recorded failed at {when}: {last.message}")
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


def _doing(target: Locked) -> str:
    return f"roll back to {target.version.uri}"


def _pin(crossed: pins.Override | None) -> str | None:
    if crossed is None:
        return None
    return (
        f"crosses the contract pin of @{crossed.alias}: major {crossed.pinned} -> "
        f"{crossed.to_major} ({crossed.to_semver}), allowed by --allow-major"
    )


def major_override(allow_major: bool, reason: str | None) -> str | None:
    """The override reason of a rollback across a contract pin, or None; InvalidInput when
    ``allow_major`` and ``reason`` do not come together."""
    if not allow_major:
        if reason is not None:
            raise InvalidInput("--reason is the reason of --allow-major: give both or neither")
        return None
    return validation.reason(reason, "reason of --allow-major", "--reason")


def reason_code_of(code: str) -> str:
    if code is None or not str(code).strip():
        raise InvalidInput("a rollback needs a reason code (--reason-code CODE, e.g. kpi_drop)")
    return reason_code(code)
