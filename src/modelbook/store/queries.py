"""SQL statements of the registry, one function per operation.

Each function takes an open ``Connection`` inside the caller's transaction,
so the :class:`~modelbook.registry.Registry` decides what is atomic.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row

from ..domain import Alias, AliasEvent, Model, Version
from . import schema as t
from .engine import Prebuilt

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_dt(us: int) -> datetime:
    """A UTC time from integer microseconds, exactly (no float rounding)."""
    return _EPOCH + timedelta(microseconds=us)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


# models ---------------------------------------------------------------------

_MODEL_COLS = (
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
)


def model_from_row(row: Row[Any]) -> Model:
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


class _Lookup:
    """A one-row lookup, plain or taking a row lock (on PostgreSQL; SQLite's
    write transaction already holds the database's write lock)."""

    def __init__(self, stmt: sa.Select[Any], lock_of: sa.Table) -> None:
        self.plain = Prebuilt(stmt)
        self.locked = Prebuilt(stmt.with_for_update(of=lock_of))

    def first(self, conn: Connection, params: Mapping[str, Any], lock: bool) -> Any:
        use = self.locked if lock and conn.dialect.name == "postgresql" else self.plain
        return use.first(conn, params)


_MODEL_BY_NAME = _Lookup(
    sa.select(*_MODEL_COLS).where(t.models.c.name == sa.bindparam("name")), t.models
)


def find_model(conn: Connection, name: str, *, lock: bool = False) -> Any:
    """The model's row; ``lock`` takes its row lock (PostgreSQL) to serialise writers."""
    return _MODEL_BY_NAME.first(conn, {"name": name}, lock)


def insert_model_if_absent(conn: Connection, values: Mapping[str, Any]) -> bool:
    """Insert a model unless one of that name exists; True when this call created it."""
    stmt: Any
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(t.models).on_conflict_do_nothing(index_elements=["name"])
    elif conn.dialect.name == "sqlite":
        stmt = sqlite.insert(t.models).on_conflict_do_nothing(index_elements=["name"])
    else:
        if find_model(conn, values["name"]) is not None:
            return False
        stmt = t.models.insert()
    return conn.execute(stmt.returning(t.models.c.id), dict(values)).first() is not None


def list_models(conn: Connection, *, before_id: int | None, limit: int) -> list[Row[Any]]:
    stmt = sa.select(*_MODEL_COLS).order_by(t.models.c.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(t.models.c.id < before_id)
    return list(conn.execute(stmt))


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
) -> None:
    """Upsert changed tags, delete removed ones, and store the JSON copy of the result
    (``merged``; None when the owner's row already holds it)."""
    upsert, delete, update = _tag_statements(conn.dialect.name, table, owner_col, json_table)
    upsert.run_many(conn, [{owner_col: owner_id, "key": k, "value": v} for k, v in changed.items()])
    if removed:
        conn.execute(delete, {"owner": owner_id, "keys": list(removed)})
    if merged is not None:
        update.run(conn, {"owner": owner_id, "tags": dumps(dict(merged))})


@functools.cache
def _tag_statements(
    dialect: str, table: sa.Table, owner_col: str, json_table: sa.Table
) -> tuple[Prebuilt, sa.Delete, Prebuilt]:
    insert: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    upsert = insert.on_conflict_do_update(
        index_elements=[owner_col, "key"], set_={"value": insert.excluded.value}
    )
    return (
        Prebuilt(upsert, (owner_col, "key", "value")),
        table.delete().where(
            table.c[owner_col] == sa.bindparam("owner"),
            table.c.key.in_(sa.bindparam("keys", expanding=True)),
        ),
        Prebuilt(json_table.update().where(json_table.c.id == sa.bindparam("owner")), ("tags",)),
    )


# numbering --------------------------------------------------------------------


_m = t.models.c
_FIRST = _m.last_number == 0
_TAKE_AUTO = Prebuilt(
    t.models.update()
    .where(_m.name == sa.bindparam("model_name"))
    .values(
        last_number=_m.last_number + 1,
        semver_major=sa.case((_FIRST, 1), else_=_m.semver_major),
        semver_minor=sa.case((_FIRST, 0), else_=_m.semver_minor + 1),
        semver_patch=0,
    )
    .returning(_m.id, _m.last_number, _m.semver_major, _m.semver_minor, _m.semver_patch)
)
_TAKE_EXPLICIT = Prebuilt(
    t.models.update()
    .where(
        _m.name == sa.bindparam("model_name"),
        sa.or_(
            _FIRST,
            sa.tuple_(_m.semver_major, _m.semver_minor, _m.semver_patch)
            < sa.tuple_(sa.bindparam("major"), sa.bindparam("minor"), sa.bindparam("patch")),
        ),
    )
    .values(
        last_number=_m.last_number + 1,
        semver_major=sa.bindparam("major"),
        semver_minor=sa.bindparam("minor"),
        semver_patch=sa.bindparam("patch"),
    )
    .returning(_m.id, _m.last_number, _m.semver_major, _m.semver_minor, _m.semver_patch)
)


def take_number(conn: Connection, name: str, semver: tuple[int, int, int] | None) -> Any:
    """Take the next number and semver of a model in one statement.

    The row lock it takes serialises writers of the model until commit. The
    semver is the one given (only if greater than the model's highest) or the
    highest with MINOR bumped (``1.0.0`` first). None when the model is
    missing or the given semver is not greater.
    """
    if semver is None:
        return _TAKE_AUTO.first(conn, {"model_name": name})
    major, minor, patch = semver
    params = {"model_name": name, "major": major, "minor": minor, "patch": patch}
    return _TAKE_EXPLICIT.first(conn, params)


def highest_semver(row: Row[Any]) -> tuple[int, int, int] | None:
    """The highest semver of a model, from its row."""
    if row.last_number == 0:
        return None
    return (row.semver_major, row.semver_minor, row.semver_patch)


# versions ---------------------------------------------------------------------

_VERSION_COLS = (
    t.versions.c.id,
    t.versions.c.number,
    t.versions.c.semver,
    t.versions.c.stage,
    t.versions.c.doc,
    t.versions.c.tags,
    t.versions.c.created_at,
    t.versions.c.created_by,
)


def version_from_row(model: str, row: Row[Any]) -> Version:
    """Parse and validate a version in one pass over JSON text.

    The stored document is a JSON object; the row's own columns are spliced
    in as members, so pydantic parses everything in Rust at once, about twice
    as fast as ``json.loads`` followed by ``model_validate``.
    """
    body = row.doc.rstrip()[:-1].rstrip()
    # Model names, semvers and stages are validated on the way in to a
    # character set that JSON needs no escapes for; the creator is free text.
    members = (
        f'"tags":{row.tags},"model":"{model}","number":{int(row.number)},'
        f'"semver":"{row.semver}","stage":"{row.stage}",'
        f'"created_at":"{to_dt(row.created_at).isoformat()}",'
        f'"created_by":{json.dumps(row.created_by)}'
    )
    return Version.model_validate_json(f"{body}{',' if body != '{' else ''}{members}}}")


@functools.cache
def _insert(table: sa.Table, keys: tuple[str, ...], returning: str | None = None) -> Prebuilt:
    """An INSERT of the given columns, built once per table and set of columns."""
    stmt: Any = table.insert()
    if returning is not None:
        stmt = stmt.returning(table.c[returning])
    return Prebuilt(stmt, keys)


def _insert_rows(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows that all set the same columns, in one round trip."""
    if rows:
        _insert(table, tuple(rows[0])).run_many(conn, rows)


@functools.cache
def _insert_child(table: sa.Table, keys: tuple[str, ...]) -> Prebuilt:
    """An INSERT of a version's child rows whose ``version_id`` is the version
    this session inserted last, so that it can be queued behind that INSERT."""
    stmt = table.insert().values(version_id=sa.func.currval(_VERSION_ID_SEQUENCE))
    return Prebuilt(stmt, keys)


# The sequence PostgreSQL creates for the autoincrementing ``versions.id``.
_VERSION_ID_SEQUENCE = f"{t.versions.name}_id_seq"


def insert_version(
    conn: Connection,
    values: Mapping[str, Any],
    *,
    artifacts: Sequence[Mapping[str, Any]],
    tags: Mapping[str, str],
    metrics: Sequence[Mapping[str, Any]],
    params: Mapping[str, str],
    lineage: Iterable[tuple[str, str, str]],
) -> None:
    """Insert a version and its child rows.

    On PostgreSQL the child rows take the new id from the sequence
    (``currval``, local to this session), so no statement waits for the
    version's INSERT to come back and the whole registration is sent at once.
    """
    children: list[tuple[sa.Table, list[dict[str, Any]]]] = [
        (t.artifacts, [dict(a) for a in artifacts]),
        (t.version_tags, [{"key": k, "value": v} for k, v in tags.items()]),
        (t.metrics, [dict(m) for m in metrics]),
        (t.params, [{"key": k, "value": v} for k, v in params.items()]),
        (
            t.lineage,
            [{"kind": k, "key": key, "value": val} for k, key, val in dict.fromkeys(lineage)],
        ),
    ]
    if conn.dialect.name == "postgresql":
        _insert(t.versions, tuple(values)).run(conn, values)
        for table, rows in children:
            if rows:
                _insert_child(table, tuple(rows[0])).run_many(conn, rows)
        return
    version_id = int(_insert(t.versions, tuple(values), "id").first(conn, values).id)
    for table, rows in children:
        _insert_rows(conn, table, [{"version_id": version_id, **r} for r in rows])


# Hot lookups are built once with bind parameters, so each call reuses the
# compiled statement instead of building and caching a new expression tree.
_BY_NAME = (
    sa.select(*_VERSION_COLS)
    .select_from(t.versions.join(t.models, t.models.c.id == t.versions.c.model_id))
    .where(t.models.c.name == sa.bindparam("name"))
)
_BY_NUMBER = _Lookup(_BY_NAME.where(t.versions.c.number == sa.bindparam("number")), t.versions)
_BY_SEMVER = _Lookup(_BY_NAME.where(t.versions.c.semver == sa.bindparam("semver")), t.versions)
_LATEST = _Lookup(_BY_NAME.order_by(t.versions.c.number.desc()).limit(1), t.versions)
_BY_ALIAS = _Lookup(
    sa.select(*_VERSION_COLS)
    .select_from(
        t.models.join(t.aliases, t.aliases.c.model_id == t.models.c.id).join(
            t.versions, t.versions.c.id == t.aliases.c.version_id
        )
    )
    .where(t.models.c.name == sa.bindparam("name"), t.aliases.c.name == sa.bindparam("alias")),
    t.aliases,
)


def find_version(
    conn: Connection, name: str, number: int, *, lock: bool = False
) -> Row[Any] | None:
    return _BY_NUMBER.first(conn, {"name": name, "number": number}, lock)  # type: ignore[no-any-return]


def find_version_by_semver(
    conn: Connection, name: str, semver: str, *, lock: bool = False
) -> Row[Any] | None:
    return _BY_SEMVER.first(conn, {"name": name, "semver": semver}, lock)  # type: ignore[no-any-return]


def find_latest_version(conn: Connection, name: str, *, lock: bool = False) -> Row[Any] | None:
    return _LATEST.first(conn, {"name": name}, lock)  # type: ignore[no-any-return]


def find_version_by_alias(
    conn: Connection, name: str, alias: str, *, lock: bool = False
) -> Row[Any] | None:
    """One indexed lookup: models(name) -> aliases(model_id, name) -> versions(id)."""
    return _BY_ALIAS.first(conn, {"name": name, "alias": alias}, lock)  # type: ignore[no-any-return]


def list_versions(
    conn: Connection, model_id: int, *, after: int | None, limit: int, newest_first: bool
) -> list[Row[Any]]:
    v = t.versions.c
    stmt = sa.select(*_VERSION_COLS).where(v.model_id == model_id).limit(limit)
    if newest_first:
        stmt = stmt.order_by(v.number.desc())
        if after is not None:
            stmt = stmt.where(v.number < after)
    else:
        stmt = stmt.order_by(v.number.asc())
        if after is not None:
            stmt = stmt.where(v.number > after)
    return list(conn.execute(stmt))


# aliases ----------------------------------------------------------------------


_ALIAS_VALUES = ("version_id", "number", "updated_at", "updated_by")
_UPDATE_ALIAS = Prebuilt(
    t.aliases.update().where(
        t.aliases.c.model_id == sa.bindparam("m"), t.aliases.c.name == sa.bindparam("a")
    ),
    _ALIAS_VALUES,
)


def _alias_target(version_match: Any | None) -> sa.Select[Any]:
    m, a = t.models, t.aliases
    cols: list[Any] = [m.c.id.label("model_id"), a.c.number.label("current")]
    source: Any = m.outerjoin(a, sa.and_(a.c.model_id == m.c.id, a.c.name == sa.bindparam("alias")))
    if version_match is not None:
        v = t.versions
        source = source.outerjoin(v, sa.and_(v.c.model_id == m.c.id, version_match))
        cols += [v.c.id.label("version_id"), v.c.number.label("number")]
    return sa.select(*cols).select_from(source).where(m.c.name == sa.bindparam("name"))


_ALIAS_TARGETS = {
    "number": Prebuilt(_alias_target(t.versions.c.number == sa.bindparam("version"))),
    "semver": Prebuilt(_alias_target(t.versions.c.semver == sa.bindparam("version"))),
    None: Prebuilt(_alias_target(None)),
}


def alias_target(
    conn: Connection, name: str, alias: str, kind: str | None = None, version: Any = None
) -> Any:
    """Model id, the alias's current number and (by ``kind``) the wanted version, at once.

    None when the model does not exist; ``current`` is None when the alias
    does not, ``version_id`` when the version does not. On PostgreSQL the
    model's row is locked first, in its own statement: that serialises the
    model's alias moves, and the alias is then read after the lock is held
    (a lock taken by the same statement would leave its joined rows stale).
    The lock's row is not needed, so in a pipelined write both statements go
    to the server at once.
    """
    if conn.dialect.name == "postgresql":
        _MODEL_BY_NAME.locked.run(conn, {"name": name})
    params: dict[str, Any] = {"name": name, "alias": alias}
    if kind is not None:
        params["version"] = int(version) if kind == "number" else version
    return _ALIAS_TARGETS[kind].first(conn, params)


def put_alias(
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
        _UPDATE_ALIAS.run(conn, {"m": model_id, "a": alias, **values})
    else:
        _INSERT_ALIAS.run(conn, {"model_id": model_id, "name": alias, **values})


_INSERT_ALIAS = Prebuilt(t.aliases.insert(), ("model_id", "name", *_ALIAS_VALUES))


_DROP_ALIAS = t.aliases.delete().where(
    t.aliases.c.model_id == sa.bindparam("m"), t.aliases.c.name == sa.bindparam("a")
)


def drop_alias(conn: Connection, model_id: int, alias: str) -> None:
    conn.execute(_DROP_ALIAS, {"m": model_id, "a": alias})


def record_alias_event(
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
    _INSERT_ALIAS_EVENT.run(
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


_INSERT_ALIAS_EVENT = Prebuilt(
    t.alias_events.insert(),
    ("model_id", "alias", "from_number", "to_number", "actor", "reason", "at"),
)


def list_aliases(conn: Connection, model: str, model_id: int) -> list[Alias]:
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


def aliases_of_versions(conn: Connection, model_id: int) -> dict[int, list[str]]:
    a = t.aliases.c
    out: dict[int, list[str]] = {}
    for r in conn.execute(
        sa.select(a.number, a.name).where(a.model_id == model_id).order_by(a.name)
    ):
        out.setdefault(r.number, []).append(r.name)
    return out


def alias_history(
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


# events -----------------------------------------------------------------------


def record_event(
    conn: Connection,
    *,
    action: str,
    actor: str,
    at: int,
    model: str | None,
    version: int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    _INSERT_EVENT.run(
        conn,
        {
            "at": at,
            "actor": actor,
            "action": action,
            "model": model,
            "version": version,
            "detail": dumps(dict(detail or {})),
        },
    )


_INSERT_EVENT = Prebuilt(t.events.insert(), ("at", "actor", "action", "model", "version", "detail"))


# artifacts --------------------------------------------------------------------


def all_artifacts(conn: Connection, model: str | None) -> list[Row[Any]]:
    stmt = (
        sa.select(
            t.models.c.name,
            t.versions.c.number,
            t.artifacts.c.path,
            t.artifacts.c.size,
            t.artifacts.c.sha256,
        )
        .select_from(
            t.artifacts.join(t.versions, t.versions.c.id == t.artifacts.c.version_id).join(
                t.models, t.models.c.id == t.versions.c.model_id
            )
        )
        .order_by(t.models.c.name, t.versions.c.number, t.artifacts.c.path)
    )
    if model is not None:
        stmt = stmt.where(t.models.c.name == model)
    return list(conn.execute(stmt))


# search -----------------------------------------------------------------------

_OPS: dict[str, Any] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    "!=": operator.ne,
}


SEARCH_OPS = tuple(_OPS)


def search_versions(
    conn: Connection,
    *,
    model: str | None,
    tags: Mapping[str, str],
    metrics: Sequence[tuple[str, str, str, str, float]],
    stage: str | None,
    before_id: int | None,
    limit: int,
) -> list[Row[Any]]:
    """Versions matching every filter, newest registration first.

    The query walks one index newest first and stops after ``limit`` matches:
    the model's ``(model_id, id)`` index when a model is named, else the
    first tag's ``(key, value, version_id)`` index, else the versions
    themselves. Every other filter is a probe on a narrow indexed table.
    """
    params: dict[str, Any] = {"limit": limit}
    if model is not None:
        params["model"] = model
    if stage is not None:
        params["stage"] = stage
    if before_id is not None:
        params["before"] = before_id
    for j, (key, value) in enumerate(tags.items()):
        params[f"k{j}"], params[f"v{j}"] = key, value
    for j, (name, split, slice_, _, number) in enumerate(metrics):
        params.update({f"mn{j}": name, f"ms{j}": split, f"ml{j}": slice_, f"mv{j}": number})
    shape = (
        model is not None,
        len(tags),
        tuple(m[3] for m in metrics),
        stage is not None,
        before_id is not None,
    )
    return _search_statement(*shape).all(conn, params)


@functools.lru_cache(maxsize=256)
def _search_statement(
    by_model: bool, n_tags: int, metric_ops: tuple[str, ...], by_stage: bool, paged: bool
) -> Prebuilt:
    """The search statement of one filter shape, built once with bound values."""
    v = t.versions.c
    cols = (t.models.c.name.label("model_name"), *_VERSION_COLS)
    tag_probes = range(n_tags)
    if by_model:
        # The model's name is the filter itself: no join to the models table,
        # which the planner would otherwise scan once per row.
        order = v.id
        stmt = sa.select(
            sa.type_coerce(sa.bindparam("model"), sa.String).label("model_name"),
            *_VERSION_COLS,
        )
    elif not n_tags:
        order = v.id
        stmt = sa.select(*cols).select_from(t.versions.join(t.models, t.models.c.id == v.model_id))
    else:
        # Driven by the first tag's index: its rows for one (key, value) are
        # in version order, and each version has at most one row per key.
        first = t.version_tags.alias("by_tag")
        order = first.c.version_id
        stmt = (
            sa.select(*cols)
            .select_from(
                first.join(t.versions, v.id == first.c.version_id).join(
                    t.models, t.models.c.id == v.model_id
                )
            )
            .where(first.c.key == sa.bindparam("k0"), first.c.value == sa.bindparam("v0"))
        )
        tag_probes = range(1, n_tags)
    if by_model:
        # A scalar subquery pins model_id to a constant, so the planner walks
        # the (model_id, id) index newest first instead of every version.
        model_id = (
            sa.select(t.models.c.id)
            .where(t.models.c.name == sa.bindparam("model"))
            .scalar_subquery()
        )
        stmt = stmt.where(v.model_id == model_id)
    if by_stage:
        stmt = stmt.where(v.stage == sa.bindparam("stage"))
    if paged:
        stmt = stmt.where(order < sa.bindparam("before"))
    # A tag probe is a scalar subquery on the primary key (one row or none),
    # which the planner evaluates per walked row instead of hashing every
    # version that has the tag; a missing tag never matches.
    for j in tag_probes:
        vt = t.version_tags.alias(f"tag{j}")
        value = (
            sa.select(vt.c.value)
            .where(vt.c.version_id == v.id, vt.c.key == sa.bindparam(f"k{j}"))
            .scalar_subquery()
        )
        stmt = stmt.where(value == sa.bindparam(f"v{j}"))
    # A metric probe stays EXISTS: PostgreSQL merges it with the walk in
    # version order, which beats a probe per row when few versions match.
    for j, op in enumerate(metric_ops):
        mt = t.metrics.alias(f"metric{j}")
        stmt = stmt.where(
            sa.exists().where(
                mt.c.version_id == v.id,
                mt.c.name == sa.bindparam(f"mn{j}"),
                mt.c.split == sa.bindparam(f"ms{j}"),
                mt.c.slice == sa.bindparam(f"ml{j}"),
                _OPS[op](mt.c.value, sa.bindparam(f"mv{j}")),
            )
        )
    return Prebuilt(stmt.order_by(order.desc()).limit(sa.bindparam("limit")))
