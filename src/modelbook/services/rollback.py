"""Rollback: move a serving alias back to the last known-good version.

Rollback needs no rebuild: it moves the alias back to a version that was
approved before, records the reason code and incident note, and marks the bad
version deprecated, in one transaction. The target is chosen by
:class:`.rollback_target.RollbackTargets` (damaged candidates skipped); a
drill (:mod:`.rollback_drill`) proves it ready ahead of time. A dry run
refuses exactly what the rollback itself would refuse: they ask the same rules
(:func:`.servable.crossing` for the contract pin, :func:`.servable.check_files`
for the target's files, :func:`.servable.check_mover` for who may move the alias).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import validation
from ..annotations import Comment
from ..errors import GateFailed, InvalidInput
from ..store import aliases as alias_rows
from ..store.rows import to_dt
from . import audit as log
from . import notes
from .base import Context
from .gates import Locked
from .governance import GovernanceService
from .release import ReleaseService
from .rollback_target import Choice, RollbackTargets, Skipped, file_judge
from .servable import check_mover, crossing, pin_text
from .serving import ServingService


@dataclass(frozen=True)
class RollbackPlan:
    """What a rollback does (or, with ``dry_run``, would do), and why that target.

    ``pin`` says how the move crosses the alias's contract pin, allowed by
    ``allow_major`` (None: it crosses none). ``forced``: the problems of the
    target's files that ``force`` let the rollback go past (empty: none).
    ``skipped``: the known-good versions passed over because their files are
    damaged, and how. ``verified``: the files were rehashed, not only sized.
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
    skipped: tuple[Skipped, ...] = ()
    verified: bool = False


class RollbackService:
    def __init__(
        self,
        ctx: Context,
        governance: GovernanceService,
        release: ReleaseService,
        serving: ServingService,
        targets: RollbackTargets,
    ) -> None:
        self.ctx = ctx
        self.gov = governance
        self.release = release
        self.serving = serving
        self.targets = targets

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
        verify: bool = False,
    ) -> RollbackPlan:
        """Move ``alias`` back to the last known-good version, in one transaction.

        Without ``to`` the target is the most recent earlier holder of the alias
        that is approved (or deployed through another serving alias, which it then
        also serves) and not deprecated, preferring one marked healthy, and
        whose files are sound: a candidate whose files are damaged is skipped
        (named in ``skipped``, the ``why`` and the event). The version rolled
        back from is marked deprecated with the incident note. ``expect``
        (default: the holder seen when the call starts) makes a concurrent
        rollback of the same alias a :class:`Conflict` instead of a second step
        back. A target of another MAJOR than the alias's contract pin is refused
        unless ``allow_major`` with ``reason`` (recorded as the override's).

        The files are checked before anything moves (:func:`.servable.check_files`):
        every blob present with its recorded size, and with ``verify`` also
        rehashed against its recorded sha256 (read in full, before the write
        transaction). The ``deployed`` gate's ``actor`` checks judge ``actor``
        (:func:`.servable.check_mover`). Raises NotFound (no alias, no
        known-good target), InvalidInput (also ``allow_major`` without
        ``reason``, or ``reason`` without ``allow_major``), Conflict,
        PermissionDenied, GateFailed (an ``actor`` check refused, or the
        target named by ``to``, or every candidate, has damaged files, unless
        ``force``: the first choice's problems are then recorded with the
        rollback and in ``forced``). Nothing is written when it raises.
        """
        validation.model_name(name)
        validation.alias_name(alias)
        code = reason_code_of(reason_code)
        override = major_override(allow_major, reason)
        text = None if note is None else validation.text(note, "note", validation.MAX_TEXT_LEN)
        checked: dict[int, tuple[str, ...]] = {}
        files = file_judge(self.ctx, verify=verify, seen=checked)
        if dry_run:
            with self.ctx.db.read() as conn:
                if verify:
                    # Rehashing a large model is work an unauthorised call must not cause.
                    self.gov.check(conn, "rollback", actor)
                chosen = self.targets.choose(conn, name, alias, to, files, expect)
                # What the rollback below refuses, in its order, without writing.
                self.gov.check(conn, "rollback", actor)
                roles = self.gov.roles_of(conn, actor)
                target = chosen.target
                check_mover(conn, target, self.gov.policy(conn), actor, roles, _doing(target))
                crossed = crossing(conn, name, alias, chosen.current, target, override)
                forced = _servable(name, alias, chosen, force)
            return _plan(name, alias, chosen, code, True, pin_text(crossed), forced, verify)
        if expect is None:
            seen = self.ctx.db.reading(lambda c: alias_rows.target(c, name, alias))
            expect = None if seen is None or seen.current is None else int(seen.current)
        if verify:
            # Rehashing reads every byte: done here, outside the write transaction,
            # so that the write below finds its results in ``checked``.
            with self.ctx.db.read() as conn:
                self.gov.check(conn, "rollback", actor)
                self.targets.choose(conn, name, alias, to, files, expect)
        with self.ctx.db.write() as conn:
            chosen = self.targets.choose(conn, name, alias, to, files, expect)
            current, target = chosen.current, chosen.target
            now = target.chain.at
            roles = self.gov.require(conn, "rollback", actor, at=now)
            policy = self.gov.policy(conn)
            check_mover(conn, target, policy, actor, roles, _doing(target))
            # The move below applies the same rule again; this names the crossing.
            crossed = crossing(conn, name, alias, current, target, override)
            # Last of the refusals and before any write: a refused rollback leaves the
            # alias, the stages and the deprecation of the current version as they were.
            forced = _servable(name, alias, chosen, force)
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
            skipped = [{"version": s.version, "problems": list(s.problems)} for s in chosen.skipped]
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
                    "why": chosen.why,
                    "note": text,
                    **({"forced": list(forced)} if forced else {}),
                    **({"skipped": skipped} if skipped else {}),
                    **({"verified": True} if verify else {}),
                },
                reason=code,
            )
        return _plan(name, alias, chosen, code, False, pin_text(crossed), forced, verify)


