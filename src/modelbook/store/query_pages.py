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
versions' models, gathers its matches when they are few (:func:`way`). A
position is the (order value, id) of the last row, so a page never repeats or
skips a version that existed when the listing began, whatever is inserted
meanwhile.
"""

from __future__ import annotations

import functools
import math
from typing import Any, TypeGuard

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..query.tree import And, Compare, IsNull, Like, Member, Node, Or, Order, conjuncts
from . import schema as t
from .engine import Prebuilt
from .models import MODEL_COLS
from .query import MODEL_LEVEL, Clause, Compiler, metric_key
from .query_shapes import LINEAGE, RANGED, Slot, skeleton, sql_value
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
        dialect, shape, order, after_shape, way(conn, shape, order, params, limit), summary
    )
    return statement.all(conn, params)


def way(
    conn: Connection, shape: Node, order: Order | None, params: dict[str, Any], limit: int
) -> str | None:
    """How the page of ``shape`` (a :func:`.query_shapes.skeleton`, with its ``params``) is
    read: see :func:`_versions_statement`."""
    estimate = _estimate_statement(conn.dialect.name, shape, order)
    if estimate is None:
        return None
    # Gathering a condition's matches through its index costs their number;
    # walking all versions newest first until the page is full costs about
    # limit * total / matches rows. The cheaper way is taken: a planner cannot
    # tell how many models match, nor SQLite's, without statistics, how many
    # versions a range holds. A count stops where the two costs meet.
    if any(c.name.startswith("part") for c in estimate.stmt.selected_columns):
        params["cap"] = math.isqrt(limit * int(_TOTAL.first(conn, {}).total)) + 1
    counts = estimate.first(conn, params)._asdict()
    params.pop("cap", None)
    total = int(counts.pop("total"))
    way, fewest = min(counts.items(), key=lambda kv: int(kv[1]))
    return "walk" if int(fewest) ** 2 > limit * total else way


def _name_equality(part: Node) -> TypeGuard[Compare]:
    return isinstance(part, Compare) and part.field.name == "name" and part.op == "="


def _tag_equality(part: Node) -> TypeGuard[Compare]:
    return isinstance(part, Compare) and part.field.name in ("tags", "params") and part.op == "="


def _walks(part: Node) -> bool:
    """Whether an index yields the versions ``part`` matches newest first, so that a
    page walks it and stops (a tag, parameter, name, stage or lineage equality,
    ``deprecated = true``)."""
    return _selective(part) or _stage_walk(part)


def _stage_walk(part: Node) -> bool:
    """A stage equality or ``deprecated = true``: walked by its index, but as it may
    hold most versions, a gathering of fewer may still be cheaper."""
    if not isinstance(part, Compare):
        return False
    if part.field.name == "deprecated":
        return part.value is (part.op == "=")
    return part.op == "=" and part.field.name == "stage"


def _selective(part: Node) -> bool:
    """An equality of a tag, parameter, name or lineage field."""
    if not isinstance(part, Compare) or part.op != "=":
        return False
    return part.field.name in ("tags", "params", "name") or part.field.name in LINEAGE


def _gathers(part: Node) -> bool:
    """Whether an index yields the versions ``part`` matches in another order (a
    range or set of values): a page reads them all and sorts them."""
    if isinstance(part, Like):
        return not part.negated and (part.field.name in LINEAGE or part.field.name in RANGED)
    if isinstance(part, Compare):
        positive = part.op != "!="
    elif isinstance(part, Member):
        positive = not part.negated
    else:
        return False
    return positive and part.field.name in ("created_at", "semver", "stage", "metrics")


def _union(parts: list[Node]) -> Or | None:
    """The ``or`` of a newest-first page whose every branch an index walks."""
    if any(_walks(p) for p in parts):
        return None
    return next(
        (
            p
            for p in parts
            if isinstance(p, Or) and all(any(_walks(c) for c in conjuncts(i)) for i in p.items)
        ),
        None,
    )


_TOTAL = Prebuilt(sa.select(sa.func.coalesce(sa.func.max(_v.id), 0).label("total")))


@functools.lru_cache(maxsize=512)
def _estimate_statement(dialect: str, node: Node, order: Order | None) -> Prebuilt | None:
    """For a newest-first page that no equality's index walks: for each way in by
    an index that yields its matches out of order, how many versions it gathers.
    ``models`` (conditions on the versions' models: a ``name like`` prefix, a task,
    an owner ...): the versions the matching models hold, from each model's newest
    number; on SQLite, ``partN`` (the N-th condition, a range or set:
    ``created_at``, ``semver``, ``stage in``, a metric, a lineage ``like``
    prefix): its matches, counted up to ``:cap``; and ``total``, the versions.
    None when an index walks the page, or none gathers."""
    parts = list(conjuncts(node))
    if order is not None or any(_selective(p) for p in parts) or _union(parts) is not None:
        return None
    compiler = Compiler(dialect)
    counts: list[Any] = []
    model = [
        p
        for p in parts
        if isinstance(p, Compare | Member | Like | IsNull) and p.field.name in MODEL_LEVEL
    ]
    if model:
        matching = Compiler(dialect, scope="model").node(And(tuple(model)))
        held = sa.select(sa.func.coalesce(sa.func.sum(_m.last_number), 0)).where(matching)
        counts.append(held.scalar_subquery().label("models"))
    for i, part in enumerate(parts):
        # PostgreSQL's planner knows from its statistics how many versions a range
        # holds, and chooses alike without a count.
        if dialect == "sqlite" and _gathers(part):
            capped = _gathered(compiler, part).limit(sa.bindparam("cap")).subquery()
            counted = sa.select(sa.func.count()).select_from(capped).scalar_subquery()
            counts.append(counted.label(f"part{i}"))
    if not counts:
        return None
    total = sa.select(sa.func.coalesce(sa.func.max(_v.id), 0)).scalar_subquery()
    return Prebuilt(sa.select(total.label("total"), *counts))


def _gathered(compiler: Compiler, part: Node) -> Any:
    """The ids of the versions ``part`` matches, read off its index (a covering one:
    the version rows are not read)."""
    assert isinstance(part, Compare | Member | Like)
    field = part.field
    if field.name == "metrics":
        mt = t.metrics.alias("by_metric")
        where = [*metric_key(mt, field), compiler.test(part)(mt.c.value)]
        return sa.select(mt.c.version_id).where(*where)
    if field.name in RANGED:
        assert isinstance(part, Like)
        pattern = part.pattern
        assert isinstance(pattern, Slot)
        test = compiler.test(part)
        return compiler.keyed(field, lambda col: sa.and_(compiler.prefix(col, pattern), test(col)))
    if field.name in LINEAGE:
        ln = t.lineage.alias("by_lineage")
        kind, key = LINEAGE[field.name]
        where = [ln.c.kind == kind, ln.c.key == key, compiler.test(part)(ln.c.value)]
        return sa.select(ln.c.version_id).where(*where)
    # Not correlated: the subquery reads its own versions' index.
    return sa.select(_v.id).where(compiler.node(part)).correlate(None)


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
    the position's value is missing. ``way`` (see :func:`_estimate_statement`):
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
    union = _union(parts) if order is None else None
    if union is not None:
        # One walk per branch, each with every other condition and stopped after a
        # page; their newest page of ids is the answer's.
        others = [p for p in parts if p is not union]
        branches = [And((b, *others)) for b in union.items]
        return _by_ids([_page(dialect, b, None, after, None, columns) for b in branches], columns)
    gathered = parts[int(way[4:])] if way is not None and way.startswith("part") else None
    # A gathering sorts the ids it finds, and only the page's rows are read whole.
    gathering = way == "models" or gathered is not None
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
    elif gathered is not None:
        # The ids the condition's index range holds, read whole: SQLite walks its
        # list of them newest first (PostgreSQL sorts them) and stops at the page.
        parts.remove(gathered)
        where = [_v.id.in_(_gathered(compiler, gathered))]
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
        name_col = sa.type_coerce(name, sa.String).label("model_name")
    elif not gathering:
        source = source.join(t.models, _m.id == _v.model_id)
    where += [_compiler(dialect, way, p).node(p) for p in parts]
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


def _compiler(dialect: str, way: str | None, part: Node) -> Compiler:
    """The compiler of ``part`` when the page is read the ``way`` chosen: only the
    condition gathered by (the models' with ``models``) is a way in, the others
    test the rows it yields. Walking newest first, a range is tested on each
    version read: through its index it would be read whole and sorted."""
    if way is None:
        return Compiler(dialect)
    if way == "walk":
        return Compiler(dialect, walk=True, probe=_gathers(part))
    if way == "models":
        on_model = isinstance(part, Compare | Member | Like | IsNull)
        return Compiler(dialect, probe=not (on_model and part.field.name in MODEL_LEVEL))  # type: ignore[union-attr]
    return Compiler(dialect, walk=True, probe=True)


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
