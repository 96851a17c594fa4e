"""Lineage reads: versions by a lineage row, by parent link, and by (model, number).

Each statement is driven by the ``lineage`` table's ``(kind, key, value)``
index or the versions' unique ``(model_id, number)``, so a walk costs in
proportion to the versions it reaches. Lists of values are sent in batches
of bound parameters (``IN``), never spliced into the SQL text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import schema as t
from .versions import VERSION_COLS

_v = t.versions.c
_l = t.lineage.c
_m = t.models.c
# Bound values per statement: far below every database's limit, large enough
# that a walk of thousands of versions is a handful of round trips.
BATCH = 500

_VERSIONS = t.versions.join(t.models, _m.id == _v.model_id)
_COLS = (_m.name.label("model_name"), *VERSION_COLS)


def _batches(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i : i + BATCH] for i in range(0, len(values), BATCH)]


def matching(
    conn: Connection, kind: str, key: str, value: str, *, prefix: bool, fold: bool = False
) -> list[Any]:
    """Versions with the lineage row (kind, key, value), or whose value starts with
    ``value`` when ``prefix``; each row has ``model_name`` and the version's columns.
    ``fold``: ``value`` is lower case and stored values match without regard to
    case (a whole value as written, all lower or all upper case, so the index
    still drives the statement)."""
    column: Any = _l.value
    if prefix:
        # substr, not LIKE: a value is matched as written, '%' and '_' included.
        start = sa.func.substr(column, 1, len(value))
        test = (sa.func.lower(start) if fold else start) == sa.bindparam("value")
        params: dict[str, Any] = {"value": value}
    elif fold:
        test = column.in_(sa.bindparam("values", expanding=True))
        params = {"values": sorted({value, value.upper()})}
    else:
        test = column == sa.bindparam("value")
        params = {"value": value}
    stmt = (
        sa.select(*_COLS)
        .select_from(_VERSIONS.join(t.lineage, _l.version_id == _v.id))
        .where(_l.kind == sa.bindparam("kind"), _l.key == sa.bindparam("key"), test)
        .distinct()
    )
    return list(conn.execute(stmt, {"kind": kind, "key": key, **params}))


def values(conn: Connection, kind: str, key: str, limit: int) -> list[str]:
    """Up to ``limit`` distinct stored values of the lineage rows (kind, key), in order:
    the candidates a mistyped reference is compared with."""
    stmt = (
        sa.select(_l.value)
        .where(_l.kind == sa.bindparam("kind"), _l.key == sa.bindparam("key"))
        .distinct()
        .order_by(_l.value)
        .limit(limit)
    )
    found: Any = conn.execute(stmt, {"kind": kind, "key": key}).scalars()
    return [str(value) for value in found]


def children(conn: Connection, parents: Sequence[str]) -> list[Any]:
    """Versions that name one of ``parents`` (``NAME/N`` as stored) as a parent;
    each row also has ``parent``, the one it names."""
    stmt = (
        sa.select(_l.value.label("parent"), *_COLS)
        .select_from(_VERSIONS.join(t.lineage, _l.version_id == _v.id))
        .where(
            _l.kind == "parent",
            _l.key == "version",
            _l.value.in_(sa.bindparam("parents", expanding=True)),
        )
    )
    rows: list[Any] = []
    for batch in _batches(list(parents)):
        rows.extend(conn.execute(stmt, {"parents": list(batch)}))
    return rows


def by_number(conn: Connection, refs: Sequence[tuple[str, int]]) -> list[Any]:
    """The versions named by (model, number) pairs that exist; with ``model_name``."""
    stmt = (
        sa.select(*_COLS)
        .select_from(_VERSIONS)
        .where(sa.tuple_(_m.name, _v.number).in_(sa.bindparam("refs", expanding=True)))
    )
    rows: list[Any] = []
    for batch in _batches(list(refs)):
        rows.extend(conn.execute(stmt, {"refs": list(batch)}))
    return rows
