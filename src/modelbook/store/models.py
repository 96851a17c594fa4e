"""Statements on models: lookup, creation, listing, numbering and tags."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection, Row

from ..domain import Model
from ..errors import IntegrityError
from . import schema as t
from .dialects import dialect_insert
from .engine import Prebuilt
from .governance import CURRENT_POLICY_SHA256
from .lookup import Lookup
from .rows import dumps, to_dt

# The columns of a model's row as every lookup reads it.
MODEL_COLS = (
    t.models.c.id,
    t.models.c.name,
    t.models.c.owners,
    t.models.c.task,
    t.models.c.risk_tier,
    t.models.c.description,
    t.models.c.tags,
    t.models.c.created_at,
    t.models.c.created_by,
    t.models.c.last_number,
    t.models.c.semver_major,
    t.models.c.semver_minor,
    t.models.c.semver_patch,
    t.models.c.event_seq,
    t.models.c.event_hash,
)


def model_from_row(row: Row[Any]) -> Model:
    """Parse one stored model; IntegrityError naming it when its row is damaged."""
    try:
        return Model(
            name=row.name,
            owners=tuple(json.loads(row.owners)),
            task=row.task,
            risk_tier=row.risk_tier,
            description=row.description,
            tags=json.loads(row.tags),
            created_at=to_dt(row.created_at),
            created_by=row.created_by,
            latest_version=row.last_number,
        )
    except (ValueError, TypeError, ValidationError, OverflowError, RecursionError) as exc:
        first = str(exc).strip().splitlines()
        raise IntegrityError(
            f"model {row.name!r} is stored but cannot be read "
            f"({first[0] if first else type(exc).__name__}); its row was damaged or edited"
        ) from None


_BY_NAME = Lookup(sa.select(*MODEL_COLS).where(t.models.c.name == sa.bindparam("name")), t.models)
# A registration's lookup also reads the hash of the policy in force, which names
# the stage a new version enters: one statement for both.
_FOR_REGISTRATION = Lookup(
    sa.select(*MODEL_COLS, CURRENT_POLICY_SHA256).where(t.models.c.name == sa.bindparam("name")),
    t.models,
)


def find(conn: Connection, name: str, *, lock: bool = False) -> Any:
    """The model's row, or None; ``lock`` takes its row lock, which serialises its writers."""
    return _BY_NAME.first(conn, {"name": name}, lock)


def for_registration(conn: Connection, name: str) -> Any:
    """The model's row, locked as by :func:`find`, with ``policy_sha256``: the hash of
    the policy in force (None: the default applies). None when there is no such model."""
    return _FOR_REGISTRATION.first(conn, {"name": name}, True)


def lock(conn: Connection, name: str) -> None:
    """Take the model's row lock ahead of a read that must see the state after it.

    The lock's row is not needed, so in a pipelined write this statement and
    the read after it reach the server together. A no-op on SQLite, whose
    write transaction holds the database's write lock.
    """
    if conn.dialect.name == "postgresql":
        _BY_NAME.locked.run(conn, {"name": name})


def insert_if_absent(conn: Connection, values: Mapping[str, Any]) -> int | None:
    """Insert a model unless one of that name exists; its id when this call created it."""
    stmt: Any
    if conn.dialect.name in ("postgresql", "sqlite"):
        stmt = dialect_insert(conn.dialect.name, t.models).on_conflict_do_nothing(
            index_elements=["name"]
        )
    else:
        if find(conn, values["name"]) is not None:
            return None
        stmt = t.models.insert()
    row = conn.execute(stmt.returning(t.models.c.id), dict(values)).first()
    return None if row is None else int(row.id)


