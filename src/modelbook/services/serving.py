"""Serving: deploy, and alias moves under the serving rule.

A version is ``deployed`` exactly while a serving alias (``production`` by
default; the policy's ``serving_aliases``) points at it. Pointing a serving
alias at a version is a deployment wherever it is asked for (``deploy``,
``alias set``, ``alias swap``): the version must be approved and pass the gate
of ``deployed``, the actor must be a deployer, and the version the alias
leaves returns to ``approved``, ready for rollback. Swaps of two aliases are
:mod:`.swap`'s; rollback (:mod:`.rollback`) moves the alias back to the last
known-good version without rebuilding anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from .. import validation
from ..annotations import Health
from ..domain import Alias
from ..errors import GateFailed, InvalidInput, NotFound
from ..lifecycle import DEPLOYED
from ..policy import Policy
from ..store import aliases as alias_rows
from ..store.rows import to_dt
from . import audit as log
from . import notes
from .aliases import KnownPin, alias_of, check_expect, known_pin, move, pin_crossing, valid_expect
from .base import version_ref
from .gates import Ask, Chain, Judged, Locked
from .release import OnRelease
from .servable import check_mover


@dataclass(frozen=True)
class AliasPlan:
    """A planned move of one alias: the gate of the version a serving alias receives,
    and the alias's row (``target``) as read."""

    asks: tuple[Ask, ...]
    state: Any
    target: Any
    policy: Policy
    chain: Chain


