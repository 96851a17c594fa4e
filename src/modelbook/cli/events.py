"""``modelbook events``: the audit log, newest first, filtered and paged."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from ..errors import InvalidInput
from .app import JsonOpt, LimitOpt, PageTokenOpt, app, open_registry
from .render import emit_json, fmt_time, page_footer, page_json, table
from .times import parse_time

TimeOpt = Annotated[
    str | None,
    typer.Option(
        metavar="TIME",
        help="ISO 8601 (2026-11-30, 2026-11-30T12:00:00Z) or a time ago (30m, 12h, 7d).",
    ),
]


def _time(text: str | None, flag: str, now: datetime) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_time(text, now)
    except ValueError as exc:
        raise InvalidInput(f"invalid {flag} {exc}") from None


def _value(value: Any) -> str:
    """A before or after value in one cell: text as written, anything else as JSON."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _change(event: dict[str, Any]) -> str:
    before, after = event.get("before"), event.get("after")
    if before is None and after is None:
        return ""
    return f"{_value(before)} -> {_value(after)}"


@app.command()
def events(
    model: Annotated[str | None, typer.Option(help="Only events of this model.")] = None,
    action: Annotated[
        list[str],
        typer.Option(help="Only this action, e.g. alias.set; repeat for several."),
    ] = [],  # noqa: B006
    since: TimeOpt = None,
    until: TimeOpt = None,
    limit: LimitOpt = 100,
    page_token: PageTokenOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The audit log, newest first: who did what to which model, when and why."""
    now = datetime.now(UTC)
    start, end = _time(since, "--since", now), _time(until, "--until", now)
    with open_registry(create=False) as registry:
        page = registry.events(
            model=model,
            action=tuple(action) or None,
            since=start,
            until=end,
            limit=limit,
            page_token=page_token,
        )
    dumped = [e.model_dump(mode="json") for e in page.items]
    if as_json:
        emit_json(page_json("events", page, dumped))
        return
    table(
        ("id", "when", "who", "action", "subject", "change", "why"),
        (
            (
                str(d["id"]),
                fmt_time(e.at),
                d["actor"],
                d["action"],
                d["subject"],
                _change(d),
                d.get("reason") or "",
            )
            for e, d in zip(page.items, dumped, strict=True)
        ),
    )
    page_footer(page)
