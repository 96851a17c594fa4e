"""The SQL compiler of the query language: typed tree (:mod:`modelbook.query.tree`)
-> SQLAlchemy Core conditions with bound values only (pages: :mod:`.query_pages`).

Each condition is a probe of a version row that never multiplies rows: a tag,
parameter or metric is a lookup on its table's primary key (which starts with
``version_id``); lineage, aliases and approvals are ``version_id IN
(subquery)``, and model fields ``model_id IN (subquery)``, which a planner
may also use to drive the walk when they are selective.

Logic is two-valued: a condition on a missing value is false, so ``not X``
holds wherever ``X`` does not (``X IS NOT TRUE``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement, Grouping

from ..query.fields import CATALOG
from ..query.tree import (
    And,
    Compare,
    Everything,
    Field,
    IsNull,
    Like,
    Member,
    Node,
    Not,
    Or,
)
from . import schema as t
from .query_shapes import LINEAGE, RANGED, Slot, glob, sql_value

_v = t.versions.c
_m = t.models.c
Test = Callable[[Any], ColumnElement[bool]] | None
Clause = ColumnElement[bool]
# Model fields by their column in ``models``.
_MODEL_FIELDS = {"name": "name", "task": "task", "risk": "risk_tier"}
#: Fields of a version's model rather than of the version itself.
MODEL_LEVEL = frozenset({*_MODEL_FIELDS, "owner"})
_VERSION_FIELDS = {"number": "number", "stage": "stage", "created_at": "created_at"}
_VERSION_FIELDS["created_by"] = "created_by"
_ENV_PATHS: dict[str, tuple[str, ...]] = {
    key: ("environment", key)
    for key in ("python", "platform", "cpu", "gpu", "packages_sha256", "image_digest")
}
_ENV_PATHS["lockfile"] = ("environment", "lockfile", "sha256")
_ORDERING = {"<", "<=", ">", ">="}


def _jsonb() -> Any:
    # PostgreSQL's dialect is imported only by a query that runs there: a command on
    # SQLite would otherwise pay for loading it.
    from sqlalchemy.dialects.postgresql import JSONB

    return JSONB


class Compiler:
    """Compiles nodes for one dialect, over ``versions`` (or ``models`` for ``scope``).

    ``walk``: conditions on a version's model (name, task, risk, owner) are
    tests of each version read, never the way in: the page walks versions
    newest first instead of gathering every version of the matching models
    and sorting them (see :mod:`.query_pages`).
    """

    def __init__(
        self, dialect: str, scope: str = "version", *, walk: bool = False, probe: bool = False
    ) -> None:
        self.dialect = dialect
        self.scope = scope
        self.walk = walk
        # ``probe``: a version's own columns and its lineage are tested on the row
        # read, never used as a way in (a range walked newest first would
        # otherwise be read whole through its index and sorted).
        self.probe = probe

    # conditions ----------------------------------------------------------------

    def node(self, node: Node) -> Clause:
        if isinstance(node, Everything):
            return sa.true()
        if isinstance(node, And):
            return sa.and_(*(self.node(i) for i in node.items))
        if isinstance(node, Or):
            return sa.or_(*(self.node(i) for i in node.items))
        if isinstance(node, Not):
            # IS NOT TRUE holds for false and for NULL (a missing value), and nests
            # shallower in the SQL than NOT coalesce(X, false). The condition is
            # parenthesised: SQL's NOT binds looser than IS, so a condition that
            # begins with NOT would otherwise read NOT (rest IS NOT TRUE).
            return Grouping(self.node(node.item)).is_not(sa.true())
        return self.predicate(node)

    def predicate(self, node: Compare | Member | Like | IsNull) -> Clause:
        field = node.field
        if field.name == "deprecated":
            return self._deprecated(node)
        if isinstance(node, IsNull):
            if not node.negated and self.scope == "version" and field.name in MODEL_LEVEL:
                # Every version has its model: "the model's field is missing" picks
                # models (``model_id IN``, an index's way in), where NOT IN reads
                # every version.
                missing = sa.not_(self._model_has(field, lambda col: col.is_not(None), None))
                return self._model_id.in_(sa.select(_m.id).where(missing))
            if node.negated and self._keyed(field):
                return _v.id.in_(self.keyed(field, None))
            has = self.has(field, None)
            return has if node.negated else sa.not_(has)
        negated = isinstance(node, Compare) and node.op == "!="
        negated = negated or (isinstance(node, Member | Like) and node.negated)
        positive = self.test(node)
        if not negated:
            if isinstance(node, Like) and isinstance(node.pattern, Slot) and self._keyed(field):
                slot = node.pattern

                def ranged(col: Any) -> Clause:
                    return sa.and_(self.prefix(col, slot), positive(col))

                return _v.id.in_(self.keyed(field, ranged))
            return self.has(field, positive)
        if self.single(field):
            # One value or none: "has a value and it does not match" is the value's own test.
            return self.has(field, lambda col: sa.not_(positive(col)))
        return sa.and_(self.has(field, None), sa.not_(self.has(field, positive)))

    def test(self, node: Compare | Member | Like) -> Callable[[Any], Clause]:
        """The test of one value column, without the node's negation."""
        field = node.field
        if field.name == "semver" and not isinstance(node, Like):
            return self._semver(node)
        if isinstance(node, Like):
            # A slot holds the pattern already as the dialect reads it (see skeleton).
            raw: Any = node.pattern
            sqlite = self.dialect == "sqlite"
            pattern = raw.bind() if isinstance(raw, Slot) else glob(raw) if sqlite else raw
            if sqlite and isinstance(raw, Slot) and field.name in RANGED:
                # SQLite's GLOB reads U+FFFE and U+FFFF as U+FFFD; the prefix's range
                # (see skeleton), which the gathering through the index reads too,
                # holds the prefix to its code points whichever way the page goes.
                return lambda col: sa.and_(
                    self.prefix(col, raw), col.op("GLOB", is_comparison=True)(pattern)
                )
            if sqlite:
                return lambda col: col.op("GLOB", is_comparison=True)(pattern)
            if isinstance(raw, Slot) and node.field.name in LINEAGE:
                # The prefix's byte range (see skeleton) walks the text_pattern_ops index.
                return lambda col: sa.and_(self.prefix(col, raw), col.like(pattern, escape="\\"))
            return lambda col: col.like(pattern, escape="\\")
        if isinstance(node, Member):
            values = [sql_value(v) for v in node.values]
            return lambda col: col.in_(values)
        op = "=" if node.op == "!=" else node.op
        value = sql_value(node.value)
        text = CATALOG[field.name].kind == "text"

        def compare(col: Any) -> Clause:
            if text and op in _ORDERING and self.dialect == "postgresql":
                # Text orders by code point on every database, as SQLite's BINARY does.
                col = col.collate("C")
            return col.op(op, is_comparison=True)(value)  # type: ignore[no-any-return]

        return compare

    def prefix(self, col: Any, slot: Slot) -> Clause:
        """``col`` within the byte range of the ``like`` prefix bound at ``slot`` (see
        :func:`.query_shapes.skeleton`): a range of the value's index. PostgreSQL
        compares bytes with the operators of ``text_pattern_ops``, SQLite with its
        own (``BINARY``)."""
        lo = sa.bindparam(f"{slot.name}_lo", type_=sa.String())
        hi = sa.bindparam(f"{slot.name}_hi", type_=sa.String())
        if self.dialect == "postgresql":
            return sa.and_(
                col.op("~>=~", is_comparison=True)(lo), col.op("~<~", is_comparison=True)(hi)
            )
        return sa.and_(col >= lo, col < hi)

    def _keyed(self, field: Field) -> bool:
        """Whether a positive test of ``field`` (a tag or parameter) is ``version_id IN``
        its rows, which PostgreSQL's planner may read through the ``(key, value,
        version_id)`` index when they are few. Probing, and on SQLite, whose planner
        has no statistics to tell, it is a lookup of the version's row by key."""
        return (
            self.dialect == "postgresql"
            and self.scope == "version"
            and not self.probe
            and field.name in RANGED
        )

    def keyed(self, field: Field, test: Test) -> sa.Select[Any]:
        """The ids of the versions whose tag or parameter ``field`` has a value (that
        passes ``test``, when given), off the ``(key, value, version_id)`` index."""
        table = t.version_tags if field.name == "tags" else t.params
        found = table.alias(f"{field.name}_rows")
        where = [found.c.key == field.key]
        if test is not None:
            where.append(test(found.c.value))
        return sa.select(found.c.version_id).where(*where)

    def _unindexed(self, column: Any) -> Any:
        """``column``, as an expression no index holds when probing."""
        if not self.probe:
            return column
        if isinstance(column.type, sa.Integer):
            return column + 0
        return column.op("||")(sa.literal_column("''", sa.String()))

    def _semver(self, node: Compare | Member) -> Callable[[Any], Clause]:
        columns = (_v.semver_major, _v.semver_minor, _v.semver_patch)
        parts = sa.tuple_(*(self._unindexed(c) for c in columns))
        if isinstance(node, Member):
            values = [sa.tuple_(*(sa.literal(p) for p in v)) for v in node.values]  # type: ignore[union-attr]
            # One IN of row values, not an OR per value: SQLite refuses an expression
            # nested 1,000 deep, which a list of 999 versions made.
            return lambda _col: parts.in_(values)
        op = "=" if node.op == "!=" else node.op
        literal = sa.tuple_(*(sa.literal(p) for p in node.value))  # type: ignore[union-attr]
        return lambda _col: parts.op(op, is_comparison=True)(literal)

    def _deprecated(self, node: Compare | Member | Like | IsNull) -> Clause:
        if isinstance(node, IsNull):
            return sa.true() if node.negated else sa.false()
        if isinstance(node, Compare):
            wanted = {node.value == (node.op == "=")}
        else:
            assert isinstance(node, Member)
            wanted = {bool(v) for v in node.values}
            if node.negated:
                wanted = {True, False} - wanted
        deprecated = _v.deprecated_at.is_not(None)
        if wanted == {True, False}:
            return sa.true()
        if not wanted:
            return sa.false()
        return deprecated if True in wanted else sa.not_(deprecated)

    @property
    def _model_id(self) -> sa.ColumnElement[int]:
        # "+ 0" keeps the planners from driving the page through the model's
        # versions: an expression is no indexed column.
        return _v.model_id + 0 if self.walk else _v.model_id

    def single(self, field: Field) -> bool:
        spec = CATALOG[field.name]
        return not spec.many and field.name not in LINEAGE

    # where a field's values are -------------------------------------------------

    def has(self, field: Field, test: Test) -> Clause:
        """True when the field has a value (that passes ``test``, when given)."""
        name = field.name

        def check(col: Any) -> Clause:
            return col.is_not(None) if test is None else test(col)

        if self.scope == "model":
            return self._model_has(field, check, test)
        if name in _VERSION_FIELDS or name == "semver":
            return check(self._unindexed(_v[_VERSION_FIELDS.get(name, "semver")]))
        if name in MODEL_LEVEL:
            return self._model_id.in_(sa.select(_m.id).where(self._model_has(field, check, test)))
        if name in ("tags", "params"):
            table = t.version_tags if name == "tags" else t.params
            value = (
                sa.select(table.c.value)
                .where(table.c.version_id == _v.id, table.c.key == field.key)
                .scalar_subquery()
            )
            return check(value)
        if name == "metrics":
            mt = t.metrics.alias("metric")
            return sa.exists().where(
                mt.c.version_id == _v.id,
                *metric_key(mt, field),
                *(() if test is None else (test(mt.c.value),)),
            )
        if name == "env":
            return check(self._env(field.key or ""))
        rows, value_col = self._rows(field)
        if self.probe and name in LINEAGE:
            return sa.exists(rows.where(rows.selected_columns[0] == _v.id, check(value_col)))
        return _v.id.in_(rows.where(check(value_col)))

    def _rows(self, field: Field) -> tuple[sa.Select[Any], Any]:
        """(SELECT version_id FROM ... of the field's rows, their value column)."""
        if field.name in LINEAGE:
            kind, key = LINEAGE[field.name]
            ln = t.lineage.alias("ln")
            stmt = sa.select(ln.c.version_id).where(ln.c.kind == kind, ln.c.key == key)
            return stmt, ln.c.value
        if field.name == "alias":
            # Only a row that agrees with the version it points at (of the alias's own
            # model, with its number) matches: a row edited in SQL to point elsewhere
            # never makes another version, another model's least of all, hold the
            # alias. The search names such rows apart (store.aliases.damaged).
            al, held = t.aliases.alias("al"), t.versions.alias("held")
            sound = sa.and_(
                held.c.id == al.c.version_id,
                held.c.model_id == al.c.model_id,
                held.c.number == al.c.number,
            )
            return sa.select(al.c.version_id).select_from(al.join(held, sound)), al.c.name
        # approved_by: approvals not withdrawn by a later rejection of the same reviewer.
        ap, rj = t.notes.alias("approval"), t.notes.alias("rejection")
        withdrawn = sa.exists().where(
            rj.c.version_id == ap.c.version_id,
            rj.c.kind == "rejection",
            rj.c.actor == ap.c.actor,
            rj.c.id > ap.c.id,
        )
        stmt = sa.select(ap.c.version_id).where(ap.c.kind == "approval", sa.not_(withdrawn))
        return stmt, ap.c.actor

    def _model_has(self, field: Field, check: Callable[[Any], Clause], test: Test) -> Clause:
        """The condition on a ``models`` row (in either scope)."""
        name = field.name
        if name == "owner":
            owners = self._json_elements(_m.owners)
            cond = owners.c.value.is_not(None) if test is None else test(owners.c.value)
            return sa.exists(sa.select(sa.literal(1)).select_from(owners).where(cond))
        if name == "tags":
            mt = t.model_tags
            value = (
                sa.select(mt.c.value)
                .where(mt.c.model_id == _m.id, mt.c.key == field.key)
                .scalar_subquery()
            )
            return check(value)
        column = _MODEL_FIELDS.get(name, name)
        return check(_m[column])

    def _json_elements(self, column: Any) -> Any:
        if self.dialect == "postgresql":
            fn = sa.func.jsonb_array_elements_text(sa.cast(column, _jsonb()))
        else:
            fn = sa.func.json_each(column)
        return fn.table_valued("value").alias("elem")

    def _env(self, key: str) -> Any:
        path = _ENV_PATHS.get(key)
        if self.dialect == "postgresql":
            doc = sa.cast(_v.doc, _jsonb())
            parts = path if path is not None else ("environment", "frameworks", key)
            return sa.func.jsonb_extract_path_text(doc, *parts)
        if path is not None:
            return sa.func.json_extract(_v.doc, "$." + ".".join(path))
        # A framework's name is user text: matched as a bound value, never put in a path.
        each = (
            sa.func.json_each(_v.doc, "$.environment.frameworks")
            .table_valued("key", "value")
            .alias("fw")
        )
        return sa.select(each.c.value).where(each.c.key == key).scalar_subquery()

    # ordering -----------------------------------------------------------------------

    def order_value(self, field: Field) -> Any:
        if field.name == "metrics":
            mt = t.metrics.alias("ordered")
            return (
                sa.select(mt.c.value)
                .where(mt.c.version_id == _v.id, *metric_key(mt, field))
                .scalar_subquery()
            )
        return _v[_VERSION_FIELDS[field.name]]


def metric_key(mt: Any, field: Field) -> tuple[Clause, ...]:
    return (mt.c.name == field.key, mt.c.split == field.split, mt.c.slice == field.slice)
