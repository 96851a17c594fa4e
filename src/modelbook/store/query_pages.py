"""Pages of versions and models that a query matches: which index drives the walk,
the order, and keyset positions (the conditions are :mod:`.query`'s).

Pages are read newest first (or in ``--order-by`` order) and stop after
``limit`` rows. Of the conditions that must all hold, one may drive the walk
through its index: a metric compared in the ``--order-by`` (the ``(name,
split, slice, value, version_id)`` index, already in order), else a tag
equality (the ``(key, value, model_id, version_id)`` index when ``name = X``
is also asked, else ``(key, value, version_id)``, in version order), else
``name = X`` (the model's ``(model_id, id)`` index). A position is the (order
value, id) of the last row, so a page never repeats or skips a version that
existed when the listing began, whatever is inserted meanwhile.
"""

from __future__ import annotations

import functools
from typing import Any, TypeGuard

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..query.tree import And, Compare, IsNull, Like, Member, Node, Order, conjuncts
from . import schema as t
from .engine import Prebuilt
from .models import MODEL_COLS
from .query import MODEL_LEVEL, Clause, Compiler, metric_key, skeleton, sql_value
from .versions import VERSION_COLS

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
) -> list[Any]:
    """One page of the versions ``node`` matches, in ``order`` (default: newest first).

    ``after`` is the (order value, version id) of the last row of the previous
    page (the value is None for a version without the ordered metric, which
    sorts last); ties in the order are broken by registration, in the order's
    direction. Rows have ``model_name``, the columns of
    :data:`~.versions.VERSION_COLS`, and ``sort_value`` when ordered.

    The statement is built once per shape of query (its values are bound
    parameters, see :func:`.query.skeleton`) and run on the driver's cursor.
    """
    dialect = conn.dialect.name
    shape, params = skeleton(node, dialect)
    params["limit"] = limit
    if after is not None:
        params["after_value"], params["after_id"] = after
    after_shape = None if after is None else after[0] is None
    walk = None
    estimate = _estimate_statement(dialect, shape, order)
    if estimate is not None:
        # Gathering the matching models' versions and sorting them costs their
        # number; walking all versions newest first until the page is full costs
        # about limit * total / candidates rows. The cheaper way is taken: the
        # planners cannot tell, as they do not know how many models match.
        row = estimate.first(conn, params)
        walk = int(row.candidates) ** 2 > limit * int(row.total)
    statement = _versions_statement(dialect, shape, order, after_shape, walk)
    return statement.all(conn, params)


def _name_equality(part: Node) -> TypeGuard[Compare]:
    return isinstance(part, Compare) and part.field.name == "name" and part.op == "="


def _tag_equality(part: Node) -> TypeGuard[Compare]:
    return isinstance(part, Compare) and part.field.name == "tags" and part.op == "="


@functools.lru_cache(maxsize=512)
def _estimate_statement(dialect: str, node: Node, order: Order | None) -> Prebuilt | None:
    """For a newest-first page whose only way in is a condition on the versions'
    models (a ``name like`` prefix, a task, an owner ...): how many versions the
    matching models hold (``candidates``, from each model's newest number) and
    how many versions there are (``total``). None when an index drives the page."""
    parts = conjuncts(node)
    if order is not None or any(_name_equality(p) or _tag_equality(p) for p in parts):
        return None
    model = [
        p
        for p in parts
        if isinstance(p, Compare | Member | Like | IsNull) and p.field.name in MODEL_LEVEL
    ]
    if not model:
        return None
    matching = Compiler(dialect, scope="model").node(And(tuple(model)))
    total = sa.select(sa.func.coalesce(sa.func.max(_v.id), 0)).scalar_subquery()
    candidates = sa.func.coalesce(sa.func.sum(_m.last_number), 0)
    return Prebuilt(sa.select(candidates.label("candidates"), total.label("total")).where(matching))


