"""Statements on contract pins: one row per alias held to a semver MAJOR."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import aliases
from . import schema as t
from .engine import Prebuilt

_p = t.alias_pins.c

# The pin of an alias and the semver of the version it is about to point at:
# no row when the alias is not pinned, the common case, found by primary key.
_FOR_MOVE = Prebuilt(
    sa.select(_p.major, t.versions.c.semver)
    .select_from(t.alias_pins.join(t.versions, t.versions.c.id == sa.bindparam("v")))
    .where(_p.model_id == sa.bindparam("m"), _p.alias == sa.bindparam("a"))
)
_ONE = Prebuilt(
    sa.select(_p.major).where(_p.model_id == sa.bindparam("m"), _p.alias == sa.bindparam("a"))
)
_DROP = t.alias_pins.delete().where(_p.model_id == sa.bindparam("m"), _p.alias == sa.bindparam("a"))


def for_move(conn: Connection, model_id: int, alias: str, version_id: int) -> Any:
    """``(major, semver)`` of the alias's pin and the target version, or None (no pin)."""
    return _FOR_MOVE.first(conn, {"m": model_id, "a": alias, "v": version_id})


def major(conn: Connection, model_id: int, alias: str) -> int | None:
    """The MAJOR ``alias`` is pinned to, or None."""
    row = _ONE.first(conn, {"m": model_id, "a": alias})
    return None if row is None else int(row.major)


def of_model(conn: Connection, model_id: int) -> dict[str, int]:
    """Every pin of a model: alias -> MAJOR."""
    rows = conn.execute(sa.select(_p.alias, _p.major).where(_p.model_id == model_id))
    return {str(r.alias): int(r.major) for r in rows}


def put(conn: Connection, model_id: int, alias: str, major_: int, *, at: int, actor: str) -> None:
    """Pin ``alias`` to ``major_``, replacing an earlier pin."""
    conn.execute(_DROP, {"m": model_id, "a": alias})
    conn.execute(
        t.alias_pins.insert(),
        {
            "model_id": model_id,
            "alias": alias,
            "major": major_,
            "pinned_at": at,
            "pinned_by": actor,
        },
    )


def drop(conn: Connection, model_id: int, alias: str) -> None:
    conn.execute(_DROP, {"m": model_id, "a": alias})


def listed(conn: Connection, model_id: int, model: str) -> list[Any]:
    """Every pin of a model, by alias: ``alias, major, pinned_at, pinned_by`` and
    ``number``, the version the alias points at (None: the alias does not exist).
    IntegrityError (:func:`.aliases.check`) naming an alias that disagrees with its version."""
    a = t.aliases.c
    rows = list(
        conn.execute(
            sa.select(
                _p.alias, _p.major, _p.pinned_at, _p.pinned_by, a.number, *aliases.HELD_COLUMNS
            )
            .select_from(
                aliases.join_held(
                    t.alias_pins.outerjoin(
                        t.aliases, sa.and_(a.model_id == _p.model_id, a.name == _p.alias)
                    ),
                    a.version_id,
                )
            )
            .where(_p.model_id == model_id)
            .order_by(_p.alias)
        )
    )
    for r in rows:
        if r.number is not None:
            aliases.check(model, r.alias, r.number, r.held, r.held_model, model_id)
    return rows


def semver_of(conn: Connection, version_id: int) -> str:
    """The semver of a version, by row id."""
    return str(
        conn.execute(
            sa.select(t.versions.c.semver).where(t.versions.c.id == version_id)
        ).scalar_one()
    )
