"""Statements on versions: lookups by number, semver, alias and latest; insert; listing."""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from ..search_rows import COLUMNS, SearchRows, as_dicts
from . import aliases, models
from . import schema as t
from .engine import Prebuilt
from .lookup import Lookup

_v = t.versions.c
_a = t.aliases.c


VERSION_COLS = (
    _v.id,
    _v.number,
    _v.semver,
    _v.stage,
    _v.doc,
    _v.tags,
    _v.created_at,
    _v.created_by,
    _v.deprecated_at,
    _v.aliases,
)
# What a writer of the version needs of its model: its id and its audit chain's head.
_WRITE_COLS = (
    t.models.c.id.label("model_id"),
    t.models.c.risk_tier,
    t.models.c.event_seq,
    t.models.c.event_hash,
)


_FROM_NAME = t.models.join(t.versions, _v.model_id == t.models.c.id)
_FROM_ALIAS = t.models.join(t.aliases, _a.model_id == t.models.c.id).join(
    t.versions, _v.id == _a.version_id
)


def _lookups(*cols: Any) -> dict[str, sa.Select[Any]]:
    """The one-row lookups of a version by kind of reference, selecting ``cols``."""
    by_name = (
        sa.select(*cols).select_from(_FROM_NAME).where(t.models.c.name == sa.bindparam("name"))
    )
    return {
        "number": by_name.where(_v.number == sa.bindparam("number")),
        "semver": by_name.where(_v.semver == sa.bindparam("semver")),
        # The model's row holds its newest number: one index lookup, whatever the
        # planner believes of how many versions the model has.
        "latest": by_name.where(_v.number == t.models.c.last_number),
        # With what the alias row is checked by (:func:`.aliases.check`).
        "alias": sa.select(
            *cols,
            _a.number.label("alias_number"),
            _v.model_id.label("alias_held_model"),
            t.models.c.id.label("alias_model_id"),
        )
        .select_from(_FROM_ALIAS)
        .where(t.models.c.name == sa.bindparam("name"), _a.name == sa.bindparam("alias")),
    }


# A read selects the version's columns only; a writer (``lock``) also its model's
# id and chain head, and locks the rows.
_READ = {kind: Prebuilt(stmt) for kind, stmt in _lookups(*VERSION_COLS).items()}
_WRITE = {
    kind: Lookup(stmt, t.models, t.versions)
    for kind, stmt in _lookups(*VERSION_COLS, *_WRITE_COLS).items()
}


def find(
    conn: Connection,
    name: str,
    kind: str,
    value: str,
    *,
    lock: bool = False,
    with_model: bool = False,
) -> Any:
    """The row of the version ``kind`` (number, semver, alias, latest) and ``value`` name.

    ``lock`` takes the model's row lock and then the version's, in that order
    (the order every writer uses), so the row read is the one the write sees
    committed; the row then also has the model's ``model_id``, ``risk_tier``,
    ``event_seq`` and ``event_hash``, as it has with ``with_model`` (a read that
    plans a write, without its locks). None when there is no such version (or model).
    IntegrityError when the alias of ``kind`` alias disagrees with the version it points at.
    """
    if kind == "number":
        params: dict[str, Any] = {"name": name, "number": int(value)}
    elif kind in ("semver", "alias"):
        params = {"name": name, kind: value}
    elif kind == "latest":
        params = {"name": name}
    else:
        raise ValueError(f"unknown version reference kind {kind!r}")
    if lock:
        if kind == "latest":
            # The latest version is found by the model's newest number. Locked in
            # the same statement, a registration committed meanwhile would make
            # PostgreSQL re-check the row against the new number and find no
            # version at all; locked first, the read sees that registration.
            models.lock(conn, name)
        row = _WRITE[kind].first(conn, params, True)
    elif with_model:
        row = _WRITE[kind].first(conn, params)
    else:
        row = _READ[kind].first(conn, params)
    if kind == "alias" and row is not None:
        aliases.check(
            name, value, row.alias_number, row.number, row.alias_held_model, row.alias_model_id
        )
    return row


# A model's row and its latest version's, in one statement: what a registration
# compares the new version with. The model's columns are labelled ``model_*``.
_MODEL_AND_LATEST = Prebuilt(
    sa.select(
        *(c.label(f"model_{c.name}") for c in models.MODEL_COLS),
        *VERSION_COLS,
    )
    .select_from(
        t.models.outerjoin(
            t.versions,
            sa.and_(_v.model_id == t.models.c.id, _v.number == t.models.c.last_number),
        )
    )
    .where(t.models.c.name == sa.bindparam("name"))
)


