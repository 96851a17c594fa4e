"""A :class:`~modelbook.report.Report` as Markdown or as one self-contained HTML page.

Templates are package data (``modelbook/templates/report.{md,html}.j2``),
rendered with Jinja2. HTML is autoescaped; Markdown goes through
:func:`md_text`, which escapes what would break a table or start markup, so
text from users is shown as written in both. The HTML page needs nothing
else: its CSS and SVG charts are inline and it names no URL, so it opens and
prints offline (A4, charts never cut across pages).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from . import display
from .errors import InvalidInput

if TYPE_CHECKING:
    import jinja2

    from .report import Report

Format = Literal["md", "html"]
FORMATS: tuple[str, ...] = ("md", "html")

# CommonMark lets any ASCII punctuation be escaped with a backslash; these are the ones
# that open markup, links, HTML or code, or end a table cell.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_BACKTICKS = re.compile(r"`+")


def visible(value: object) -> str:
    """Text with the characters a page would act on (controls but tab and newline,
    bidirectional overrides) written as escapes: :func:`modelbook.display.visible`."""
    return display.visible(str(value), keep="\t\n")


def _finalize(value: object) -> object:
    # Every {{ }} of user text, before autoescaping; markup a filter built is left as it is.
    import markupsafe

    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return visible(value)
    return value


def md_text(value: object) -> str:
    """Text safe inside a Markdown paragraph, list item or table cell: one line,
    markup characters and ``|`` backslash-escaped, control characters visible."""
    text = visible(value).replace("\r\n", "\n")
    text = re.sub(r"[\r\n\t]+", " ", text)
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_code(lines: object) -> str:
    """A fenced code block holding ``lines`` exactly, whatever backticks they contain."""
    items = [lines] if isinstance(lines, str) else list(lines)  # type: ignore[call-overload]
    body = "\n".join(visible(x).replace("\n", "\\n") for x in items)
    longest = max((len(m.group()) for m in _BACKTICKS.finditer(body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{body}\n{fence}"


def when(at: datetime | None) -> str:
    """A time in UTC to the second: ``2026-11-30 12:00:05 UTC``."""
    if at is None:
        return "-"
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def short(at: datetime) -> str:
    """A time in UTC to the minute, for table cells: ``2026-11-30 12:00``."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def tick(value: float) -> str:
    """An axis label: three significant digits."""
    return f"{value:.3g}"


def num(value: float | None) -> str:
    """A metric value: up to six significant digits, ``-`` when absent."""
    return "-" if value is None else f"{value:.6g}"


def size(count: int) -> str:
    """A byte count in binary units: ``4.0 KiB``."""
    amount = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if amount < 1024 or unit == "TiB":
            return f"{count} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("modelbook", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.filters.update(
        md=md_text,
        md_code=md_code,
        visible=visible,
        when=when,
        short=short,
        tick=tick,
        num=num,
        size=size,
    )
    return env


def render(report: Report, format: str = "md") -> str:
    """The report as Markdown (``md``) or as one self-contained HTML page (``html``).

    Raises:
        InvalidInput: an unknown format.
    """
    if format not in FORMATS:
        raise InvalidInput(f"unknown report format {format!r}: choose md or html")
    template = _environment().get_template(f"report.{format}.j2")
    context: dict[str, Any] = {"r": report, "v": report.version, "c": report.completeness}
    return template.render(context)
