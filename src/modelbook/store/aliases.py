"""Statements on aliases: the pointer itself and its history of moves."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..domain import Alias, AliasEvent
from . import models
from . import schema as t
from .engine import Prebuilt
from .rows import to_dt

_ALIAS_VALUES = ("version_id", "number", "updated_at", "updated_by")
_UPDATE = Prebuilt(
    t.aliases.update().where(
        t.aliases.c.model_id == sa.bindparam("m"), t.aliases.c.name == sa.bindparam("a")
    ),
    _ALIAS_VALUES,
)
_INSERT = Prebuilt(t.aliases.insert(), ("model_id", "name", *_ALIAS_VALUES))


def _target(version_match: Any | None) -> sa.Select[Any]:
    m, a = t.models, t.aliases
    cols: list[Any] = [
        m.c.id.label("model_id"),
        m.c.risk_tier,
        m.c.event_seq,
        m.c.event_hash,
        a.c.number.label("current"),
        a.c.version_id.label("current_id"),
    ]
    source: Any = m.outerjoin(a, sa.and_(a.c.model_id == m.c.id, a.c.name == sa.bindparam("alias")))
    if version_match is not None:
        v = t.versions
        source = source.outerjoin(v, sa.and_(v.c.model_id == m.c.id, version_match))
        cols += [v.c.id.label("version_id"), v.c.number.label("number"), v.c.stage]
    return sa.select(*cols).select_from(source).where(m.c.name == sa.bindparam("name"))


_TARGETS = {
    "number": Prebuilt(_target(t.versions.c.number == sa.bindparam("version"))),
    "semver": Prebuilt(_target(t.versions.c.semver == sa.bindparam("version"))),
    None: Prebuilt(_target(None)),
}


def target(
    conn: Connection, name: str, alias: str, kind: str | None = None, version: Any = None
) -> Any:
    """Model id and chain head, the alias's current number and (by ``kind``) the wanted version.

    None when the model does not exist; ``current`` is None when the alias
    does not, ``version_id`` when the version does not. The model's row is
    locked first, in its own statement: that serialises the model's writers,
    and the alias is then read after the lock is held.
    """
    models.lock(conn, name)
    params: dict[str, Any] = {"name": name, "alias": alias}
    if kind is not None:
        params["version"] = int(version) if kind == "number" else version
    return _TARGETS[kind].first(conn, params)


def put(
    conn: Connection,
    model_id: int,
    alias: str,
    *,
    version_id: int,
    number: int,
    exists: bool,
    at: int,
    actor: str,
) -> None:
    values = dict(zip(_ALIAS_VALUES, (version_id, number, at, actor), strict=True))
    if exists:
        _UPDATE.run(conn, {"m": model_id, "a": alias, **values})
    else:
        _INSERT.run(conn, {"model_id": model_id, "name": alias, **values})


_DROP = t.aliases.delete().where(
    t.aliases.c.model_id == sa.bindparam("m"), t.aliases.c.name == sa.bindparam("a")
)


def drop(conn: Connection, model_id: int, alias: str) -> None:
    conn.execute(_DROP, {"m": model_id, "a": alias})


_INSERT_MOVE = Prebuilt(
    t.alias_events.insert(),
    ("model_id", "alias", "from_number", "to_number", "actor", "reason", "at"),
)


def record_move(
    conn: Connection,
    model_id: int,
    alias: str,
    *,
    from_number: int | None,
    to_number: int | None,
    actor: str,
    reason: str,
    at: int,
) -> None:
    _INSERT_MOVE.run(
        conn,
        {
            "model_id": model_id,
            "alias": alias,
            "from_number": from_number,
            "to_number": to_number,
            "actor": actor,
            "reason": reason,
            "at": at,
        },
    )


def of_model(conn: Connection, model: str, model_id: int) -> list[Alias]:
    a = t.aliases.c
    rows = conn.execute(
        sa.select(a.name, a.number, a.updated_at, a.updated_by)
        .where(a.model_id == model_id)
        .order_by(a.name)
    )
    return [
        Alias(
            model=model,
            name=r.name,
            version=r.number,
            updated_at=to_dt(r.updated_at),
            updated_by=r.updated_by,
        )
        for r in rows
    ]


def history(
    conn: Connection, model: str, model_id: int, alias: str | None, limit: int
) -> list[AliasEvent]:
    e = t.alias_events.c
    stmt = sa.select(t.alias_events).where(e.model_id == model_id).order_by(e.id.desc())
    if alias is not None:
        stmt = stmt.where(e.alias == alias)
    return [
        AliasEvent(
            model=model,
            alias=r.alias,
            from_version=r.from_number,
            to_version=r.to_number,
            actor=r.actor,
            reason=r.reason,
            at=to_dt(r.at),
        )
        for r in conn.execute(stmt.limit(limit))
    ]


_ALL_MOVES = Prebuilt(
    sa.select(
        t.alias_events.c.id,
        t.models.c.name,
        t.alias_events.c.alias,
        t.alias_events.c.from_number,
        t.alias_events.c.to_number,
        t.alias_events.c.actor,
        t.alias_events.c.reason,
        t.alias_events.c.at,
    )
    .join(t.models, t.models.c.id == t.alias_events.c.model_id)
    .order_by(t.alias_events.c.id)
)


def all_moves_for_audit(conn: Connection) -> list[tuple[Any, ...]]:
    """Every row of alias history with its model's name, for ``audit verify``: tuples of
    (id, model, alias, from_number, to_number, actor, reason, at)."""
    return _ALL_MOVES.tuples(conn, {})
