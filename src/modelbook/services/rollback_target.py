"""Choosing a rollback target: the last known-good version that can serve.

Without ``--to`` the candidates are the earlier holders of the serving alias
that are approved (or deployed through another serving alias), not
deprecated and with no unanswered rejection, those marked healthy first, each
group most recent first. A candidate whose files are damaged (the check of
:func:`.servable.check_files`: missing or resized, or with ``verify`` not hashing
to their recorded sha256)
is skipped, and the choice says which it skipped and why; the first
candidate is returned with its problems only when none can serve, so that the
rollback refuses (or, forced, goes past them) and the drill reports them.
``--to`` names the target: it is checked, never replaced by another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from ..errors import InvalidInput, NotFound
from ..lifecycle import DEPLOYED
from ..policy import Policy
from ..store import aliases as alias_rows
from ..store import annotations as note_rows
from . import audit as log
from . import notes
from .aliases import check_expect
from .base import Context, version_ref
from .gates import Chain, Locked
from .release import OnRelease, rejection_text
from .servable import check_files

# The problems of a candidate's files (empty: it can serve).
FileJudge = Callable[[Locked], tuple[str, ...]]


@dataclass(frozen=True)
class Skipped:
    """A known-good candidate passed over because its files are damaged, and how."""

    version: int
    problems: tuple[str, ...]


class NoKnownGood(NotFound):
    """No earlier holder of the alias is a rollback target (or there is none).

    ``holder``: the version the alias serves, locked with the model's chain (a
    drill that finds no target is recorded on it). ``passed_over``: each
    earlier holder, most recent first, with what kept it from being a target.
    """

    def __init__(self, message: str, holder: Locked, passed_over: tuple[tuple[int, str], ...]):
        super().__init__(message)
        self.holder = holder
        self.passed_over = passed_over


@dataclass(frozen=True)
class Choice:
    """The alias's state, the target and why it was chosen.

    ``skipped``: candidates preferred to the target whose files are damaged.
    ``problems``: the target's own file problems; not empty only when it was
    named with ``--to`` or no candidate can serve (then ``damaged`` lists every
    candidate examined, the target first). ``serving``: the other serving
    aliases that point at the target (it is then ``deployed``, not approved).
    """

    current: Any
    target: Locked
    why: str
    skipped: tuple[Skipped, ...] = ()
    problems: tuple[str, ...] = ()
    damaged: tuple[Skipped, ...] = ()
    serving: tuple[str, ...] = ()


def serving_elsewhere(
    conn: Connection, policy: Policy, name: str, model_id: int, alias: str
) -> dict[int, tuple[str, ...]]:
    """The versions other serving aliases than ``alias`` point at, each with those aliases."""
    found: dict[int, tuple[str, ...]] = {}
    for a in alias_rows.of_model(conn, name, model_id):
        if a.name != alias and a.version is not None and policy.graph.is_serving(a.name):
            found[int(a.version)] = (*found.get(int(a.version), ()), a.name)
    return found


def target_state(v: Locked, ready: str, serving: tuple[str, ...]) -> str | None:
    """What makes ``v`` a rollback target, as the ``why`` says it (its stage, and the
    aliases it serves when it is deployed), or None when its stage keeps it from being
    one. Deprecation is judged apart."""
    if v.row.stage == ready:
        return ready
    if v.row.stage == DEPLOYED and serving:
        # Still serving traffic through another serving alias: the warmest target of all,
        # and the stage rules already let one version serve two aliases.
        return f"{DEPLOYED} (serving {', '.join('@' + a for a in serving)})"
    return None


def file_judge(ctx: Context, *, verify: bool, seen: dict[int, tuple[str, ...]]) -> FileJudge:
    """The file check of a rollback: sizes by default, sha256 as well with ``verify``.

    ``seen`` keeps each version's result by id (a version's files never
    change in the registry), so that a rehash made before the write
    transaction is not made again inside it.
    """

    def judge(v: Locked) -> tuple[str, ...]:
        key = int(v.row.id)
        if key not in seen:
            seen[key] = check_files(ctx.blobs, v.version, rehash=verify).problems
        return seen[key]

    return judge


class RollbackTargets(OnRelease):
    def choose(
        self,
        conn: Connection,
        name: str,
        alias: str,
        to: int | str | None,
        files: FileJudge,
        expect: int | None = None,
    ) -> Choice:
        """The rollback target of ``alias`` (``to``, or the last known-good version whose
        files ``files`` finds sound). Raises NotFound (no alias, no known-good
        version), InvalidInput (not a serving alias, ``to`` not a rollback target),
        Conflict (``alias`` no longer points at version ``expect``: checked before
        a target is looked for, so that of two rollbacks at once the second is told
        the alias moved, not that nothing is left to roll back to)."""
        current = alias_rows.target(conn, name, alias)
        if current is None:
            raise NotFound(f"model {name!r} not found")
        policy = self.gov.policy(conn)
        if not policy.graph.is_serving(alias):
            # Rollback makes its target deployed: only a serving alias may do that.
            raise InvalidInput(
                f"{alias!r} is not a serving alias (serving: "
                f"{', '.join(policy.serving_aliases)}): rollback moves a serving alias; "
                f"move this one with `modelbook alias set {name} {alias} VERSION --reason TEXT`"
            )
        check_expect(name, alias, current.current, expect)
        if current.current is None:
            raise NotFound(f"alias models:/{name}@{alias} not found: there is nothing to roll back")
        ready = policy.graph.return_stage
        elsewhere = serving_elsewhere(conn, policy, name, int(current.model_id), alias)
        chain = Chain(log.Head.of_model(name, current), self.ctx.clock())
        earlier: list[int] = []
        for move_ in alias_rows.history(conn, name, alias, limit=1000):
            n = move_.from_version
            if n is not None and n != current.current and n not in earlier:
                earlier.append(n)
        if to is not None:
            target = self._named(
                conn, name, alias, to, chain, current.current, earlier, ready, elsewhere
            )
            why = f"version {target.row.number} was named with --to"
            serving = elsewhere.get(target.row.number, ())
            return Choice(current, target, why, problems=files(target), serving=serving)
        unfit: list[tuple[int, str]] = []
        eligible: list[Locked] = []
        states: dict[int, str] = {}
        for n in earlier:
            v = self.release.lock(conn, f"models:/{name}/{n}", chain)
            state = target_state(v, ready, elsewhere.get(n, ()))
            if v.row.deprecated_at is not None:
                unfit.append((n, "deprecated"))
            elif state is None:
                unfit.append((n, str(v.row.stage)))
            elif self.release.open_rejection(conn, v) is not None:
                unfit.append((n, "rejected"))
            else:
                states[n] = state
                eligible.append(v)
        passed_over = [f"{n} ({why})" for n, why in unfit]
        if not eligible:
            held = ", ".join(passed_over) if passed_over else "none"
            raise NoKnownGood(
                f"no known-good version to roll models:/{name}@{alias} back to: earlier holders "
                f"{held}; name one with --to VERSION (it must be {ready!r} and not deprecated)",
                self.release.lock(conn, f"models:/{name}/{current.current}", chain),
                tuple(unfit),
            )
        found = note_rows.of_versions(conn, [int(v.row.id) for v in eligible], ("health",))
        signals: dict[int, str] = {}
        for r, h in zip(found, notes.parse_rows(found)["health"], strict=True):
            signals[int(r.version_id)] = h.signal
        healthy = [v for v in eligible if int(v.row.id) in signals]
        ordered = healthy + [v for v in eligible if int(v.row.id) not in signals]
        damaged: list[Skipped] = []
        for v in ordered:
            problems = files(v)
            if problems:
                damaged.append(Skipped(v.row.number, problems))
                continue
            skipped = tuple(damaged)
            passed_over += [f"{s.version} (files not as registered)" for s in skipped]
            text = "; skipped " + ", ".join(passed_over) if passed_over else ""
            # "servable" only when it decided: the usual message stays as it was.
            state = states[v.row.number]
            good = (
                f"{state}, not deprecated and servable"
                if skipped
                else f"{state} and not deprecated"
            )
            why = f"version {v.row.number} is the most recent earlier holder of @{alias} "
            why += f"that is {good}"
            if int(v.row.id) in signals:
                why += f", and was marked healthy ({signals[int(v.row.id)]!r}){text}"
            else:
                why += f" (none was marked healthy){text}"
            serving = elsewhere.get(v.row.number, ())
            return Choice(current, v, why, skipped=skipped, serving=serving)
        # None can serve: the preferred candidate, for the rollback to refuse or force.
        first = ordered[0]
        why = (
            f"version {first.row.number} is the most recent earlier holder of @{alias} that is "
            f"{states[first.row.number]} and not deprecated; no such version has its files as "
            "registered"
        )
        return Choice(
            current,
            first,
            why,
            problems=damaged[0].problems,
            damaged=tuple(damaged),
            serving=elsewhere.get(first.row.number, ()),
        )

    def _named(
        self,
        conn: Connection,
        name: str,
        alias: str,
        to: int | str,
        chain: Chain,
        current: int,
        earlier: list[int],
        ready: str,
        elsewhere: dict[int, tuple[str, ...]],
    ) -> Locked:
        target = self.release.lock(conn, str(version_ref(name, to)), chain)
        if target.row.number == current:
            raise InvalidInput(f"models:/{name}@{alias} already points at {target.version.uri}")
        if target.row.number not in earlier:
            # Rollback skips the deploy gate because its target passed it once.
            raise InvalidInput(
                f"{target.version.uri} never served models:/{name}@{alias}: a rollback "
                "goes back to a version that served it before; deploy this one instead "
                f"(`modelbook deploy {target.version.uri} --reason TEXT`)"
            )
        state = target_state(target, ready, elsewhere.get(target.row.number, ()))
        if state is None or target.row.deprecated_at is not None:
            raise InvalidInput(
                f"{target.version.uri} is {target.row.stage!r}"
                + (" and deprecated" if target.row.deprecated_at is not None else "")
                + f": a rollback target must be {ready!r} (or {DEPLOYED!r} through another "
                "serving alias) and not deprecated"
            )
        rejected = self.release.open_rejection(conn, target)
        if rejected is not None:
            raise InvalidInput(
                rejection_text(target.version.uri, rejected) + " is not a rollback target"
            )
        return target
