"""Gate evaluation: checks run before the write, against what they were read from.

A gate's checks may be slow (a custom check calling a feature store, a smoke
test loading a model) and a custom check is user code that may hang. Run
inside the write, they would hold the registry's write lock (SQLite has one
writer) or the model's row lock all that time, and every other writer would
wait and fail "busy". So every gated operation (promote and ``--auto``, the
gate an approval or a sign-off tries, deploy, ``alias set`` and ``alias swap``
of a serving alias) runs through :meth:`Gates.run`:

1. plan it in a short write: the refusals of the operation, and what each
   gate's checks consult (:class:`Inputs`). With no gate to evaluate (an
   alias that serves nothing) the same write applies it and that is all;
   otherwise it ends with nothing written;
2. evaluate the gates with no transaction open;
3. plan it again inside a second short write, and compare the state the evaluation
   read (:attr:`Inputs.basis`: the version's row, the model, the policy, the
   actor's roles, the versions the aliases serve, the reviews, sign-offs,
   smoke tests and observations) with the state now. Unchanged: the write
   records the evaluations and moves. Changed: nothing is written and the
   gates are evaluated again, at most :data:`ATTEMPTS` times in all; then
   :class:`~modelbook.errors.Conflict`.

Rollback and removing a serving alias apply only the ``deployed`` gate's
``actor`` checks (:func:`.servable.check_mover`): built-in, pure functions of
the values read in their write, never user code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from sqlalchemy.engine import Connection

from .. import smoke, uris
from ..annotations import Observation
from ..checks import CheckContext, GateOutcome, evaluate_gate
from ..domain import Model, Version
from ..errors import Conflict
from ..policy import Policy
from ..store import aliases as alias_rows
from ..store import annotations as note_rows
from ..store import governance as governance_rows
from ..store import models as model_rows
from ..store import version_records
from ..store import versions as version_rows
from ..store.rows import to_dt
from . import audit as log
from . import contracts, loading, notes
from .base import Context, version_row
from .governance import GovernanceService

ATTEMPTS = 3
"""Evaluations of one operation's gates before a state that keeps changing is a Conflict."""


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
    model's chain, shared by every version of the model touched in the write.
    """

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


def lock(conn: Connection, uri: str, at: int, chain: Chain | None = None) -> Locked:
    """Read the version ``uri`` names, locking the model and the version.

    ``chain``: the model's chain when an earlier statement of this write
    already moved it; else it is read with the version and starts at ``at``.
    """
    ref = uris.parse(uri)
    row = version_row(conn, ref, lock=True, with_model=True)
    return Locked(
        ref.name,
        row,
        version_records.version_from_row(ref.name, row),
        chain or Chain(log.Head.of_model(ref.name, row), at),
    )


@dataclass(frozen=True)
class Inputs:
    """What the checks of one version's gates consult, as read, and ``basis``: the state
    it was read from, compared again inside the write."""

    model: Model
    roles: frozenset[str]
    served: dict[str, Version]
    found: dict[str, list[Any]]
    observations: dict[int, tuple[Observation, ...]]
    basis: tuple[Any, ...] = field(repr=False)


@dataclass(frozen=True)
class Ask:
    """The gates one version of a plan must pass, in order: ``targets`` (stages)."""

    version: Locked
    inputs: Inputs
    policy: Policy
    targets: tuple[str, ...]


class Plan(Protocol):
    """What an operation's planning returns: its gates and the rest of its state."""

    @property
    def asks(self) -> Sequence[Ask]: ...

    @property
    def state(self) -> Any:
        """The operation's own state the write depends on (an alias's holder ...)."""
        ...


P = TypeVar("P", bound=Plan)
T = TypeVar("T")
Judged = tuple[tuple[GateOutcome, ...], ...]
"""Per ask of a plan, the outcomes of its gates, in order, up to the first refused one."""


def _row_state(row: Any) -> tuple[Any, ...]:
    # The row's identity and every mutable column a check may read through the version.
    return (int(row.id), row.created_at, row.stage, row.tags, row.aliases, row.deprecated_at)


