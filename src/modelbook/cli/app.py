"""The root of the command line: its options, how a registry is opened, and
the one error boundary.

Options given before the command (``--uri``, ``--blob-uri``, ``--traceback``)
apply to every command. :func:`main` runs a command and turns a modelbook
error into one line on stderr and the exit code of its kind; of the
commands it builds only the one it runs (:class:`CommandsOnDemand`).
"""

from __future__ import annotations

import copy
import gc
import importlib
import inspect
import os
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from traceback import format_exception
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.main
from typer.core import TyperGroup
from typer.models import CommandInfo, TyperInfo

from ..errors import InvalidInput, ModelbookError, NotFound
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
    #: When this invocation started: a serving alias that moved after it is not the
    #: state the operator acted on (see ``cli.serving``).
    started: datetime | None = None

    def reset(self) -> None:
        """Back to the defaults, before the next invocation's options are parsed."""
        self.uri, self.blob_uri, self.traceback = None, None, False
        self.started = datetime.now(UTC)


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


class CommandsOnDemand(MutableMapping[str, Any]):
    """The commands of a Typer app by name, in the order ``--help`` lists them, each
    built into its click command when first looked up.

    Typer builds every command of a group before it parses the command line
    (it reads each signature and evaluates its annotations: about 0.7 ms a
    command); a run looks up one. ``--help`` and the "did you mean" of a
    mistyped name look up all, so they see every command, as before.
    """

    def __init__(self, typer_app: typer.Typer) -> None:
        self._app = typer_app
        # None: a command added ready-built (``add_command``).
        self._infos: dict[str, CommandInfo | TyperInfo | None] = {}
        # Typer's order: the app's own commands, then its groups (``alias`` ...).
        for command in typer_app.registered_commands:
            assert command.callback is not None
            name = command.name or typer.main.get_command_name(command.callback.__name__)
            self._infos[name] = command
        for group in typer_app.registered_groups:
            group_name = typer.main.solve_typer_info_defaults(group).name
            assert group_name, "every command group of the CLI is added with a name"
            self._infos[group_name] = group
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        built = self._built.get(name)
        if built is None:
            info = self._infos[name]
            assert info is not None
            if isinstance(info, CommandInfo):
                built = typer.main.get_command_from_info(
                    info,
                    pretty_exceptions_short=self._app.pretty_exceptions_short,
                    rich_markup_mode=self._app.rich_markup_mode,
                )
            else:
                built = typer.main.get_group_from_info(
                    info,
                    pretty_exceptions_short=self._app.pretty_exceptions_short,
                    rich_markup_mode=self._app.rich_markup_mode,
                    suggest_commands=self._app.suggest_commands,
                )
            _short_help(built)
            self._built[name] = built
        return built

    def __setitem__(self, name: str, command: Any) -> None:
        self._infos[name] = None
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._infos[name]
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._infos)

    def __len__(self) -> int:
        return len(self._infos)


def _short_help(command: Any) -> None:
    """Give ``command`` (and each command of a group) the first paragraph of its help,
    its lines joined, as the short help that listings of commands show.

    A docstring's first paragraph is wrapped to fit the source; Typer's rich help
    keeps those line breaks in the list of commands, where they break a sentence
    in the middle of the column. The command's own ``--help`` already joins them.
    """
    if command.short_help is None and command.help:
        first = inspect.cleandoc(command.help).partition("\f")[0].split("\n\n")[0]
        if not first.startswith("\b"):
            command.short_help = " ".join(first.split())
    for sub in getattr(command, "commands", {}).values():
        _short_help(sub)


def command_line() -> TyperGroup:
    """The click group that runs :data:`app`: Typer's own, with the commands
    built on demand (:class:`CommandsOnDemand`) instead of all up front."""
    root = copy.copy(app)  # the root options and settings, without the commands
    root.registered_commands, root.registered_groups = [], []
    group = typer.main.get_group(root)
    group.commands = CommandsOnDemand(app)
    return group


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
    except (ArgumentError, ValueError, TypeError):
        # Not a URI at all: the registry refuses it, with the reason.
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
        from ..blobs_url import redact

        raise InvalidInput(
            f"blob store {redact(blob_uri)!r} is in memory and would vanish when this command "
            "ends: "
            "give a folder or an object store in --blob-uri or MODELBOOK_BLOB_URI"
        )


@contextmanager
def open_registry(*, create: bool, admin: str | None = None) -> Iterator[Registry]:
    """The registry the root options name, closed when the command is done.

    ``create=False`` (every command but ``init`` and ``register``) refuses a path
    where no registry exists instead of creating an empty one there: reading
    needs one, and tags and aliases need a model that only ``register`` creates.
    ``admin``: the first admin when this creates the registry (default: the actor).
    """
    _refuse_ephemeral()
    from ..registry import Registry

    try:
        registry = Registry(options.uri, blob_uri=options.blob_uri, create=create, admin=admin)
    except NotFound as exc:
        if not exc.message.startswith("no registry at "):
            raise
        raise NotFound(
            f"{exc.message}: create one with `modelbook init` (its admin is you, or "
            "--admin NAME), or register a first version"
        ) from None
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
    with one line. ``--traceback`` prints the exception's stack before that
    line; the exit code stays the kind's, so a script sees the same status.
    A reader of stdout that goes away (``| head``) is typer's to handle: it
    ends the command quietly.

    ``argv`` None reads the process's own command line (the ``modelbook``
    script, ``python -m modelbook.cli``): the process then runs this one
    command and exits.
    """
    if argv is None:
        # What the process imports (the registry's code with SQLAlchemy and
        # pydantic, typer: some 60 000 objects) lives until it exits. Imported
        # with the collector paused and then frozen, no collection walks it, not
        # while it is imported nor later, and the exit does not free it object by
        # object: about 90 ms of a command such as ``resolve``. Objects the
        # command makes are collected as usual.
        collecting = gc.isenabled()
        gc.disable()
        try:
            importlib.import_module("modelbook.registry")
        finally:
            gc.freeze()
            if collecting:
                gc.enable()
    options.reset()
    _tolerant_streams()
    try:
        command_line()(args=argv, prog_name="modelbook")
    except ModelbookError as exc:
        if options.traceback:
            _stack(exc)
        _fail(f"error: {_one_line(exc)}", exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - the boundary: a bug, too, gets one line and exit 1
        if options.traceback:
            _stack(exc)
            _fail(f"error: unexpected {type(exc).__name__}: {exc}", 1)
        _fail(f"error: unexpected {type(exc).__name__}: {exc} (--traceback shows where)", 1)


def _stack(exc: BaseException) -> None:
    """The stack of ``exc`` on stderr, each line escaped as every line of output is:
    its message may hold user text."""
    for chunk in format_exception(exc):
        for text in chunk.rstrip("\n").split("\n"):
            line(safe(text), err=True)


def _one_line(exc: ModelbookError) -> str:
    """The message of ``exc`` for the one error line: its summary, items and hint
    (:meth:`~modelbook.errors.ModelbookError.parts`) separated by semicolons. A
    newline inside a part is the text's own and is shown escaped."""
    return "; ".join(exc.parts())


def _fail(message: str, code: int) -> None:
    line(safe(message), err=True)
    sys.exit(code)
