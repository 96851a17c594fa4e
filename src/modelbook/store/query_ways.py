"""How a page of versions goes in (:mod:`.query_pages`): walked newest first through
an index whose entries are in version order, or gathered through one that yields a
condition's matches in another order and sorted, whichever reads fewer rows.

Gathering a condition's matches costs their number; walking every version newest
first until the page is full costs about limit x versions / matches rows. On
SQLite the matches are counted off the index first, stopping where the two costs
meet; PostgreSQL's planner reads its statistics. For conditions on the versions'
models, the matching models' newest numbers say how many versions they hold.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..query.tree import And, Compare, IsNull, Like, Member, Node, Or, Order, conjuncts
from . import schema as t
from .engine import Prebuilt
from .query import MODEL_LEVEL, Compiler, metric_key
from .query_shapes import LINEAGE, RANGED, Slot

_v = t.versions.c
_m = t.models.c
# Fields whose ranges and sets an index holds out of version order.
_RANGED_COLUMNS = frozenset({"created_at", "semver", "stage", "metrics", "number", "created_by"})
_WALKED_EQUAL = frozenset({"number", "created_by"})


def way(
    conn: Connection, shape: Node, order: Order | None, params: dict[str, Any], limit: int
) -> str | None:
    """How the page of ``shape`` (a :func:`.query_shapes.skeleton`, with its ``params``) is
    read: see :func:`.query_pages._versions_statement`."""
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


def walks(part: Node) -> bool:
    """Whether an index yields the versions ``part`` matches newest first, so that a
    page walks it and stops (a tag, parameter, name, stage, registrant, number or
    lineage equality, ``deprecated = true``)."""
    return selective(part) or _stage_walk(part)


def _stage_walk(part: Node) -> bool:
    """An equality of a stage, a registrant (``created_by``) or a number, or
    ``deprecated = true``: walked by its ``(column, id)`` index, but as it may hold
    most versions, a gathering of fewer may still be cheaper."""
    if not isinstance(part, Compare):
        return False
    if part.field.name == "deprecated":
        return part.value is (part.op == "=")
    return part.op == "=" and part.field.name in ("stage", "created_by", "number")


def selective(part: Node) -> bool:
    """An equality of a tag, parameter, name or lineage field."""
    if not isinstance(part, Compare) or part.op != "=":
        return False
    return part.field.name in ("tags", "params", "name") or part.field.name in LINEAGE


def gathers(part: Node) -> bool:
    """Whether an index yields the versions ``part`` matches in another order (a
    range or set of values): a page reads them all and sorts them."""
    if isinstance(part, Like):
        return not part.negated and (part.field.name in LINEAGE or part.field.name in RANGED)
    if isinstance(part, IsNull):
        # Having the field: its rows by key, off the same index.
        name = part.field.name
        return part.negated and (name in LINEAGE or name in RANGED or name == "metrics")
    if isinstance(part, Compare):
        positive = part.op != "!="
        if part.op == "=" and part.field.name in _WALKED_EQUAL:
            # Its (column, id) index holds exactly its versions, newest last: a walk
            # back from the end reads only the page.
            return False
    elif isinstance(part, Member):
        positive = not part.negated
    else:
        return False
    return positive and part.field.name in _RANGED_COLUMNS


# The most branches of an ``or`` walked one by one. SQLite refuses a compound SELECT
# of more than 500 terms (SQLITE_MAX_COMPOUND_SELECT); long before that, a walk per
# branch reads more than one pass that tests each version against them all.
MAX_UNION = 64


def union(parts: list[Node]) -> Or | None:
    """The ``or`` of a newest-first page whose every branch (at most :data:`MAX_UNION`)
    an index walks."""
    if any(walks(p) for p in parts):
        return None
    return next(
        (
            p
            for p in parts
            if isinstance(p, Or)
            and len(p.items) <= MAX_UNION
            and all(any(walks(c) for c in conjuncts(i)) for i in p.items)
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
    if order is not None or any(selective(p) for p in parts) or union(parts) is not None:
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
        if dialect == "sqlite" and gathers(part):
            capped = gathered(compiler, part).limit(sa.bindparam("cap")).subquery()
            counted = sa.select(sa.func.count()).select_from(capped).scalar_subquery()
            counts.append(counted.label(f"part{i}"))
    if not counts:
        return None
    total = sa.select(sa.func.coalesce(sa.func.max(_v.id), 0)).scalar_subquery()
    return Prebuilt(sa.select(total.label("total"), *counts))


def gathered(compiler: Compiler, part: Node) -> Any:
    """The ids of the versions ``part`` matches, read off its index (a covering one:
    the version rows are not read)."""
    assert isinstance(part, Compare | Member | Like | IsNull)
    field = part.field
    test = None if isinstance(part, IsNull) else compiler.test(part)
    if field.name == "metrics":
        mt = t.metrics.alias("by_metric")
        where = [*metric_key(mt, field), *(() if test is None else (test(mt.c.value),))]
        return sa.select(mt.c.version_id).where(*where)
    if field.name in RANGED:
        if not isinstance(part, Like):
            return compiler.keyed(field, None)
        pattern = part.pattern
        assert isinstance(pattern, Slot)
        like = compiler.test(part)
        return compiler.keyed(field, lambda col: sa.and_(compiler.prefix(col, pattern), like(col)))
    if field.name in LINEAGE:
        ln = t.lineage.alias("by_lineage")
        kind, key = LINEAGE[field.name]
        where = [ln.c.kind == kind, ln.c.key == key, *(() if test is None else (test(ln.c.value),))]
        return sa.select(ln.c.version_id).where(*where)
    assert not isinstance(part, IsNull)
    # Not correlated: the subquery reads its own versions' index.
    return sa.select(_v.id).where(compiler.node(part)).correlate(None)


def compiler_for(dialect: str, way: str | None, part: Node) -> Compiler:
    """The compiler of ``part`` when the page is read the ``way`` chosen: only the
    condition gathered by (the models' with ``models``) is a way in, the others
    test the rows it yields. Walking newest first, a range is tested on each
    version read: through its index it would be read whole and sorted."""
    if way is None:
        return Compiler(dialect)
    if way == "walk":
        return Compiler(dialect, walk=True, probe=gathers(part))
    if way == "models":
        on_model = isinstance(part, Compare | Member | Like | IsNull)
        return Compiler(dialect, probe=not (on_model and part.field.name in MODEL_LEVEL))  # type: ignore[union-attr]
    return Compiler(dialect, walk=True, probe=True)