class Gates:
    def __init__(self, ctx: Context, governance: GovernanceService) -> None:
        self.ctx = ctx
        self.gov = governance

    def inputs(self, conn: Connection, v: Locked, roles: frozenset[str]) -> Inputs:
        """Everything the checks may consult about ``v``, and the state it was read from."""
        model_row = model_rows.find(conn, v.name)
        model = model_rows.model_from_row(model_row)
        policy = self.gov.policy(conn)
        served: dict[str, Version] = {}
        numbers = {int(v.row.id): int(v.row.number)}
        served_state: list[Any] = []
        pointed = {a.name: a.version for a in alias_rows.of_model(conn, v.name, v.row.model_id)}
        for alias in policy.serving_aliases:
            if alias not in pointed:
                # A serving alias removed a moment ago still sets the bar: the
                # version it served last, so removing it cannot switch off `compare`.
                moves = alias_rows.history(conn, v.name, alias, limit=1)
                if moves and moves[0].from_version is not None:
                    pointed[alias] = moves[0].from_version
        for name, number in sorted(pointed.items()):
            row = version_rows.find(conn, v.name, "number", str(number))
            if row is not None:
                served[name] = self.ctx.cache.version(v.name, row)
                numbers[int(row.id)] = int(row.number)
                served_state.append((name, _row_state(row)))
        kinds = ("approval", "rejection", "attestation", "smoke")
        own = note_rows.of_versions(conn, [int(v.row.id)], kinds)
        observed = note_rows.of_versions(conn, list(numbers), ("observation",))
        by_number: dict[int, list[Observation]] = {}
        for r, obs in zip(observed, notes.parse_rows(observed)["observation"], strict=True):
            by_number.setdefault(numbers[int(r.version_id)], []).append(obs)
        return Inputs(
            model=model,
            roles=roles,
            served=served,
            found=notes.parse_rows(own),
            observations={k: tuple(o) for k, o in by_number.items()},
            basis=(
                governance_rows.current_policy_sha256(conn),
                model,
                roles,
                _row_state(v.row),
                tuple(served_state),
                tuple(int(r.id) for r in own),
                tuple(int(r.id) for r in observed),
            ),
        )

    def context(self, v: Locked, inputs: Inputs, target: str, actor: str) -> CheckContext:
        """The checks' context for ``v`` entering ``target``, at the time of evaluation."""
        found = inputs.found
        return CheckContext(
            model=inputs.model,
            target_stage=target,
            actor=actor,
            actor_roles=inputs.roles,
            served=inputs.served,
            approvals=tuple(found["approval"]),
            rejections=tuple(found["rejection"]),
            attestations=tuple(found["attestation"]),
            observations=inputs.observations,
            now=to_dt(self.ctx.clock()),
            smoke_test=smoke.recorded(found["smoke"]),
            sample=contracts.sample_reader(self.ctx.blobs.read_verified),
            scan=loading.scanner(self.ctx.blobs.read_verified),
        )

    def judge(self, asks: Sequence[Ask], actor: str) -> Judged:
        """Evaluate every ask's gates in order, stopping after the first refused one.

        Runs outside any transaction: a check may take as long as it takes.
        """
        judged: list[tuple[GateOutcome, ...]] = []
        stop = False
        for ask in asks:
            outcomes: list[GateOutcome] = []
            for target in () if stop else ask.targets:
                ctx = self.context(ask.version, ask.inputs, target, actor)
                gate = ask.policy.gate(ask.inputs.model.risk_tier, target)
                outcome = evaluate_gate(gate, ask.version.version, ctx)
                outcomes.append(outcome)
                if not outcome.passed:
                    stop = True
                    break
            judged.append(tuple(outcomes))
        return tuple(judged)

    def record(self, conn: Connection, v: Locked, outcome: GateOutcome, actor: str) -> None:
        """Store an evaluation's evidence and its event on the version, at the write's time."""
        at = to_dt(v.chain.at)
        value = notes.Evaluation(
            target_stage=outcome.target_stage,
            passed=outcome.passed,
            records=outcome.records(actor=actor, at=at),
            actor=actor,
            at=at,
        )
        v.head = notes.record(
            conn, v.row, v.name, value, "evaluation", action="version.evaluate", head=v.head
        )

    def run(
        self,
        what: str,
        actor: str,
        plan: Callable[[Connection], P],
        apply: Callable[[Connection, P, Judged], T],
    ) -> T:
        """Run a gated operation (see the module): ``plan(conn)`` reads and refuses
        as the operation does, inside a write; ``apply`` writes with the evaluations
        made in between. A plan with no gate to evaluate is applied in the write
        that planned it; otherwise the write that planned it ends with nothing
        written, the gates are evaluated, and a second write plans again and
        applies if what the gates read is unchanged.

        ``what`` names the operation for the Conflict raised when the state the
        gates read changed on each of :data:`ATTEMPTS` evaluations; nothing is
        written then.
        """
        with self.ctx.db.write() as conn:
            seen = plan(conn)
            # Most alias moves have no gate to pass (an alias that serves nothing):
            # they are planned and written in one transaction, as any write is.
            if not seen.asks:
                return apply(conn, seen, ())
        for _ in range(ATTEMPTS):
            judged = self.judge(seen.asks, actor)
            with self.ctx.db.write() as conn:
                now = plan(conn)
                # No gate to pass any more (the version got there meanwhile): nothing
                # judged is relied on.
                if not now.asks:
                    return apply(conn, now, ())
                if _basis(now) == _basis(seen):
                    return apply(conn, now, judged)
            seen = now
        raise Conflict(
            f"{what}: what its gate checks changed while they ran, {ATTEMPTS} times in a row "
            "(another review, stage move, alias move or policy change); nothing was written: "
            "run it again"
        )


def _basis(plan: Plan) -> tuple[Any, ...]:
    return (
        plan.state,
        tuple((a.version.row.number, a.targets, a.inputs.basis) for a in plan.asks),
    )
