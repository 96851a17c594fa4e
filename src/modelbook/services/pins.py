"""Contract pins: hold an alias to one semver MAJOR, and release it.

The rule a pin enforces lives in :mod:`modelbook.pins` and is applied by
:func:`.aliases.move`, through which every alias move passes. Pinning and
unpinning are audit events (``alias.pin``, ``alias.unpin``) of the model's
chain, and need the role that moving the alias needs (a deployer for a
serving alias).
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from .. import pins, validation
from ..domain import Alias
from ..errors import NotFound
from ..roles import alias_operation
from ..store import aliases as alias_rows
from ..store import pins as pin_rows
from ..store.rows import to_dt
from . import audit as log
from .aliases import alias_of
from .base import Context, model_row
from .governance import GovernanceService


class PinService:
    def __init__(self, ctx: Context, governance: GovernanceService) -> None:
        self.ctx = ctx
        self.gov = governance

    def pin(self, name: str, alias: str, major: int, *, actor: str) -> Alias:
        """Pin an existing alias to ``major``; returns the alias with ``pinned_major`` set.

        Raises InvalidInput (``major`` not a whole number in range, or the
        alias points at a version of another MAJOR), NotFound (model or alias),
        PermissionDenied. Pinning to the MAJOR it is already pinned to changes
        nothing and records nothing.
        """
        validation.model_name(name)
        validation.alias_name(alias)
        wanted = pins.valid_major(major)
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            target = alias_rows.target(conn, name, alias)
            if target is None:
                raise NotFound(f"model {name!r} not found")
            if target.current is None:
                raise NotFound(f"alias models:/{name}@{alias} not found: set it before pinning it")
            policy = self.gov.policy(conn)
            self.gov.require(conn, alias_operation(alias, policy.serving_aliases), actor, at=now)
            pins.check_pin(name, alias, wanted, pin_rows.semver_of(conn, target.current_id))
            before = pin_rows.major(conn, target.model_id, alias)
            if before != wanted:
                pin_rows.put(conn, target.model_id, alias, wanted, at=now, actor=actor)
                log.record(
                    conn,
                    log.Head.of_model(name, target),
                    actor=actor,
                    at=now,
                    action="alias.pin",
                    subject=log.subject_of(name, alias=alias),
                    model=name,
                    version=target.current,
                    before=None if before is None else {"alias": alias, "major": before},
                    after={"alias": alias, "major": wanted},
                )
            return alias_of(conn, name, target.model_id, alias)

    def of_model(self, name: str) -> list[pins.AliasPin]:
        """Every pin of the model's aliases, by alias name, those of removed aliases
        included (``version`` None). Raises NotFound (model)."""
        validation.model_name(name)

        def read(conn: Connection) -> list[pins.AliasPin]:
            model_id = model_row(conn, name).id
            return [
                pins.AliasPin(
                    model=name,
                    alias=str(r.alias),
                    major=int(r.major),
                    version=None if r.number is None else int(r.number),
                    pinned_at=to_dt(r.pinned_at),
                    pinned_by=str(r.pinned_by),
                )
                for r in pin_rows.listed(conn, model_id, name)
            ]

        return self.ctx.db.reading(read)

    def unpin(self, name: str, alias: str, *, actor: str) -> None:
        """Remove the pin of ``alias`` (the alias itself may already be removed).

        Raises NotFound (model, or no pin on that alias), PermissionDenied.
        """
        validation.model_name(name)
        validation.alias_name(alias)
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            target = alias_rows.target(conn, name, alias)
            if target is None:
                raise NotFound(f"model {name!r} not found")
            before = pin_rows.major(conn, target.model_id, alias)
            if before is None:
                raise NotFound(f"alias models:/{name}@{alias} is not pinned")
            policy = self.gov.policy(conn)
            self.gov.require(conn, alias_operation(alias, policy.serving_aliases), actor, at=now)
            pin_rows.drop(conn, target.model_id, alias)
            log.record(
                conn,
                log.Head.of_model(name, target),
                actor=actor,
                at=now,
                action="alias.unpin",
                subject=log.subject_of(name, alias=alias),
                model=name,
                version=target.current,
                before={"alias": alias, "major": before},
                after=None,
            )
