"""The root of the command line: its options, how a registry is opened, and
the one error boundary.

Options given before the command (``--uri``, ``--blob-uri``, ``--traceback``)
apply to every command. :func:`main` runs a command and turns a modelbook
error into one line on stderr and the exit code of its kind.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import InvalidInput, ModelbookError
from .render import line, safe

if TYPE_CHECKING:
    from ..registry import Registry

app = typer.Typer(
    name="modelbook",
    help="A model registry: immutable versions, verified artifacts, movable aliases.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
LimitOpt = Annotated[int, typer.Option(help="Rows per page.")]
PageTokenOpt = Annotated[str | None, typer.Option(help="Token of the next page.")]


@dataclass
class Options:
    """The root options of one invocation."""

    uri: str | None = None
    blob_uri: str | None = None
    traceback: bool = False

    def reset(self) -> None:
        """Back to the defaults, before the next invocation's options are parsed."""
        self.uri, self.blob_uri, self.traceback = None, None, False


# Set by the root callback and read when a registry is opened; reset by every
# main() so that one in-process invocation never sees another's options.
options = Options()


@app.callback()
def _root(
    uri: Annotated[
        str | None, typer.Option(help="Database URI (default: $MODELBOOK_URI or SQLite).")
    ] = None,
    blob_uri: Annotated[
        str | None, typer.Option(help="Blob store URL (default: $MODELBOOK_BLOB_URI).")
    ] = None,
    traceback: Annotated[bool, typer.Option(help="Show the stack trace of an error.")] = False,
) -> None:
    options.uri, options.blob_uri, options.traceback = uri, blob_uri, traceback


def ephemeral_database(uri: str) -> bool:
    """True for a SQLite URI whose database lives only in the memory of this process.

    ``sqlite://`` and ``sqlite:///:memory:`` (SQLAlchemy's in-memory forms, also
    percent-encoded), ``file::memory:`` and ``mode=memory`` (SQLite's URI forms).
    The URI is read by SQLAlchemy's own parser, as the registry reads it.
    """
    from urllib.parse import unquote

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(uri)
    except ArgumentError:
        return False
    if url.get_backend_name().lower() != "sqlite":
        return False
    database = unquote(url.database or "")
    mode = url.query.get("mode")
    modes = mode if isinstance(mode, tuple) else (mode,)
    return (
        database in ("", ":memory:")
        or database.startswith("file::memory:")
        or "mode=memory" in database
        or "memory" in modes
    )


def ephemeral_blobs(url: str) -> bool:
    """True when fsspec's in-memory file system is part of the URL (also chained, as in
    ``simplecache::memory://``): it lives only in this process."""
    return any(
        part.partition("://")[0].lower() == "memory" and "://" in part for part in url.split("::")
    ) or url.lower().startswith("memory:")


def _refuse_ephemeral() -> None:
    """Refuse a store that would vanish when this command ends.

    A command runs in a process of its own: whatever it wrote to an in-memory
    database or blob store would be gone before the next command could read it.
    """
    uri = options.uri or os.environ.get("MODELBOOK_URI")
    if uri and ephemeral_database(uri):
        raise InvalidInput(
            f"database {uri!r} is in memory and would vanish when this command ends: "
            "give a file (sqlite:///PATH) or a database server in --uri or MODELBOOK_URI"
        )
    blob_uri = options.blob_uri or os.environ.get("MODELBOOK_BLOB_URI")
    if blob_uri and ephemeral_blobs(blob_uri):
        raise InvalidInput(
            f"blob store {blob_uri!r} is in memory and would vanish when this command ends: "
            "give a folder or an object store in --blob-uri or MODELBOOK_BLOB_URI"
        )


@contextmanager
def open_registry(*, create: bool) -> Iterator[Registry]:
    """The registry the root options name, closed when the command is done.

    ``create=False`` (every command but ``register``) refuses a path where no
    registry exists instead of creating an empty one there: reading needs
    one, and tags and aliases need a model that only ``register`` creates.
    """
    _refuse_ephemeral()
    from ..registry import Registry

    registry = Registry(options.uri, blob_uri=options.blob_uri, create=create)
    try:
        yield registry
    finally:
        registry.close()


def _tolerant_streams() -> None:
    """Write characters the terminal's encoding lacks as backslash escapes.

    Under ``LANG=C`` or ``PYTHONIOENCODING=ascii`` a model note in another
    script would otherwise end the command with UnicodeEncodeError.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> None:
    """Run one command with one error boundary: domain errors become exit codes.

    Usage errors are typer's (exit 2). A modelbook error is printed as one
    ``error:`` line on stderr and exits with the code of its kind (see
    :mod:`modelbook.errors`); any other exception is a bug and exits 1, also
    with one line. ``--traceback`` lets the exception through with its stack.
    A reader of stdout that goes away (``| head``) is typer's to handle: it
    ends the command quietly.
    """
    options.reset()
    _tolerant_streams()
    try:
        app(args=argv, prog_name="modelbook")
    except ModelbookError as exc:
        if options.traceback:
            raise
        _fail(f"error: {exc}", exc.exit_code)
    except Exception as exc:  # the boundary: a bug, too, gets one line and exit 1
        if options.traceback:
            raise
        _fail(f"error: unexpected {type(exc).__name__}: {exc} (--traceback shows where)", 1)


def _fail(message: str, code: int) -> None:
    line(safe(message), err=True)
    sys.exit(code)