@functools.cache
def _split_types(fields: tuple[str, ...]) -> tuple[Any, Any, int]:
    """Named-tuple types of a model row and a version row, and where the version's
    columns begin, for the columns of :data:`_MODEL_AND_LATEST`."""
    at = sum(1 for f in fields if f.startswith("model_"))
    model_row = namedtuple("Row", [f.removeprefix("model_") for f in fields[:at]])  # type: ignore[misc]
    version_row = namedtuple("Row", fields[at:])  # type: ignore[misc]
    return model_row, version_row, at


def model_and_latest(conn: Connection, name: str) -> tuple[Any, Any]:
    """The model's row (as :func:`models.find` reads it) and its latest version's row
    (as :func:`find` reads it), read together; (None, None) when there is no such
    model, (row, None) when it has no versions yet."""
    row = _MODEL_AND_LATEST.first(conn, {"name": name})
    if row is None:
        return None, None
    model_row, version_row, at = _split_types(row._fields)
    return model_row(*row[:at]), (None if row.id is None else version_row(*row[at:]))


def page(
    conn: Connection, model_id: int, *, after: int | None, limit: int, newest_first: bool
) -> list[Row[Any]]:
    """Versions of a model by number, from after ``after`` on."""
    stmt = sa.select(*VERSION_COLS).where(_v.model_id == model_id).limit(limit)
    if newest_first:
        stmt = stmt.order_by(_v.number.desc())
        if after is not None:
            stmt = stmt.where(_v.number < after)
    else:
        stmt = stmt.order_by(_v.number.asc())
        if after is not None:
            stmt = stmt.where(_v.number > after)
    return list(conn.execute(stmt))


