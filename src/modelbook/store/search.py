"""Search of versions by model, stage, exact tags and metric thresholds.

How a search statement stays in proportion to its answer (the rule every
statement over versions follows, whoever builds it):

- Results come newest registration first (``versions.id`` descending) and stop
  after a page, so the statement walks one index that yields candidate
  versions already in ``id`` order and stops after ``limit`` matches. Never
  sort the matches of a filter to find the newest: that reads every match.
- Pick the walk from the most selective equality filter that has such an
  index: a tag with the model named, ``version_tags (key, value, model_id,
  version_id)`` with ``model_id`` pinned by a scalar subquery on the model's
  name (never a join to ``models``); a tag alone, ``version_tags (key, value,
  version_id)``; a lineage field, ``lineage (kind, key, value, version_id)``; a
  parameter, ``params (key, value, version_id)``; the model alone, ``versions
  (model_id, id)``; otherwise the versions' primary key.
- Every other filter is a probe of the walked row: a scalar subquery on the
  child table's primary key (``version_tags (version_id, key)``, one row or
  none) for a tag, EXISTS for a metric, lineage field or parameter.
- An ``or`` of equality filters is one walk per branch, each ordered and
  limited, merged by ``UNION`` of ids and ordered and limited again; an ``or``
  that no index orders walks the versions' primary key and probes.
- A ``like`` prefix (``'abc%'``) is a range on the same index (``>= 'abc'``
  and ``< 'abd'``; SQLite's LIKE uses no index unless case-sensitive). Its
  matches are not in ``id`` order, so it costs all its matches: walk an
  equality filter's index instead when the query has one.
- An order by a metric walks ``metrics (name, split, slice, value,
  version_id)`` in value order and probes the other filters.
- Values are bound parameters; statements are cached per filter shape.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from . import schema as t
from .engine import Prebuilt
from .versions import VERSION_COLS as _VERSION_COLS

_OPS: dict[str, Any] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    "!=": operator.ne,
}


SEARCH_OPS = tuple(_OPS)


def search(
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
    the first tag's ``(key, value, model_id, version_id)`` index when a model
    and a tag are named, the model's ``(model_id, id)`` index when only a model
    is, the first tag's ``(key, value, version_id)`` index when only tags are,
    else the versions themselves. Every other filter is a probe on a narrow
    indexed table.
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
    if by_model and n_tags:
        # Driven by the first tag's (key, value, model_id, version_id) index:
        # exactly this model's versions with the tag, in version order, so
        # the walk reads the answer and nothing else.
        first = t.version_tags.alias("by_tag")
        order = first.c.version_id
        stmt = (
            sa.select(
                sa.type_coerce(sa.bindparam("model"), sa.String).label("model_name"),
                *_VERSION_COLS,
            )
            .select_from(first.join(t.versions, v.id == first.c.version_id))
            .where(first.c.key == sa.bindparam("k0"), first.c.value == sa.bindparam("v0"))
        )
        tag_probes = range(1, n_tags)
    elif by_model:
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
        stmt = stmt.where((first.c.model_id if n_tags else v.model_id) == model_id)
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