def page(conn: Connection, *, before_id: int | None, limit: int) -> list[Row[Any]]:
    """Models newest first, starting below ``before_id``."""
    stmt = sa.select(*MODEL_COLS).order_by(t.models.c.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(t.models.c.id < before_id)
    return list(conn.execute(stmt))


_m = t.models.c


def numbered(number: int, semver: tuple[int, int, int]) -> dict[str, int]:
    """The columns of a model's row that record its newest version's number and semver
    (for :func:`set_event_head`, in the statement of the registration's event)."""
    major, minor, patch = semver
    return {
        "last_number": number,
        "semver_major": major,
        "semver_minor": minor,
        "semver_patch": patch,
    }


def highest_semver(row: Row[Any]) -> str | None:
    """The semver of the model's newest version (always its highest), from its row."""
    if row.last_number == 0:
        return None
    return f"{row.semver_major}.{row.semver_minor}.{row.semver_patch}"


_SET_TIER = Prebuilt(t.models.update().where(_m.id == sa.bindparam("model_id")), ("risk_tier",))


def set_risk_tier(conn: Connection, model_id: int, tier: str) -> None:
    _SET_TIER.run(conn, {"model_id": model_id, "risk_tier": tier})


@functools.cache
def _set_head(also: tuple[str, ...]) -> Prebuilt:
    """The UPDATE of a model's chain head and the columns ``also``, built once per set."""
    return Prebuilt(
        t.models.update().where(_m.id == sa.bindparam("model_id")),
        ("event_seq", "event_hash", *also),
    )


def set_event_head(
    conn: Connection, model_id: int, seq: int, hash_: str, also: Mapping[str, Any] | None = None
) -> None:
    """Move the head of the model's audit chain to its newest event; ``also``: further
    columns of the model's row to set in the same statement (column: value)."""
    values = {"model_id": model_id, "event_seq": seq, "event_hash": hash_, **(also or {})}
    _set_head(tuple(also or ())).run(conn, values)


def event_heads(conn: Connection) -> list[tuple[str, int, str]]:
    """(model name, head position, head hash) of every model."""
    rows = conn.execute(sa.select(_m.name, _m.event_seq, _m.event_hash))
    return [(r.name, r.event_seq, r.event_hash) for r in rows]


# tags --------------------------------------------------------------------------


def write_tags(
    conn: Connection,
    table: sa.Table,
    owner_col: str,
    owner_id: int,
    json_table: sa.Table,
    *,
    changed: Mapping[str, str],
    removed: Sequence[str],
    merged: Mapping[str, str] | None,
    fixed: Mapping[str, int] | None = None,
) -> None:
    """Upsert changed tags, delete removed ones, and store the JSON copy of the result
    (``merged``; None when the owner's row already holds it). ``fixed``: further
    columns every new tag row takes (a version tag's ``model_id``)."""
    extra = dict(fixed or {})
    upsert, delete, update = _tag_statements(
        conn.dialect.name, table, owner_col, json_table, tuple(extra)
    )
    upsert.run_many(
        conn, [{owner_col: owner_id, "key": k, "value": v, **extra} for k, v in changed.items()]
    )
    if removed:
        conn.execute(delete, {"owner": owner_id, "keys": list(removed)})
    if merged is not None:
        update.run(conn, {"owner": owner_id, "tags": dumps(dict(merged))})


def write_model_tags(
    conn: Connection,
    model_id: int,
    *,
    changed: Mapping[str, str],
    removed: Sequence[str] = (),
    merged: Mapping[str, str] | None = None,
) -> None:
    write_tags(
        conn,
        t.model_tags,
        "model_id",
        model_id,
        t.models,
        changed=changed,
        removed=removed,
        merged=merged,
    )


def write_version_tags(
    conn: Connection,
    version_id: int,
    *,
    model_id: int,
    changed: Mapping[str, str],
    removed: Sequence[str],
    merged: Mapping[str, str],
) -> None:
    """Tags of version ``version_id`` of model ``model_id`` (see :func:`write_tags`)."""
    write_tags(
        conn,
        t.version_tags,
        "version_id",
        version_id,
        t.versions,
        changed=changed,
        removed=removed,
        merged=merged,
        fixed={"model_id": model_id},
    )


@functools.cache
def _tag_statements(
    dialect: str, table: sa.Table, owner_col: str, json_table: sa.Table, fixed: tuple[str, ...]
) -> tuple[Prebuilt, sa.Delete, Prebuilt]:
    insert: Any = dialect_insert(dialect, table)
    upsert = insert.on_conflict_do_update(
        index_elements=[owner_col, "key"], set_={"value": insert.excluded.value}
    )
    return (
        Prebuilt(upsert, (owner_col, "key", "value", *fixed)),
        table.delete().where(
            table.c[owner_col] == sa.bindparam("owner"),
            table.c.key.in_(sa.bindparam("keys", expanding=True)),
        ),
        Prebuilt(json_table.update().where(json_table.c.id == sa.bindparam("owner")), ("tags",)),
    )
