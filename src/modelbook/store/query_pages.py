"""Pages of versions and models that a query matches: which index drives the walk,
the order, and keyset positions (the conditions are :mod:`.query`'s).

Pages are read newest first (or in ``--order-by`` order) and stop after
``limit`` rows. Of the conditions that must all hold, one may drive the walk
through its index: a metric compared in the ``--order-by`` (the ``(name,
split, slice, value, version_id)`` index, already in order), else a tag or
parameter equality (the ``(key, value, model_id, version_id)`` index when
``name = X`` is also asked, else ``(key, value, version_id)``, in version
order), else ``name = X`` (the model's ``(model_id, id)`` index) or a stage
or deprecation (the versions' ``(stage, id)`` and partial ``(id)`` indexes).
An ``or`` whose every branch has such an equality is one walk per branch,
each stopped after a page. Else a range or set with an index out of version
order (a date, semver, metric or ``like`` prefix), or the conditions on the
versions' models, gathers its matches when they are few (:func:`.query_ways.way`). A
position is the (order value, id) of the last row, so a page never repeats or
skips a version that existed when the listing began, whatever is inserted
meanwhile.
"""

from __future__ import annotations

import functools
from typing import Any, TypeGuard

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..query.tree import And, Compare, Member, Node, Order, conjuncts
from . import query_ways as ways
from . import schema as t
from .engine import Prebuilt
from .models import MODEL_COLS
from .query import Clause, Compiler, metric_key
from .query_shapes import skeleton, sql_value
from .versions import VERSION_COLS

# A version's row without its stored record: what a summary (and a page that
# only lists versions) reads.
SUMMARY_COLS = tuple(c for c in VERSION_COLS if c.name != "doc")

_v = t.versions.c
_m = t.models.c


def _drives_order(part: Node, order: Order) -> bool:
    """Whether ``part`` holds only for versions with the ordered metric, as a range or
    set of its values the metric index can walk."""
    if not isinstance(part, Compare | Member) or part.field != order.field:
        return False
    return (isinstance(part, Compare) and part.op != "!=") or (
        isinstance(part, Member) and not part.negated
    )


def versions(
    conn: Connection,
    node: Node,
    *,
    order: Order | None,
    after: tuple[Any, int] | None,
    limit: int,
    summary: bool = False,
) -> list[Any]:
    """One page of the versions ``node`` matches, in ``order`` (default: newest first).

    ``after`` is the (order value, version id) of the last row of the previous
    page (the value is None for a version without the ordered metric, which
    sorts last); ties in the order are broken by registration, in the order's
    direction. Rows have ``model_name``, the columns of
    :data:`~.versions.VERSION_COLS` (with ``summary``, all but the stored record,
    ``doc``), and ``sort_value`` when ordered.

    The statement is built once per shape of query (its values are bound
    parameters, see :func:`.query_shapes.skeleton`) and run on the driver's cursor.
    """
    dialect = conn.dialect.name
    shape, params = skeleton(node, dialect)
    params["limit"] = limit
    if after is not None:
        params["after_value"], params["after_id"] = after
    after_shape = None if after is None else after[0] is None
    statement = _versions_statement(
        dialect, shape, order, after_shape, ways.way(conn, shape, order, params, limit), summary
    )
    return statement.all(conn, params)


def _name_equality(part: Node) -> TypeGuard[Compare]:
    return isinstance(part, Compare) and part.field.name == "name" and part.op == "="


def _tag_equality(part: Node) -> TypeGuard[Compare]:
    return isinstance(part, Compare) and part.field.name in ("tags", "params") and part.op == "="


