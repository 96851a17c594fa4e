"""Aliases: movable pointers to versions, every move kept with who, when and why."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from .. import paging, validation
from ..domain import Alias, AliasEvent
from ..errors import Conflict, NotFound
from ..events import AliasState
from ..store import aliases as alias_rows
from ..store.rows import to_dt
from . import audit as log
from .base import Context, model_row, version_ref


def check_expect(name: str, alias: str, current: int | None, expect: int | None) -> None:
    """Refuse a conditional move whose expectation no longer holds."""
    if expect is None:
        return
    actual = 0 if current is None else current
    if actual != expect:
        now_at = "does not exist" if current is None else f"points at version {actual}"
        wanted = "not to exist" if expect == 0 else f"to point at version {expect}"
        raise Conflict(
            f"alias models:/{name}@{alias} {now_at}; expected it {wanted} (someone moved it first?)"
        )


def valid_expect(expect: int | None) -> None:
    if expect is not None and expect != 0:
        validation.version_number(expect, "expected version")


def move(
    conn: Connection,
    head: log.Head,
    *,
    name: str,
    model_id: int,
    alias: str,
    from_number: int | None,
    to_number: int | None,
    to_version_id: int | None,
    actor: str,
    reason: str,
    at: int,
) -> log.Head:
    """Point (or, with ``to_number`` None, remove) an alias, with its history row and event."""
    if to_number is None:
        alias_rows.drop(conn, model_id, alias)
    else:
        assert to_version_id is not None
        alias_rows.put(
            conn,
            model_id,
            alias,
            version_id=to_version_id,
            number=to_number,
            exists=from_number is not None,
            at=at,
            actor=actor,
        )
    alias_rows.record_move(
        conn,
        model_id,
        alias,
        from_number=from_number,
        to_number=to_number,
        actor=actor,
        reason=reason,
        at=at,
    )
    return log.record(
        conn,
        head,
        actor=actor,
        at=at,
        action="alias.set" if to_number is not None else "alias.delete",
        subject=log.subject_of(name, alias=alias),
        model=name,
        version=to_number if to_number is not None else from_number,
        before=None if from_number is None else AliasState(alias=alias, version=from_number),
        after=None if to_number is None else AliasState(alias=alias, version=to_number),
        reason=reason,
    )


class AliasService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def target(self, conn: Connection, name: str, alias: str, version: int | str) -> Any:
        """Lock the model, read the alias and the wanted version; NotFound if either is missing."""
        ref = version_ref(name, version)
        target = alias_rows.target(conn, name, alias, ref.kind, ref.value)
        if target is None:
            raise NotFound(f"model {name!r} not found")
        if target.version_id is None:
            raise NotFound(f"version {ref} not found")
        return target

    def set(
        self,
        name: str,
        alias: str,
        version: int | str,
        *,
        actor: str,
        reason: str,
        expect: int | None = None,
    ) -> Alias:
        """Point ``alias`` at a version (number or semver); see ``Registry.set_alias``."""
        validation.model_name(name)
        validation.alias_name(alias)
        why = validation.reason(reason)
        valid_expect(expect)
        version_ref(name, version)
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            target = self.target(conn, name, alias, version)
            check_expect(name, alias, target.current, expect)
            if target.current == target.number:
                return self._alias(conn, name, target.model_id, alias)
            move(
                conn,
                log.Head.of_model(name, target),
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
        return Alias(
            model=name, name=alias, version=target.number, updated_at=to_dt(now), updated_by=actor
        )

    def delete(
        self, name: str, alias: str, *, actor: str, reason: str, expect: int | None = None
    ) -> None:
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
            check_expect(name, alias, target.current, expect)
            move(
                conn,
                log.Head.of_model(name, target),
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

    @staticmethod
    def _alias(conn: Connection, name: str, model_id: int, alias: str) -> Alias:
        for a in alias_rows.of_model(conn, name, model_id):
            if a.name == alias:
                return a
        raise NotFound(f"alias models:/{name}@{alias} not found")

    def of_model(self, name: str) -> list[Alias]:
        validation.model_name(name)
        return self.ctx.db.reading(
            lambda conn: alias_rows.of_model(conn, name, model_row(conn, name).id)
        )

    def history(self, name: str, alias: str | None = None, *, limit: int = 100) -> list[AliasEvent]:
        """Moves of the model's aliases (or one alias), newest first."""
        validation.model_name(name)
        if alias is not None:
            validation.alias_name(alias)
        paging.limit(limit)
        return self.ctx.db.reading(
            lambda conn: alias_rows.history(conn, name, model_row(conn, name).id, alias, limit)
        )