def existing(conn: Connection, refs: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
    """Which of the (model name, number) pairs name a stored version."""
    if not refs:
        return set()
    stmt = (
        sa.select(t.models.c.name, _v.number)
        .select_from(_FROM_NAME)
        .where(sa.tuple_(t.models.c.name, _v.number).in_(list(refs)))
    )
    return {(r.name, r.number) for r in conn.execute(stmt)}


# writing ------------------------------------------------------------------------


@functools.cache
def _insert(table: sa.Table, keys: tuple[str, ...], returning: str | None = None) -> Prebuilt:
    """An INSERT of the given columns, built once per table and set of columns."""
    stmt: Any = table.insert()
    if returning is not None:
        stmt = stmt.returning(table.c[returning])
    return Prebuilt(stmt, keys)


@functools.cache
def _insert_child(table: sa.Table, keys: tuple[str, ...]) -> Prebuilt:
    """An INSERT of a version's child rows whose ``version_id`` is the version
    this session inserted last, so that it can be queued behind that INSERT."""
    stmt = table.insert().values(version_id=sa.func.currval(_VERSION_ID_SEQUENCE))
    return Prebuilt(stmt, keys)


# The sequence PostgreSQL creates for the autoincrementing ``versions.id``.
_VERSION_ID_SEQUENCE = f"{t.versions.name}_id_seq"


def insert(
    conn: Connection,
    values: Mapping[str, Any],
    *,
    artifacts: Sequence[Mapping[str, Any]],
    tags: Mapping[str, str],
    search: SearchRows,
) -> None:
    """Insert a version and its child rows: ``search``, the rows search reads, as
    :func:`modelbook.search_rows.search_rows` yields them from its record.

    On PostgreSQL the child rows take the new id from the sequence
    (``currval``, local to this session), so no statement waits for the
    version's INSERT to come back and the whole registration is sent at once.
    """
    children: list[tuple[sa.Table, list[dict[str, Any]]]] = [
        (t.artifacts, [dict(a) for a in artifacts]),
        (
            t.version_tags,
            [{"key": k, "value": v, "model_id": values["model_id"]} for k, v in tags.items()],
        ),
        (t.metrics, as_dicts("metrics", search.metrics)),
        (t.params, as_dicts("params", search.params)),
        (t.lineage, as_dicts("lineage", search.lineage)),
    ]
    if conn.dialect.name == "postgresql":
        _insert(t.versions, tuple(values)).run(conn, values)
        for table, rows in children:
            if rows:
                _insert_child(table, tuple(rows[0])).run_many(conn, rows)
        return
    version_id = int(_insert(t.versions, tuple(values), "id").first(conn, values).id)
    for table, rows in children:
        if rows:
            keyed = [{"version_id": version_id, **r} for r in rows]
            _insert(table, tuple(keyed[0])).run_many(conn, keyed)


_SET_STAGE = Prebuilt(t.versions.update().where(_v.id == sa.bindparam("version_id")), ("stage",))


def numbers_in_stages(conn: Connection, model_id: int, stages: Sequence[str]) -> list[int]:
    """The numbers of the model's versions in any of ``stages``, oldest first."""
    rows = conn.execute(
        sa.select(_v.number)
        .where(_v.model_id == model_id, _v.stage.in_(list(stages)))
        .order_by(_v.number)
    )
    return [int(r.number) for r in rows]


def set_stage(conn: Connection, version_id: int, stage: str) -> None:
    _SET_STAGE.run(conn, {"version_id": version_id, "stage": stage})


# artifacts ------------------------------------------------------------------------


def artifact_rows(conn: Connection, model: str | None) -> list[Row[Any]]:
    """(model name, number, path, size, sha256) of every stored artifact, or one model's."""
    stmt = (
        sa.select(t.models.c.name, _v.number, t.artifacts.c.path, t.artifacts.c.size)
        .add_columns(t.artifacts.c.sha256)
        .select_from(
            t.artifacts.join(t.versions, _v.id == t.artifacts.c.version_id).join(
                t.models, t.models.c.id == _v.model_id
            )
        )
        .order_by(t.models.c.name, _v.number, t.artifacts.c.path)
    )
    if model is not None:
        stmt = stmt.where(t.models.c.name == model)
    return list(conn.execute(stmt))


def manifest_rows(conn: Connection, model: str | None) -> list[Row[Any]]:
    """(model name, number, doc, id) of every version, or of one model's: its stored
    record, whose ``artifacts`` are the manifest its artifact rows copy."""
    stmt = (
        sa.select(t.models.c.name, _v.number, _v.doc, _v.id)
        .select_from(t.versions.join(t.models, t.models.c.id == _v.model_id))
        .order_by(t.models.c.name, _v.number)
    )
    if model is not None:
        stmt = stmt.where(t.models.c.name == model)
    return list(conn.execute(stmt))


def stored_search_rows(conn: Connection, model: str | None) -> dict[str, list[Row[Any]]]:
    """The stored rows of each table :class:`~modelbook.search_rows.SearchRows` names,
    of every version or of one model's: ``version_id`` and the table's columns, in
    ``version_id`` order (the tables' keys begin with it), one read of each table."""
    out: dict[str, list[Row[Any]]] = {}
    for name, columns in COLUMNS.items():
        table = t.metadata.tables[name]
        stmt = sa.select(table.c.version_id, *(table.c[c] for c in columns)).order_by(
            table.c.version_id
        )
        if model is not None:
            stmt = (
                stmt.join(t.versions, _v.id == table.c.version_id)
                .join(t.models, t.models.c.id == _v.model_id)
                .where(t.models.c.name == model)
            )
        out[name] = list(conn.execute(stmt))
    return out


def tags_off_model(conn: Connection, model: str | None) -> list[Row[Any]]:
    """(model, number) of each version (of every model, or of one) that has a tag row
    naming another model than the version's: search by model and tag walks the tag
    rows by their ``model_id``, so such a row hides the version from it."""
    vt, m = t.version_tags.c, t.models.c
    stmt = (
        sa.select(m.name.label("model"), _v.number)
        .select_from(t.version_tags.join(t.versions, _v.id == vt.version_id))
        .join(t.models, m.id == _v.model_id)
        .where(vt.model_id != _v.model_id)
        .distinct()
        .order_by(m.name, _v.number)
    )
    if model is not None:
        stmt = stmt.where(m.name == model)
    return list(conn.execute(stmt))


def stages_in_use(conn: Connection) -> set[str]:
    """Every stage some version is in."""
    return {r[0] for r in conn.execute(sa.select(_v.stage).distinct())}


def serving_state(conn: Connection) -> tuple[list[Row[Any]], list[Row[Any]]]:
    """(model, alias, number, stage) of every alias, and (model, number) of every
    deployed version: what the serving rule is checked against."""
    m = t.models.c
    pointed = list(
        conn.execute(
            sa.select(m.name.label("model"), _a.name.label("alias"), _v.number, _v.stage)
            .select_from(
                t.aliases.join(t.versions, _v.id == _a.version_id).join(
                    t.models, m.id == _a.model_id
                )
            )
            .order_by(m.name, _a.name)
        )
    )
    deployed = list(
        conn.execute(
            sa.select(m.name.label("model"), _v.number)
            .select_from(t.versions.join(t.models, m.id == _v.model_id))
            .where(_v.stage == "deployed")
            .order_by(m.name, _v.number)
        )
    )
    return pointed, deployed


def stage_events(conn: Connection, chain: str, number: int) -> list[str]:
    """The canonical encodings of the stage moves and archives of version ``number``
    on the model chain ``chain``, newest first."""
    e = t.events.c
    stmt = (
        sa.select(e.canonical)
        .where(
            e.chain == chain,
            e.version == number,
            e.action.in_(("version.stage", "version.archive")),
        )
        .order_by(e.seq.desc())
    )
    return [str(row.canonical) for row in conn.execute(stmt)]