@functools.lru_cache(maxsize=512)
def _versions_statement(
    dialect: str,
    node: Node,
    order: Order | None,
    after: bool | None,
    way: str | None = None,
    summary: bool = False,
) -> Prebuilt:
    """The statement of a query shape; ``after``: None on the first page, else whether
    the position's value is missing. ``way`` (see :func:`.query_ways.way`):
    ``walk``, the versions are read newest first and conditions on them or their
    models only test each (see :class:`.query.Compiler`); ``models``, the page
    gathers the matching models' versions and sorts them; ``partN``, the matches
    of the N-th condition through its index, sorted; None, the planner chooses.
    ``summary``: the rows leave out the stored record."""
    columns = SUMMARY_COLS if summary else VERSION_COLS
    return Prebuilt(_page(dialect, node, order, after, way, columns))


def _page(
    dialect: str,
    node: Node,
    order: Order | None,
    after: bool | None,
    way: str | None,
    columns: tuple[Any, ...],
) -> Any:
    walk = way == "walk"
    compiler = Compiler(dialect, walk=walk)
    parts = list(conjuncts(node))
    union = ways.union(parts) if order is None else None
    if union is not None:
        # One walk per branch, each with every other condition and stopped after a
        # page; their newest page of ids is the answer's.
        others = [p for p in parts if p is not union]
        branches = [And((b, *others)) for b in union.items]
        return _by_ids([_page(dialect, b, None, after, None, columns) for b in branches], columns)
    gathered = parts[int(way[4:])] if way is not None and way.startswith("part") else None
    # A gathering sorts the ids it finds, and only the page's rows are read whole.
    gathering = way == "models" or gathered is not None
    named = next((p for p in parts if _name_equality(p)), None)
    model_name = None if named is None else named.value
    id_col: Any = _v.id
    sort: Any = None
    nullable = False
    descending = True if order is None else order.descending
    source: Any = t.versions
    driver = None
    tag = None
    if order is not None and order.field.name == "metrics":
        driver = next((p for p in parts if _drives_order(p, order)), None)
    if driver is not None:
        # The metric's index is already in (value, version_id) order: walk it and stop.
        assert order is not None
        mt = t.metrics.alias("by_metric")
        parts.remove(driver)
        source = mt.join(t.versions, _v.id == mt.c.version_id)
        id_col, sort = mt.c.version_id, mt.c.value
        where: list[Clause] = [*metric_key(mt, order.field), compiler.test(driver)(mt.c.value)]  # type: ignore[arg-type]
    elif gathered is not None:
        # The ids the condition's index range holds, read whole: SQLite walks its
        # list of them newest first (PostgreSQL sorts them) and stops at the page.
        parts.remove(gathered)
        where = [_v.id.in_(ways.gathered(compiler, gathered))]
    else:
        where = []
        # A tag before a parameter: with the model named, only a tag's index holds it.
        equalities = [p for p in parts if _tag_equality(p)]
        tag = min(equalities, key=lambda p: p.field.name != "tags", default=None)
        if tag is not None:
            # Its index rows for one (key, value) are in version order; a version has
            # at most one row per key, so the walk never repeats a version. With the
            # model named, the (key, value, model_id, version_id) index holds exactly
            # that model's versions with the tag: the walk reads only its answer.
            assert isinstance(tag, Compare)
            parts.remove(tag)
            table = t.version_tags if tag.field.name == "tags" else t.params
            first = table.alias("by_tag" if tag.field.name == "tags" else "by_param")
            source = first.join(t.versions, _v.id == first.c.version_id)
            id_col = first.c.version_id
            where += [first.c.key == tag.field.key, first.c.value == sql_value(tag.value)]
        if order is not None:
            sort = compiler.order_value(order.field)
            nullable = order.field.name == "metrics"
    name_col: Any = _m.name.label("model_name")
    if model_name is not None:
        # A scalar subquery pins model_id to a constant, so the planner walks the
        # model's (model_id, id) index (or the tag's, see above) instead of joining
        # every version's model.
        name = sql_value(model_name)
        model_id = sa.select(_m.id).where(_m.name == name).scalar_subquery()
        by_tag = tag is not None and tag.field.name == "tags"
        pinned = first.c.model_id if by_tag else _v.model_id
        where.append(pinned == model_id)
        # The name's own test (model_id IN its models) would look the model up again
        # for every row: the pin holds it. A tag row names its version's model, but
        # one edited in SQL may not, and must not make another model's version match.
        assert named is not None
        parts.remove(named)
        if by_tag:
            where.append(_v.model_id == first.c.model_id)
        name_col = sa.type_coerce(name, sa.String).label("model_name")
    elif not gathering:
        source = source.join(t.models, _m.id == _v.model_id)
    where += [ways.compiler_for(dialect, way, p).node(p) for p in parts]
    cols = [name_col, *columns]
    if sort is not None:
        cols.append(sort.label("sort_value"))
    if after is not None:
        where.append(_after(sort, id_col, after, descending=descending, nullable=nullable))
    # Gathering the models' versions: ordered by an expression, the page cannot be
    # read in the primary key's order, so the planners go in through the matching
    # models' versions.
    keys = _order_keys(
        sort, id_col + 0 if way == "models" else id_col, descending=descending, nullable=nullable
    )
    stmt = sa.select(*cols).select_from(source).where(*where).order_by(*keys)
    stmt = stmt.limit(sa.bindparam("limit"))
    return _by_ids([stmt], columns) if gathering else stmt


