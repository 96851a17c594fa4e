"""The live state ``audit verify`` compares with the log: each table read once, in bulk."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..audit_compare import Live
from . import schema as t
from .engine import Prebuilt


class _tags_text(FunctionElement[str]):
    """Key-value rows as one JSON object, written as :func:`modelbook.store.rows.dumps`
    writes tags (compact, keys in code point order, text unescaped), by the database.

    An object's indexed tags then come with its row as the text its tags column
    holds when the two agree, and a comparison of the two is one of strings.
    SQLite's ``json_group_object`` writes that form over rows in key order (the
    primary key's); PostgreSQL's ``to_json`` escapes strings alike.
    """

    inherit_cache = True


@compiles(_tags_text, "sqlite")
def _tags_text_sqlite(element: _tags_text, compiler: Any, **kw: Any) -> str:
    return f"json_group_object({compiler.process(element.clauses, **kw)})"


@compiles(_tags_text, "postgresql")
def _tags_text_postgresql(element: _tags_text, compiler: Any, **kw: Any) -> str:
    key, value = (compiler.process(c, **kw) for c in element.clauses)
    return (
        f"'{{' || coalesce(string_agg(to_json({key})::text || ':' || to_json({value})::text, "
        f"',' ORDER BY {key} COLLATE \"C\"), '') || '}}'"
    )


class _doc_files(FunctionElement[str]):
    """The file list of a version's document as JSON text, None when the document is
    not JSON (SQLite), or NULL (PostgreSQL, whose cast of text that is not JSON
    raises: :func:`live` reads its list in Python from the document, which comes
    with the row in any case)."""

    inherit_cache = True


@compiles(_doc_files, "sqlite")
def _doc_files_sqlite(element: _doc_files, compiler: Any, **kw: Any) -> str:
    doc = compiler.process(element.clauses, **kw)
    return f"CASE WHEN json_valid({doc}) THEN {doc} -> '$.artifacts' END"


@compiles(_doc_files, "postgresql")
def _doc_files_postgresql(element: _doc_files, compiler: Any, **kw: Any) -> str:
    return "NULL"


class _files_text(FunctionElement[str]):
    """A version's ``artifacts`` rows as one JSON array in path order, each object as
    registration writes a manifest entry (keys sorted, compact), by the database."""

    inherit_cache = True


@compiles(_files_text, "sqlite")
def _files_text_sqlite(element: _files_text, compiler: Any, **kw: Any) -> str:
    path, sha256, size = (compiler.process(c, **kw) for c in element.clauses)
    return f"json_group_array(json_object('path', {path}, 'sha256', {sha256}, 'size', {size}))"


@compiles(_files_text, "postgresql")
def _files_text_postgresql(element: _files_text, compiler: Any, **kw: Any) -> str:
    path, sha256, size = (compiler.process(c, **kw) for c in element.clauses)
    entry = (
        f"""'{{"path":' || to_json({path})::text || ',"sha256":' || to_json({sha256})::text """
        f"""|| ',"size":' || to_json({size})::text || '}}'"""
    )
    return f"'[' || coalesce(string_agg({entry}, ',' ORDER BY {path} COLLATE \"C\"), '') || ']'"


_m, _v, _a = t.models.c, t.versions.c, t.aliases.c
_mt, _vt, _art = t.model_tags.c, t.version_tags.c, t.artifacts.c
_target = t.versions.alias("target")
_target_model = t.models.alias("target_model")

_MODELS = Prebuilt(
    sa.select(
        _m.id,
        _m.name,
        _m.risk_tier,
        _m.owners,
        _m.task,
        _m.description,
        _m.tags,
        sa.select(_tags_text(_mt.key, _mt.value)).where(_mt.model_id == _m.id).scalar_subquery(),
    )
)
# Versions by model id, not name: no join for each of what may be millions of rows.
_VERSIONS = Prebuilt(
    sa.select(
        _v.model_id,
        _v.number,
        _v.stage,
        _v.deprecated_at.is_not(None),
        _v.tags,
        sa.select(_tags_text(_vt.key, _vt.value)).where(_vt.version_id == _v.id).scalar_subquery(),
        _v.aliases,
        _v.semver,
        _v.semver_major,
        _v.semver_minor,
        _v.semver_patch,
        _v.created_by,
        _v.created_at,
        _doc_files(_v.doc),
        sa.select(_files_text(_art.path, _art.sha256, _art.size))
        .where(_art.version_id == _v.id)
        .scalar_subquery(),
        # Hashed whole against the registration event's sha256 of it.
        _v.doc,
    )
)
# The version an alias's row refers to by id, which may not be the one it names.
_ALIASES = Prebuilt(
    sa.select(
        _m.name,
        _a.name,
        _a.number,
        _target.c.number,
        _target_model.c.name,
        _a.updated_by,
        _a.updated_at,
    ).select_from(
        t.aliases.join(t.models, _m.id == _a.model_id)
        .outerjoin(_target, _target.c.id == _a.version_id)
        .outerjoin(_target_model, _target_model.c.id == _target.c.model_id)
    )
)
_PINS = Prebuilt(
    sa.select(_m.name, t.alias_pins.c.alias, t.alias_pins.c.major).select_from(
        t.alias_pins.join(t.models, _m.id == t.alias_pins.c.model_id)
    )
)
_ROLES = Prebuilt(
    sa.select(t.roles.c.actor, t.roles.c.role, t.roles.c.granted_by, t.roles.c.granted_at)
)
_POLICY = Prebuilt(
    sa.select(t.policies.c.sha256, t.policies.c.format, t.policies.c.text)
    .order_by(t.policies.c.id.desc())
    .limit(1)
)


def _files_of(doc: Any) -> str | None:
    """The file list of a version's document as JSON text (None when it has none)."""
    try:
        parsed = orjson.loads(doc)
    except (orjson.JSONDecodeError, TypeError):
        return None
    if type(parsed) is not dict or "artifacts" not in parsed:
        return None
    return orjson.dumps(parsed["artifacts"], option=orjson.OPT_SORT_KEYS).decode()


_COUNT = Prebuilt(sa.select(sa.func.count()).select_from(t.versions))


def versions_count(conn: Connection) -> int:
    """How many versions the registry holds."""
    return int(_COUNT.tuples(conn, {})[0][0])


def live(conn: Connection) -> Live:
    """The current state of every model, version, alias, pin, role and the policy in force."""
    policy = _POLICY.tuples(conn, {})
    versions = _VERSIONS.tuples(conn, {})
    if conn.dialect.name == "postgresql":
        versions = [(*row[:-3], _files_of(row[-1]), *row[-2:]) for row in versions]
    return Live(
        models=_MODELS.tuples(conn, {}),
        versions=versions,
        aliases=_ALIASES.tuples(conn, {}),
        pins=_PINS.tuples(conn, {}),
        roles=_ROLES.tuples(conn, {}),
        policy=tuple(policy[0]) if policy else None,
    )