def _plan(
    name: str,
    alias: str,
    chosen: Choice,
    code: str,
    dry_run: bool,
    pin: str | None,
    forced: tuple[str, ...],
    verified: bool,
) -> RollbackPlan:
    return RollbackPlan(
        name,
        alias,
        chosen.current.current,
        chosen.target.row.number,
        code,
        chosen.why,
        dry_run,
        pin,
        forced,
        chosen.skipped,
        verified,
    )


def _servable(name: str, alias: str, chosen: Choice, force: bool) -> tuple[str, ...]:
    """The problems of the target's files that ``force`` goes past (empty when there
    are none); GateFailed naming them when there are some and no ``force``."""
    problems = chosen.problems
    if not problems:
        return ()
    if force:
        return problems
    target = chosen.target
    if not chosen.damaged:
        raise GateFailed(
            f"{target.version.uri} cannot serve: {len(problems)} of its files "
            f"{'is' if len(problems) == 1 else 'are'} not as registered; nothing was moved "
            "or deprecated",
            items=problems,
            hint="name another target with --to VERSION, or, if the serving side has the "
            "files, roll back anyway with --force (recorded with the rollback)",
        )
    raise GateFailed(
        f"no known-good version can serve models:/{name}@{alias}: the files of "
        + (
            "the only candidate"
            if len(chosen.damaged) == 1
            else f"each of the {len(chosen.damaged)} candidates"
        )
        + " are not as registered; nothing was moved or deprecated",
        items=[
            f"models:/{name}/{d.version} cannot serve: {p}"
            for d in chosen.damaged
            for p in d.problems
        ],
        hint="name another target with --to VERSION, or, if the serving side has the files, "
        f"roll back to {target.version.uri} anyway with --force (recorded with the rollback)",
    )


def _doing(target: Locked) -> str:
    return f"roll back to {target.version.uri}"


def major_override(allow_major: bool, reason: str | None) -> str | None:
    """The override reason of a rollback across a contract pin, or None; InvalidInput when
    ``allow_major`` and ``reason`` do not come together."""
    if not allow_major:
        if reason is not None:
            raise InvalidInput("--reason is the reason of --allow-major: give both or neither")
        return None
    return validation.reason(reason, "reason of --allow-major", "--reason")


def reason_code_of(code: str) -> str:
    """A rollback reason code such as ``kpi_drop`` (a key: letters, digits, ``_ . : / -``);
    InvalidInput when it is missing or not a key."""
    if code is None or not str(code).strip():
        raise InvalidInput("a rollback needs a reason code (--reason-code CODE, e.g. kpi_drop)")
    return validation.key(code, "reason code")
