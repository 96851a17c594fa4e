"""The rows ``search`` reads beside a version's frozen record, as a pure rule.

Registration writes a version's ``metrics``, ``params`` and ``lineage`` rows from
the values it freezes in the version's record (``versions.doc``), and ``verify``
compares the stored rows with what the stored record yields, by this one rule:
a row that is not what the record yields makes ``search`` find or miss the
version by a value its record does not hold.

The version's tags are not here: they change after registration, and ``audit
verify`` compares their indexed copy with the audit log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from .domain import Lineage, Metric
from .lineage import index_rows

#: The columns of each table's rows, beside ``version_id``, in the order of :class:`SearchRows`.
COLUMNS: dict[str, tuple[str, ...]] = {
    "metrics": ("name", "split", "slice", "value"),
    "params": ("key", "value"),
    "lineage": ("kind", "key", "value"),
}


class SearchRows(NamedTuple):
    """One version's rows of each table, sorted, without duplicates."""

    metrics: tuple[tuple[str, str, str, float], ...]
    params: tuple[tuple[str, str], ...]
    lineage: tuple[tuple[str, str, str], ...]


def search_rows(
    metrics: Iterable[Metric], params: Mapping[str, str], lineage: Lineage
) -> SearchRows:
    """The rows of a version whose record holds ``metrics``, training ``params`` and
    ``lineage``. InvalidInput for a lineage value over ``limits.MAX_VALUE``
    (:func:`~modelbook.lineage.index_rows`)."""
    return SearchRows(
        metrics=tuple(sorted((m.name, m.split or "", m.slice_key, m.value) for m in metrics)),
        params=tuple(sorted(params.items())),
        lineage=tuple(sorted(set(index_rows(lineage)))),
    )


def of_record(record: Any) -> SearchRows:
    """The rows a stored record (a :class:`~modelbook.domain.Version`'s frozen fields)
    yields."""
    return search_rows(record.metrics, record.training.params, record.lineage)


def as_dicts(table: str, rows: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """``rows`` of ``table`` keyed by column, as an INSERT takes them."""
    columns = COLUMNS[table]
    return [dict(zip(columns, row, strict=True)) for row in rows]