class ServingService(OnRelease):
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
        allow_major: bool = False,
    ) -> Alias:
        """Point ``alias`` at a version; a serving alias only under the deploy rule.

        ``allow_major`` lets the alias cross its contract pin to another MAJOR
        (``reason`` is recorded as the override's). Raises NotFound, Conflict
        (``expect`` did not hold), InvalidInput (not approved, deprecated, the
        pin refused), GateFailed (the ``deployed`` gate refused; the
        evaluation is recorded), PermissionDenied.
        """
        validation.model_name(name)
        validation.alias_name(alias)
        why = validation.reason(reason)
        valid_expect(expect)
        override = why if allow_major else None
        ref = version_ref(name, version)

        def plan(conn: Connection) -> AliasPlan:
            target = alias_rows.target(conn, name, alias, ref.kind, ref.value, lock=True)
            if target is None:
                raise NotFound(f"model {name!r} not found")
            if target.version_id is None:
                raise NotFound(f"version {ref} not found")
            policy = self.gov.policy_of(conn, target.policy_sha256)
            serving = policy.graph.is_serving(alias)
            policy.graph.check_alias(alias)
            if require_serving and not serving:
                raise InvalidInput(
                    f"{alias!r} is not a serving alias (serving: "
                    f"{', '.join(policy.serving_aliases)}): use "
                    f"`modelbook alias set {name} {alias} {version} --reason TEXT`"
                )
            chain = Chain(log.Head.of_model(name, target), self.ctx.clock())
            # Moving an alias that serves nothing is open to every local user:
            # no roles to read.
            roles = self.gov.require(conn, "deploy", actor, at=chain.at) if serving else frozenset()
            check_expect(name, alias, target.current, expect)
            asks: tuple[Ask, ...] = ()
            if serving and target.current != target.number:
                new = self.release.lock(conn, f"models:/{name}/{target.number}", chain)
                self.release.require_deployable(conn, new)
                policy.graph.check_move(new.row.stage, DEPLOYED, via="deploy")
                inputs = self.release.gates.inputs(conn, new, roles)
                asks = (Ask(new, inputs, policy, (DEPLOYED,)),)
            state = (target.current, target.current_id, target.pinned, target.version_id)
            return AliasPlan(asks, state, target, policy, chain)

        def apply(conn: Connection, p: AliasPlan, judged: Judged) -> Alias | GateFailed:
            target, chain = p.target, p.chain
            now = chain.at
            if target.current == target.number:
                return alias_of(conn, name, target.model_id, alias)
            pin = known_pin(target)
            if p.asks:
                new = p.asks[0].version
                (outcome,) = judged[0]
                self.release.gates.record(conn, new, outcome, actor)
                refused = outcome.refusal(new.version)
                if refused is not None:
                    return refused
                self.point(
                    conn, p.policy, chain, name, alias, target, new, actor, why, now, override, pin
                )
                self.deployed_event(
                    conn, chain, name, alias, target.current, target.number, actor, why, now
                )
            else:
                chain.head = move(
                    conn,
                    chain.head,
                    name=name,
                    model_id=target.model_id,
                    alias=alias,
                    from_number=target.current,
                    from_version_id=target.current_id,
                    to_number=target.number,
                    to_version_id=target.version_id,
                    actor=actor,
                    reason=why,
                    at=now,
                    override=override,
                    pin=pin,
                )
            # The move passed the pin's check; what it left the pin at, with no
            # statement (the pin was read with the locked rows).
            crossed = pin_crossing(
                conn, name, target.model_id, alias, target.number, target.version_id, override, pin
            )
            return Alias(
                model=name,
                name=alias,
                version=target.number,
                updated_at=to_dt(now),
                updated_by=actor,
                pinned_major=target.pinned if crossed is None else crossed.to_major,
            )

        done = self.release.gates.run(f"set models:/{name}@{alias}", actor, plan, apply)
        if isinstance(done, GateFailed):
            raise done
        return done

    @staticmethod
    def deployed_event(
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

    def point(
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
        override: str | None = None,
        pin: KnownPin | None = None,
    ) -> None:
        """Move a serving alias to ``new`` and set the stages of both versions.

        ``override``: the reason that lets the move cross the alias's contract
        pin (see :func:`.aliases.move`); None refuses such a move. ``pin``: the
        pin as read with ``target`` (see :func:`.aliases.pin_crossing`).
        """
        chain.head = move(
            conn,
            chain.head,
            name=name,
            model_id=target.model_id,
            alias=alias,
            from_number=target.current,
            from_version_id=target.current_id,
            to_number=new.row.number,
            to_version_id=new.row.id,
            actor=actor,
            reason=why,
            at=now,
            override=override,
            pin=pin,
        )
        self.release.set_stage(conn, new, DEPLOYED, actor, why)
        if target.current is not None and target.current != new.row.number:
            self.unserve(conn, policy, chain, name, target.model_id, target.current, actor, why)

    def unserve(
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
        """Remove an alias; removing a serving alias undeploys its version.

        Removing a serving alias takes its version out of ``deployed`` (back to
        the stage before it unless another serving alias holds it): it needs
        the deployer role and passes the ``deployed`` gate's ``actor`` checks
        (:func:`.servable.check_mover`), as every move of a serving alias does.
        Raises NotFound, Conflict (``expect`` did not hold), PermissionDenied,
        GateFailed (an ``actor`` check refused; nothing is removed).
        """
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
            roles = self.gov.require(
                conn, "serving_alias_move" if serving else "alias_move", actor, at=now
            )
            check_expect(name, alias, target.current, expect)
            chain = Chain(log.Head.of_model(name, target), now)
            if serving:
                leaving = self.release.lock(conn, f"models:/{name}/{target.current}", chain)
                check_mover(conn, leaving, policy, actor, roles, f"remove models:/{name}@{alias}")
            chain.head = move(
                conn,
                chain.head,
                name=name,
                model_id=target.model_id,
                alias=alias,
                from_number=target.current,
                from_version_id=target.current_id,
                to_number=None,
                to_version_id=None,
                actor=actor,
                reason=why,
                at=now,
            )
            if serving:
                self.unserve(conn, policy, chain, name, target.model_id, target.current, actor, why)

    def mark_healthy(
        self, uri: str, *, actor: str, signal: str, alias: str | None = None
    ) -> Health:
        """Record that a deployed version ran healthy, and the signal that showed it.

        ``alias``, when given, is the serving alias it ran healthy behind: it must
        exist, serve, and point at the version, as rollback cites it. Raises
        InvalidInput (not deployed, an invalid name, such an alias), PermissionDenied.
        """
        text = validation.reason(signal, "signal", "--signal")
        if alias is not None:
            validation.alias_name(alias)
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            v = self.release.lock(conn, uri)
            self.gov.require(conn, "mark_healthy", actor, at=now)
            if v.row.stage != DEPLOYED:
                raise InvalidInput(
                    f"{v.version.uri} is {v.row.stage!r}: only a deployed version can be marked "
                    "healthy"
                )
            if alias is not None:
                self._check_healthy_alias(conn, v, alias)
            value = Health(signal=text, alias=alias, actor=actor, at=to_dt(now))
            notes.record(
                conn, v.row, v.name, value, "health", action="version.healthy", head=v.head
            )
        return value

    def _check_healthy_alias(self, conn: Connection, v: Locked, alias: str) -> None:
        graph = self.gov.policy(conn).graph
        pointed = {a.name: a.version for a in alias_rows.of_model(conn, v.name, v.row.model_id)}
        if alias not in pointed:
            raise InvalidInput(f"alias models:/{v.name}@{alias} not found")
        if not graph.is_serving(alias):
            raise InvalidInput(
                f"{alias!r} is not a serving alias (serving: "
                f"{', '.join(graph.serving_aliases)}): a version runs healthy behind one"
            )
        if pointed[alias] is None or int(pointed[alias]) != v.row.number:
            raise InvalidInput(
                f"models:/{v.name}@{alias} points at version {pointed[alias]}, not at "
                f"{v.version.uri}: mark the version it serves"
            )
