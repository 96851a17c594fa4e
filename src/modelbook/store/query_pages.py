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

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from ..query.tree import Compare, Member, Node, Order, conjuncts
from . import schema as t
from .models import _MODEL_COLS
from .query import Clause, Compiler, metric_key
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
) -> list[Row[Any]]:
    """One page of the versions ``node`` matches, in ``order`` (default: newest first).

    ``after`` is the (order value, version id) of the last row of the previous
    page (the value is None for a version without the ordered metric, which
    sorts last); ties in the order are broken by registration, in the order's
    direction. Rows have ``model_name``, the columns of
    :data:`~.versions.VERSION_COLS`, and ``sort_value`` when ordered.
    """
    compiler = Compiler(conn.dialect.name)
    parts = list(conjuncts(node))
    model_name = next(
        (
            p.value
            for p in parts
            if isinstance(p, Compare) and p.field.name == "name" and p.op == "="
        ),
        None,
    )
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
        tag = next(
            (p for p in parts if isinstance(p, Compare) and p.field.name == "tags" and p.op == "="),
            None,
        )
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
            where += [first.c.key == tag.field.key, first.c.value == tag.value]
        if order is not None:
            sort = compiler.order_value(order.field)
            nullable = order.field.name == "metrics"
    if model_name is not None:
        # A scalar subquery pins model_id to a constant, so the planner walks the
        # model's (model_id, id) index (or the tag's, see above) instead of joining
        # every version's model.
        model_id = sa.select(_m.id).where(_m.name == model_name).scalar_subquery()
        pinned = first.c.model_id if tag is not None else _v.model_id
        where.append(pinned == model_id)
        name_col: Any = sa.literal(model_name, sa.String).label("model_name")
    else:
        source = source.join(t.models, _m.id == _v.model_id)
        name_col = _m.name.label("model_name")
    where += [compiler.node(p) for p in parts]
    cols = [name_col, *VERSION_COLS]
    if sort is not None:
        cols.append(sort.label("sort_value"))
    if after is not None:
        where.append(_after(sort, id_col, after, descending=descending, nullable=nullable))
    keys = _order_keys(sort, id_col, descending=descending, nullable=nullable)
    stmt = sa.select(*cols).select_from(source).where(*where).order_by(*keys).limit(limit)
    return list(conn.execute(stmt))


def _order_keys(sort: Any, id_col: Any, *, descending: bool, nullable: bool) -> list[Any]:
    if sort is None:
        return [id_col.desc()]
    keys = [sort.is_(None)] if nullable else []
    if descending:
        return [*keys, sort.desc(), id_col.desc()]
    return [*keys, sort.asc(), id_col.asc()]


def _after(
    sort: Any, id_col: Any, after: tuple[Any, int], *, descending: bool, nullable: bool
) -> Clause:
    """Rows after the cursor ``(value, id)`` in the page order."""
    value, last_id = after
    if sort is None:
        return id_col < last_id  # type: ignore[no-any-return]
    if value is None:
        # Versions without the metric come last, by id in the order's direction.
        beyond = id_col < last_id if descending else id_col > last_id
        return sa.and_(sort.is_(None), beyond)
    pair, cursor = sa.tuple_(sort, id_col), sa.tuple_(sa.literal(value), sa.literal(last_id))
    later = pair < cursor if descending else pair > cursor
    return sa.or_(later, sort.is_(None)) if nullable else later


def models(conn: Connection, node: Node, *, before_id: int | None, limit: int) -> list[Row[Any]]:
    """Models matching a query of model fields, newest first, below ``before_id``."""
    compiler = Compiler(conn.dialect.name, scope="model")
    stmt = sa.select(*_MODEL_COLS).where(compiler.node(node))
    if before_id is not None:
        stmt = stmt.where(_m.id < before_id)
    return list(conn.execute(stmt.order_by(_m.id.desc()).limit(limit)))
