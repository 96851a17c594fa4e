"""What the CLI writes: safe text, tables, JSON and progress bars.

Every text a user typed (names, notes, reasons, tags, paths, actors, error
messages that quote them) reaches a terminal through :func:`safe`, which
escapes the characters a terminal would act on instead of showing. Nothing
printed here is read as markup, emoji shortcodes or highlighting. JSON is
pure ASCII, so it stays valid whatever the terminal's encoding.

rich is imported only by the commands that draw a table or a progress bar,
so a command that prints one line (``resolve``) does not pay for it.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..display import visible
from ..lineage_urls import shown_version

if TYPE_CHECKING:
    from rich.console import Console

    from ..domain import Page, Version

# Transfers smaller than this finish before a progress bar would be readable.
PROGRESS_MIN_BYTES = 16 * 1024 * 1024
# Terminal width assumed when output goes to a file or a pipe, so that a table
# is laid out the same on every machine instead of at a guessed 80 columns.
PIPE_WIDTH = 160


# Characters a terminal acts on instead of showing: C0 controls (ESC starts the
# sequences that move the cursor and erase lines), DEL, C1 controls (CSI is a
# one-byte ESC [), the line and paragraph separators, the bidirectional
# overrides, embeddings, isolates and marks that reorder what follows them, and
# lone surrogates, which no encoding can write.
def safe(text: str) -> str:
    """``text`` with every character a terminal would act on shown as an escape.

    ``ESC [ 1 A`` becomes ``\\x1b[1A``, a newline ``\\n``, U+202E ``\\u202e``;
    every other character, brackets and backslashes included, is kept as
    written. The one escaping function of the CLI: all user text goes through it
    (:func:`modelbook.display.visible`).
    """
    return visible(text)


def line(text: str, *, err: bool = False) -> None:
    """Write one line of plain output; ``text`` must already be :func:`safe`."""
    stream: TextIO = sys.stderr if err else sys.stdout
    stream.write(text + "\n")


def emit_json(value: Any) -> None:
    """Write ``value`` as indented JSON.

    ASCII only (``ensure_ascii``), so the bytes are valid JSON under any
    terminal encoding, ``LANG=C`` and ``PYTHONIOENCODING=ascii`` included.
    NaN and infinities are refused rather than written as invalid JSON.
    """
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=True, allow_nan=False) + "\n")


def version_json(version: Version) -> dict[str, Any]:
    """The JSON of a version: its URI, its model as ``name``, and every field (its
    repository and data snapshot URLs without their secrets)."""
    version = shown_version(version)
    return {"uri": version.uri, "name": version.model, **version.model_dump(mode="json")}


def change_lines(version: Version) -> list[str]:
    """Why the version has its semver: the bump, the version(s) compared with and each
    reason. With two comparisons (a parent older than the version holding the highest
    semver), each is named with its semver, its role and its own bump."""
    c = version.classification
    if c is None or c.bump is None:
        return []
    made = c.comparisons()
    if not made:
        return []
    given = "" if c.explicit is None else f" (computed {c.computed}; {c.explicit} given)"
    role = {"parent": "the parent", "highest": "the highest semver"}

    def evidence(comparison: Any, indent: str) -> list[str]:
        p = comparison.predictions
        return [f"{indent}{r}" for r in comparison.reasons] + (
            [] if p is None or p.compared else [f"{indent}{p.message}"]
        )

    if len(made) == 1:
        which, only = made[0]
        head = f"{c.bump.value.upper()} change from {only.version}"
        if which != "parent":
            head += f" ({only.semver}, {role[which]})"
        return [head + given + ":", *evidence(only, "  ")]
    lines = [f"{c.bump.value.upper()} change{given}, the larger of:"]
    for which, comparison in made:
        at = "" if comparison.semver is None else f"{comparison.semver}, "
        lines.append(
            f"  {comparison.bump.value.upper()} from {comparison.version} ({at}{role[which]}):"
        )
        lines += evidence(comparison, "    ")
    return lines


def fmt_time(at: datetime) -> str:
    """A timestamp as ISO 8601 in UTC to the second, e.g. ``2026-11-30T12:00:00Z``."""
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def page_json(key: str, page: Page[Any], items: list[Any]) -> dict[str, Any]:
    """The JSON of one page of a listing: its items under ``key``, and how to go on."""
    return {
        key: items,
        "next_page_token": page.next_page_token,
        "unreadable": list(page.unreadable),
    }


def page_footer(page: Page[Any]) -> None:
    """After a table, on stderr: each stored item that could not be read, and the next page."""
    for problem in page.unreadable:
        line(f"unreadable: {safe(problem)}", err=True)
    if page.next_page_token:
        line(f"more: --page-token {safe(page.next_page_token)}", err=True)


def _console(*, err: bool = False) -> Console:
    from rich.console import Console

    stream = sys.stderr if err else sys.stdout
    return Console(
        stderr=err,
        soft_wrap=True,
        markup=False,
        emoji=False,
        highlight=False,
        width=None if stream.isatty() else PIPE_WIDTH,
    )


def table(
    columns: Sequence[str], rows: Iterable[Sequence[str]], *, title: str | None = None
) -> None:
    """Print a table; every cell is passed through :func:`safe`.

    Cells are given to rich as ``Text`` so that no cell is parsed as markup
    whatever the console's settings.
    """
    from rich.table import Table
    from rich.text import Text

    grid = Table(*columns, title=title)
    for row in rows:
        grid.add_row(*(Text(safe(cell)) for cell in row))
    _console().print(grid)


def heading(text: str) -> None:
    """Print a bold line (plain when not on a terminal); ``text`` must already be safe."""
    from rich.text import Text

    _console().print(Text(text, style="bold"))


@contextmanager
def progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr for transfers of at least PROGRESS_MIN_BYTES.

    Yields the callback that advances it by a number of bytes, or None when
    the transfer is too small for a bar to be worth drawing.
    """
    if total < PROGRESS_MIN_BYTES:
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=_console(err=True),
        transient=True,
    ) as bar:
        task = bar.add_task(safe(label), total=total)
        yield lambda n: bar.advance(task, n)


def write_whole(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to the file ``path`` whole: a temporary file beside it,
    renamed into place, so a reader never sees half a document.

    A symbolic link is written through to its target; an existing file keeps its
    mode. Anything that is not a regular file (a folder, a device such as
    ``/dev/null``, a FIFO) and a file whose mode gives no one write permission are
    refused with InvalidInput, as is a folder that cannot be written.
    """
    import stat

    from ..errors import InvalidInput

    shown = str(path)
    if shown in ("", "."):
        raise InvalidInput("--output needs a file name (leave it out to print to stdout)")
    target = Path(os.path.realpath(path))
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise InvalidInput(f"cannot write {shown!r}: {exc.strerror or exc}") from None
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise InvalidInput(
                f"cannot write {shown!r}: it is {what}; give a file name, or leave out "
                "--output to print to stdout"
            )
        if not st.st_mode & 0o222:
            # Judged by its mode, not by access(): root may write anything.
            raise InvalidInput(f"cannot write {shown!r}: the file is read-only")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise InvalidInput(f"cannot write {shown!r}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if st is not None:
            mode = stat.S_IMODE(st.st_mode)
        else:
            # mkstemp makes the file private; a new document gets the mode a new file would.
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InvalidInput(f"cannot write {shown!r}: {exc.strerror or exc}") from None
