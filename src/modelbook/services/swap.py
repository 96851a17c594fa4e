"""Swaps: two aliases exchange the versions they point at, in one transaction.

A serving alias among the two moves under the deploy rule of
:mod:`.serving`: the version it receives must be approved (or deployed), not
deprecated, and pass the gate of ``deployed``, and the actor must be a
deployer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from .. import validation
from ..domain import Alias
from ..errors import GateFailed, InvalidInput, NotFound
from ..lifecycle import DEPLOYED
from ..policy import Policy
from ..store import aliases as alias_rows
from . import audit as log
from .aliases import alias_of, move
from .base import Context
from .gates import Ask, Chain, Judged
from .governance import GovernanceService
from .release import ReleaseService
from .serving import ServingService


@dataclass(frozen=True)
class SwapPlan:
    """A planned swap: the gates of the versions serving aliases receive, and the two
    aliases' rows as read."""

    asks: tuple[Ask, ...]
    state: Any
    a: Any
    b: Any
    policy: Policy
    chain: Chain


class SwapService:
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

    def swap(
        self,
        name: str,
        first: str,
        second: str,
        *,
        actor: str,
        reason: str,
        allow_major: bool = False,
    ) -> list[Alias]:
        """Exchange the versions two aliases point at, in one transaction.

        A pinned alias that would receive a version of another MAJOR refuses
        the swap (InvalidInput) unless ``allow_major``.

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

        def plan(conn: Connection) -> SwapPlan:
            a = alias_rows.target(conn, name, first, lock=True)
            if a is None:
                raise NotFound(f"model {name!r} not found")
            b = alias_rows.target(conn, name, second, lock=True)
            for t, alias in ((a, first), (b, second)):
                if t.current is None:
                    raise NotFound(f"alias models:/{name}@{alias} not found")
            policy = self.gov.policy(conn)
            serving = policy.graph.is_serving(first) or policy.graph.is_serving(second)
            chain = Chain(log.Head.of_model(name, b), self.ctx.clock())
            # Moving an alias that serves nothing is open to every local user:
            # no roles to read.
            roles = self.gov.require(conn, "deploy", actor, at=chain.at) if serving else frozenset()
            state = (a.current, a.current_id, b.current, b.current_id)
            if a.current == b.current:
                return SwapPlan((), state, a, b, policy, chain)
            receiving = [
                self.release.lock(conn, f"models:/{name}/{gets.current}", chain)
                for alias, gets in ((first, b), (second, a))
                if policy.graph.is_serving(alias)
            ]
            for v in receiving:
                self.release.require_deployable(conn, v)
                if v.row.stage != DEPLOYED:
                    policy.graph.check_move(v.row.stage, DEPLOYED, via="deploy")
            asks = tuple(
                Ask(v, self.release.gates.inputs(conn, v, roles), policy, (DEPLOYED,))
                for v in receiving
            )
            return SwapPlan(asks, state, a, b, policy, chain)

        def apply(conn: Connection, p: SwapPlan, judged: Judged) -> list[Alias] | GateFailed:
            a, b = p.a, p.b
            if a.current != b.current:
                for ask, outcomes in zip(p.asks, judged, strict=True):
                    for outcome in outcomes:
                        self.release.gates.record(conn, ask.version, outcome, actor)
                        refused = outcome.refusal(ask.version.version)
                        if refused is not None:
                            return refused
                self._exchange(
                    conn,
                    p.policy,
                    p.chain,
                    name,
                    first,
                    second,
                    a,
                    b,
                    actor,
                    why,
                    p.chain.at,
                    allow_major,
                )
            # Both pointing at one version, nothing moves, as when an alias is set to
            # the version it already names.
            return [
                alias_of(conn, name, a.model_id, first),
                alias_of(conn, name, a.model_id, second),
            ]

        done = self.release.gates.run(
            f"swap models:/{name}@{first} and @{second}", actor, plan, apply
        )
        if isinstance(done, GateFailed):
            raise done
        return done

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
        allow_major: bool,
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
                from_version_id=had.current_id,
                to_number=gets.current,
                to_version_id=gets.current_id,
                actor=actor,
                reason=why,
                at=now,
                override=why if allow_major else None,
            )
        for alias, had, gets in ((first, a, b), (second, b, a)):
            if policy.graph.is_serving(alias):
                v = self.release.lock(conn, f"models:/{name}/{gets.current}", chain)
                self.release.set_stage(conn, v, DEPLOYED, actor, why)
                self.serving.deployed_event(
                    conn, chain, name, alias, had.current, gets.current, actor, why, now
                )
        for alias, had in ((first, a), (second, b)):
            if policy.graph.is_serving(alias):
                self.serving.unserve(conn, policy, chain, name, a.model_id, had.current, actor, why)
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