def _by_ids(pages: list[Any], columns: tuple[Any, ...]) -> Any:
    """The newest page of the versions whose ids the ``pages`` statements find: each
    sorts, or walks, only ids, and only the page's rows are read whole."""
    ids = [sa.select(p.with_only_columns(_v.id).subquery().c.id) for p in pages]
    found = ids[0] if len(ids) == 1 else sa.union_all(*ids)
    stmt = (
        sa.select(_m.name.label("model_name"), *columns)
        .select_from(t.versions.join(t.models, _m.id == _v.model_id))
        .where(_v.id.in_(found))
    )
    return stmt.order_by(_v.id.desc()).limit(sa.bindparam("limit"))


def _order_keys(sort: Any, id_col: Any, *, descending: bool, nullable: bool) -> list[Any]:
    if sort is None:
        return [id_col.desc()]
    keys = [sort.is_(None)] if nullable else []
    if descending:
        return [*keys, sort.desc(), id_col.desc()]
    return [*keys, sort.asc(), id_col.asc()]


def _after(sort: Any, id_col: Any, missing: bool, *, descending: bool, nullable: bool) -> Clause:
    """Rows after the position ``(after_value, after_id)`` in the page order;
    ``missing``: the position's row has no value."""
    last_id = sa.bindparam("after_id", type_=sa.BigInteger())
    if sort is None:
        return id_col < last_id  # type: ignore[no-any-return]
    if missing:
        # Versions without the metric come last, by id in the order's direction.
        beyond = id_col < last_id if descending else id_col > last_id
        return sa.and_(sort.is_(None), beyond)
    value = sa.bindparam("after_value", type_=sort.type)
    pair, cursor = sa.tuple_(sort, id_col), sa.tuple_(value, last_id)
    later = pair < cursor if descending else pair > cursor
    return sa.or_(later, sort.is_(None)) if nullable else later


def models(conn: Connection, node: Node, *, before_id: int | None, limit: int) -> list[Any]:
    """Models matching a query of model fields, newest first, below ``before_id``."""
    shape, params = skeleton(node, conn.dialect.name)
    params.update(limit=limit, before=before_id)
    statement = _models_statement(conn.dialect.name, shape, before_id is not None)
    return statement.all(conn, params)


@functools.lru_cache(maxsize=128)
def _models_statement(dialect: str, node: Node, paged: bool) -> Prebuilt:
    stmt = sa.select(*MODEL_COLS).where(Compiler(dialect, scope="model").node(node))
    if paged:
        stmt = stmt.where(_m.id < sa.bindparam("before", type_=sa.BigInteger()))
    return Prebuilt(stmt.order_by(_m.id.desc()).limit(sa.bindparam("limit")))
