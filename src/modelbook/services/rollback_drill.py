"""Rollback drills: prove the rollback target is ready without moving anything.

A drill picks the target a rollback would pick (:class:`.rollback_target.RollbackTargets`,
with the rollback's size check), then checks its stage, the alias's contract
pin and its last recorded smoke test, and rehashes its files, so that a
corrupt target is found in quiet hours rather than in an incident. A drill
that finds no target at all is the worst failure of all: it is recorded, as
not ready, on the version the alias serves.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import validation
from ..errors import Conflict, InvalidInput
from ..smoke import latest
from ..store import annotations as note_rows
from ..store import models as model_rows
from ..store.rows import to_dt
from . import notes
from .base import Context
from .governance import GovernanceService
from .rollback_target import NoKnownGood, RollbackTargets, file_judge, target_state
from .servable import check_files, crossing, pin_text


@dataclass(frozen=True)
class DrillReport:
    """A rollback drill: the target it would choose and whether it is ready.

    ``to_version`` is None when there is no target at all (no earlier holder
    is a known-good version): the drill is then not ready, ``why`` says what
    was skipped and how to name a target, and it is recorded on ``from_version``.
    """

    model: str
    alias: str
    from_version: int
    to_version: int | None
    why: str
    ready: bool
    checks: tuple[str, ...]
    problems: tuple[str, ...]


class DrillService:
    def __init__(
        self, ctx: Context, governance: GovernanceService, targets: RollbackTargets
    ) -> None:
        self.ctx = ctx
        self.gov = governance
        self.targets = targets

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
        test (``modelbook smoke`` runs one). When no earlier holder of the
        alias is a known-good version the report is not ready, with no target,
        and the failed drill is recorded on the version the alias serves; a
        model or alias that does not exist (nothing serves) raises NotFound.
        """
        validation.model_name(name)
        validation.alias_name(alias)
        # The role first: rehashing a large model is work an unauthorised call
        # must not cause.
        with self.ctx.db.write() as conn:
            self.gov.require(conn, "drill", actor, at=self.ctx.clock())
        sizes: dict[int, tuple[str, ...]] = {}
        with self.ctx.db.read() as conn:
            row = model_rows.find(conn, name)
            if row is not None:
                # The rollback reads the model's row (its tier decides who may move the
                # alias): a row it cannot read fails the drill as it would the rollback.
                model_rows.model_from_row(row)
            try:
                chosen = self.targets.choose(
                    conn, name, alias, to, file_judge(self.ctx, verify=False, seen=sizes)
                )
            except NoKnownGood as none:
                holder: int | None = none.holder.row.number
            else:
                holder = None
                current, target = chosen.current, chosen.target
                policy = self.gov.policy(conn)
                tested = notes.parse_rows(note_rows.of_version(conn, target.row.id, ("smoke",)))
                try:
                    crossed = crossing(
                        conn, name, alias, current, target, "drill" if allow_major else None
                    )
                    refused = None
                except InvalidInput as exc:
                    crossed, refused = None, str(exc)
        if holder is not None:
            return self._no_target(name, alias, actor, holder)
        checks: list[str] = []
        problems: list[str] = []
        if refused is not None:
            problems.append(f"contract pin: {refused}")
        elif crossed is not None:
            checks.append(
                f"contract pin: {pin_text(crossed)} (roll back with --allow-major --reason)"
            )
        else:
            checks.append("contract pin: not crossed")
        state = target_state(target, policy.graph.return_stage, chosen.serving)
        stage_ok = state is not None and target.row.deprecated_at is None
        deprecated = "deprecated" if target.row.deprecated_at else "not deprecated"
        stage = f"stage {target.row.stage!r}"
        if chosen.serving:
            stage += f" (serving {', '.join('@' + a for a in chosen.serving)})"
        stage += f", {deprecated}"
        (checks if stage_ok else problems).append(stage)
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
            again = self.targets.choose(
                conn, name, alias, to, file_judge(self.ctx, verify=False, seen=sizes)
            )
            v = again.target
            if (again.current.current, v.row.number) != (current.current, target.row.number):
                raise Conflict(
                    f"models:/{name}@{alias} moved while the drill ran "
                    f"(it now points at {again.current.current}); run the drill again"
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
            chosen.why,
            ready,
            tuple(checks),
            tuple(problems),
        )

    def _no_target(self, name: str, alias: str, actor: str, holder: int) -> DrillReport:
        """Record the drill that found no rollback target, as not ready, on the version the
        alias serves (there is no target to record it on), and report it."""
        with self.ctx.db.write() as conn:
            try:
                # ``expect``: an alias moved since the read is a Conflict.
                again = self.targets.choose(conn, name, alias, None, lambda _: (), expect=holder)
            except NoKnownGood as none:
                problems = no_target_problems(alias, none)
                value = notes.Drill(
                    alias=alias,
                    ready=False,
                    checks=problems,
                    actor=actor,
                    at=to_dt(self.ctx.clock()),
                )
                v = none.holder
                notes.record(conn, v.row, name, value, "drill", action="version.drill", head=v.head)
                why = none.summary
            else:
                raise Conflict(
                    f"models:/{name}@{alias} has a rollback target again (version "
                    f"{again.target.row.number}), changed while the drill ran; run the drill again"
                )
        return DrillReport(name, alias, holder, None, why, False, (), problems)


def no_target_problems(alias: str, none: NoKnownGood) -> tuple[str, ...]:
    """What a drill that found no target reports: that, and each earlier holder it skipped."""
    if not none.passed_over:
        first = f"rollback target: none, @{alias} has no earlier holder to roll back to"
    else:
        first = f"rollback target: none, no earlier holder of @{alias} is a known-good version"
    return (first, *(f"skipped version {n}: {why}" for n, why in none.passed_over))
