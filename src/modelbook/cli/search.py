"""``modelbook search``: versions of every model that a query matches (docs/search.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .app import JsonOpt, LimitOpt, PageTokenOpt, app, open_registry
from .render import (
    emit_json,
    fmt_time,
    line,
    page_footer,
    page_json,
    safe,
    table,
    version_json,
)

if TYPE_CHECKING:
    from ..domain import Version
    from ..query import Field


def _ordered_value(v: Version, field: Field) -> str:
    """The value a page is ordered by, as shown in its column."""
    if field.name == "number":
        return str(v.number)
    if field.name == "created_at":
        return fmt_time(v.created_at)
    for m in v.metrics:
        if (m.name, m.split or "", m.slice_key) == (field.key, field.split, field.slice):
            return f"{m.value:g}"
    return ""


@app.command()
def search(
    query: Annotated[
        str,
        typer.Argument(help="A query, e.g. \"metrics.auc >= 0.85 and tags.region = 'eu'\"."),
    ],
    order_by: Annotated[
        str | None,
        typer.Option(help="FIELD \\[asc|desc] on number, created_at or metrics.NAME."),
    ] = None,
    limit: LimitOpt = 100,
    page_token: PageTokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Versions of every model that QUERY matches, newest first (see docs/search.md)."""
    ordered = None
    if order_by is not None:
        from ..query import parse_order

        ordered = parse_order(order_by, "--order-by").field
    with open_registry(create=False) as registry:
        page = registry.search(query, order_by=order_by, limit=limit, page_token=page_token)
        # Only an empty answer pays for the look-up: a metric named without the split
        # it was registered with (auc for auc@test) finds nothing, silently otherwise.
        hints = registry.search_hints(query) if not page.items else ()
    if as_json:
        emit_json(page_json("versions", page, [version_json(v) for v in page.items]))
        _hints(hints)
        return
    columns = ["model", "#", "semver", "stage", "aliases", "created", "by"]
    if ordered is not None and ordered.name == "metrics":
        columns.append(ordered.text)
    table(
        columns,
        (
            (
                v.model,
                str(v.number),
                v.semver,
                str(v.stage) + (" (deprecated)" if v.deprecated else ""),
                ", ".join(v.aliases),
                fmt_time(v.created_at),
                v.created_by,
                *(() if len(columns) == 7 or ordered is None else (_ordered_value(v, ordered),)),
            )
            for v in page.items
        ),
    )
    page_footer(page)
    _hints(hints)


def _hints(hints: tuple[str, ...]) -> None:
    for hint in hints:
        line(f"hint: {safe(hint)}", err=True)
