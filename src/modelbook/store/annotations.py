"""Statements on the mutable annotations of versions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from . import schema as t
from .engine import Prebuilt
from .rows import dumps

_n = t.notes.c
_INSERT = Prebuilt(t.notes.insert(), ("version_id", "kind", "actor", "at", "body"))


def add(conn: Connection, version_id: int, kind: str, actor: str, at: int, body: Any) -> None:
    """Add one annotation (``body`` is JSON data)."""
    _INSERT.run(
        conn,
        {"version_id": version_id, "kind": kind, "actor": actor, "at": at, "body": dumps(body)},
    )


def of_version(conn: Connection, version_id: int, kinds: Sequence[str] = ()) -> list[Row[Any]]:
    """Annotations of one version, oldest first, optionally of some kinds."""
    stmt = sa.select(t.notes).where(_n.version_id == version_id).order_by(_n.id)
    if kinds:
        stmt = stmt.where(_n.kind.in_(list(kinds)))
    return list(conn.execute(stmt))


_answer = t.notes.alias("answer")
_OPEN_REJECTION = Prebuilt(
    sa.select(t.notes)
    .where(
        _n.version_id == sa.bindparam("v"),
        _n.kind == "rejection",
        ~sa.exists().where(
            _answer.c.version_id == sa.bindparam("v"),
            _answer.c.kind == "approval",
            _answer.c.at > _n.at,
        ),
    )
    .order_by(_n.at.desc(), _n.id)
    .limit(1)
)


def open_rejection(conn: Connection, version_id: int) -> Any:
    """The row of the latest rejection of a version that no approval recorded after it
    answers (the first of those at that time), or None. Every deploy asks: two index
    seeks rather than reading the version's approvals and rejections."""
    return _OPEN_REJECTION.first(conn, {"v": version_id})


def of_versions(
    conn: Connection, version_ids: Sequence[int], kinds: Sequence[str]
) -> list[Row[Any]]:
    """Annotations of several versions, oldest first."""
    if not version_ids:
        return []
    stmt = (
        sa.select(t.notes)
        .where(_n.version_id.in_(list(version_ids)), _n.kind.in_(list(kinds)))
        .order_by(_n.id)
    )
    return list(conn.execute(stmt))


_DEPRECATE = Prebuilt(
    t.versions.update().where(t.versions.c.id == sa.bindparam("version_id")), ("deprecated_at",)
)


def set_deprecated(conn: Connection, version_id: int, at: int | None) -> None:
    """Mark a version deprecated at ``at`` (microseconds), or None: not deprecated."""
    _DEPRECATE.run(conn, {"version_id": version_id, "deprecated_at": at})


_ALL_FOR_AUDIT = Prebuilt(
    sa.select(
        _n.id,
        t.models.c.name,
        t.versions.c.number,
        _n.kind,
        _n.actor,
        _n.at,
        _n.body,
    )
    .join(t.versions, t.versions.c.id == _n.version_id)
    .join(t.models, t.models.c.id == t.versions.c.model_id)
    .order_by(_n.id)
)


def all_for_audit(conn: Connection) -> list[tuple[Any, ...]]:
    """Every annotation with its model's name and version number, for ``audit verify``:
    tuples of (id, model, number, kind, actor, at, body)."""
    return _ALL_FOR_AUDIT.tuples(conn, {})