@functools.lru_cache(maxsize=512)
def _versions_statement(
    dialect: str,
    node: Node,
    order: Order | None,
    after: bool | None,
    walk: bool | None = None,
) -> Prebuilt:
    """The statement of a query shape; ``after``: None on the first page, else whether
    the position's value is missing. ``walk`` (see :func:`_estimate_statement`):
    True, conditions on the versions' models only test the versions read newest
    first (see :class:`.query.Compiler`); False, the page gathers the matching
    models' versions and sorts them; None, the planner chooses."""
    compiler = Compiler(dialect, walk=walk is True)
    parts = list(conjuncts(node))
    model_name = next((p.value for p in parts if _name_equality(p)), None)
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
    else:
        where = []
        tag = next((p for p in parts if _tag_equality(p)), None)
        if tag is not None:
            # Its index rows for one (key, value) are in version order; a version has
            # at most one row per key, so the walk never repeats a version. With the
            # model named, the (key, value, model_id, version_id) index holds exactly
            # that model's versions with the tag: the walk reads only its answer.
            assert isinstance(tag, Compare)
            parts.remove(tag)
            first = t.version_tags.alias("by_tag")
            source = first.join(t.versions, _v.id == first.c.version_id)
            id_col = first.c.version_id
            where += [first.c.key == tag.field.key, first.c.value == sql_value(tag.value)]
        if order is not None:
            sort = compiler.order_value(order.field)
            nullable = order.field.name == "metrics"
    if model_name is not None:
        # A scalar subquery pins model_id to a constant, so the planner walks the
        # model's (model_id, id) index (or the tag's, see above) instead of joining
        # every version's model.
        name = sql_value(model_name)
        model_id = sa.select(_m.id).where(_m.name == name).scalar_subquery()
        pinned = first.c.model_id if tag is not None else _v.model_id
        where.append(pinned == model_id)
        name_col: Any = sa.type_coerce(name, sa.String).label("model_name")
    else:
        source = source.join(t.models, _m.id == _v.model_id)
        name_col = _m.name.label("model_name")
    where += [compiler.node(p) for p in parts]
    cols = [name_col, *VERSION_COLS]
    if sort is not None:
        cols.append(sort.label("sort_value"))
    if after is not None:
        where.append(_after(sort, id_col, after, descending=descending, nullable=nullable))
    # Gathering: ordered by an expression, the page cannot be read in the primary
    # key's order, so the planners go in through the matching models' versions.
    keys = _order_keys(
        sort, id_col + 0 if walk is False else id_col, descending=descending, nullable=nullable
    )
    stmt = sa.select(*cols).select_from(source).where(*where).order_by(*keys)
    return Prebuilt(stmt.limit(sa.bindparam("limit")))


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


_mc = t.metrics.c
_METRIC_EXISTS = (
    sa.select(_mc.version_id)
    .where(
        _mc.name == sa.bindparam("name"),
        _mc.split == sa.bindparam("split"),
        _mc.slice == sa.bindparam("slice"),
    )
    .limit(1)
)
_METRIC_FIRST = (
    sa.select(_mc.split, _mc.slice)
    .where(_mc.name == sa.bindparam("name"))
    .order_by(_mc.split, _mc.slice)
    .limit(1)
)
_METRIC_AFTER = _METRIC_FIRST.where(
    sa.tuple_(_mc.split, _mc.slice) > sa.tuple_(sa.bindparam("split"), sa.bindparam("slice"))
)
_METRIC_NEXT_SPLIT = _METRIC_FIRST.where(_mc.split > sa.bindparam("split"))


def metric_variants(
    conn: Connection, name: str, split: str, slice_: str, limit: int
) -> list[tuple[str, str]] | None:
    """None when some version has the metric (``name``, ``split``, ``slice_``); else up
    to ``limit`` other (split, slice) pairs registered under ``name`` (empty: no metric
    of that name at all).

    Every split recorded is named, one pair each (the asked slice under that split
    when recorded, else its first slice), so that many slices of one split never hide
    another split; then further pairs, in order, while ``limit`` allows. Pairs with
    the asked slice come first.

    Each answer is one seek of the ``(name, split, slice, ...)`` index: the pairs are
    found by skipping from one to the next, so the cost does not grow with the number
    of versions that carry them (a DISTINCT over the name reads one row per version).
    """
    params = {"name": name, "split": split, "slice": slice_}
    if conn.execute(_METRIC_EXISTS, params).first() is not None:
        return None
    found: list[tuple[str, str]] = []
    row = conn.execute(_METRIC_FIRST, {"name": name}).first()
    while row is not None and len(found) < limit:
        pair = (str(row.split), str(row.slice))
        if slice_ != pair[1]:
            same = {"name": name, "split": row.split, "slice": slice_}
            if conn.execute(_METRIC_EXISTS, same).first() is not None:
                pair = (pair[0], slice_)
        found.append(pair)
        row = conn.execute(_METRIC_NEXT_SPLIT, {"name": name, "split": row.split}).first()
    if len(found) < limit:
        row = conn.execute(_METRIC_FIRST, {"name": name}).first()
        while row is not None and len(found) < limit:
            pair = (str(row.split), str(row.slice))
            if pair not in found:
                found.append(pair)
            after = {"name": name, "split": row.split, "slice": row.slice}
            row = conn.execute(_METRIC_AFTER, after).first()
    # The slice asked, under another split, is the likeliest meant: it comes first.
    found.sort(key=lambda pair: pair[1] != slice_)
    return found
