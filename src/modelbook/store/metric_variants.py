"""Which metric keys are registered under a name: the hints of a search that named a
metric no version has (``auc`` when only ``auc@test`` was registered)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import schema as t

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
