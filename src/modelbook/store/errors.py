"""Driver errors as modelbook errors, classified by the driver's error codes.

PostgreSQL errors are classified by their SQLSTATE (``psycopg.Error.sqlstate``),
SQLite errors by their extended result code (``sqlite3.Error.sqlite_errorname``
and ``sqlite_errorcode``); the text of a message is shown, never matched.

- unique violation (23505; CONSTRAINT_UNIQUE, CONSTRAINT_PRIMARYKEY):
  ``AlreadyExists``;
- another constraint or a trigger's refusal (other 23xxx, P0001; other
  CONSTRAINT_*): ``Conflict``, "rejected by the database";
- serialization failure or deadlock (40001, 40002, 40P01): ``Conflict``,
  "try again";
- a lock held too long (55P03 under ``lock_timeout``; BUSY, LOCKED, PROTOCOL):
  ``Unavailable``, "stayed busy for N s";
- a cancelled statement (57014, mostly the ``statement_timeout``):
  ``Unavailable``, naming the timeout;
- no writes allowed (25006; READONLY): ``Unavailable``, naming exactly what
  must be writable; CANTOPEN names the file and its folder;
- a value the database refuses (22xxx; MISMATCH): ``InvalidInput``;
- a request past one of the database's size limits (54xxx: program limit
  exceeded; TOOBIG, and the limits SQLite reports as a plain ERROR, below):
  ``InvalidInput`` naming the limit;
- a damaged page or index (XX001, XX002; CORRUPT): ``IntegrityError``;
- connection, server, resource and I/O trouble (08xxx, 28xxx, 3D000, 53xxx,
  57P0x, 58xxx, or no SQLSTATE at all; FULL, IOERR, NOMEM, NOTADB):
  ``Unavailable``, "unavailable";
- anything else: ``Unavailable``, "failed".
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import exc

from ..errors import (
    AlreadyExists,
    Conflict,
    IntegrityError,
    InvalidInput,
    ModelbookError,
    Unavailable,
)
from .dburl import scrub
from .settings import Settings
from .sqlite_file import what_must_be_writable, why_wal_unreadable


@dataclass(frozen=True)
class Target:
    """What an error message names: the database and the limits it ran under.

    ``shown``: the database as it may be printed (a redacted URL);
    ``path``: the SQLite file, or None; ``read_only``: the SQLite file was
    opened read-only because this user may not write it; ``secrets``: strings
    removed from any driver text before it is shown.
    """

    shown: str
    settings: Settings
    path: Path | None = None
    read_only: bool = False
    secrets: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"the registry database {self.path}" if self.path else f"database {self.shown}"


def classify(e: exc.DBAPIError, target: Target) -> ModelbookError:
    """The modelbook error for a wrapped driver error ``e`` (not raised)."""
    orig = e.orig
    text = scrub(_first_line(orig if orig is not None else e), target.secrets)
    if isinstance(orig, sqlite3.Error):
        return _sqlite(orig, text, target)
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and len(sqlstate) == 5:
        return _postgres(sqlstate, text, target)
    if isinstance(e, exc.OperationalError | exc.InterfaceError) or orig is None:
        return Unavailable(f"{target.name} unavailable: {text}")
    return Unavailable(f"{target.name} failed: {text}")


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _postgres(state: str, text: str, target: Target) -> ModelbookError:
    cls = state[:2]
    if state == "23505":
        return AlreadyExists(f"already exists: {text}")
    if cls == "23" or state == "P0001":
        return Conflict(f"rejected by the database: {text}")
    if state in ("40001", "40P01", "40002"):
        return Conflict(f"a concurrent change won, try again: {text}")
    if state == "55P03":
        return Unavailable(
            f"{target.name} stayed busy: another session held a lock for longer than "
            f"the busy timeout of {target.settings.busy_s:g} s ({text})"
        )
    if state == "57014":
        limit = target.settings.statement_timeout_ms / 1000
        return Unavailable(
            f"{target.name}: the statement was cancelled, by the statement timeout of "
            f"{limit:g} s or by an operator ({text})"
        )
    if state == "25006":
        return Unavailable(
            f"{target.name} accepts no writes (a standby server, or a read-only "
            f"default transaction): {text}"
        )
    if cls == "22":
        return InvalidInput(f"the database refused a value: {text}")
    if cls == "54":
        return InvalidInput(
            f"the request is larger than the database allows (a program limit of "
            f"PostgreSQL): {text}; make it smaller"
        )
    if state in ("XX001", "XX002"):
        return IntegrityError(f"{target.name} has a damaged page or index: {text}")
    if cls in ("08", "53", "57", "58", "28", "3D"):
        return Unavailable(f"{target.name} unavailable: {text}")
    return Unavailable(f"{target.name} failed: {text}")


# SQLite reports a request past most of its limits (``sqlite3_limit``) with the plain
# result code SQLITE_ERROR, the code of a syntax error too: only its message, fixed
# in SQLite's source, tells which limit. Matched at the start, and only under that code.
_SQLITE_LIMITS = (
    (
        "too many SQL variables",
        "SQLITE_LIMIT_VARIABLE_NUMBER, the number of values in one statement",
    ),
    ("Expression tree is too large", "SQLITE_LIMIT_EXPR_DEPTH, the depth of an expression"),
    ("parser stack overflow", "the depth of SQLite's parser stack"),
    (
        "LIKE or GLOB pattern too complex",
        "SQLITE_LIMIT_LIKE_PATTERN_LENGTH, the length of a pattern",
    ),
    ("too many terms in compound SELECT", "SQLITE_LIMIT_COMPOUND_SELECT"),
    ("too many columns", "SQLITE_LIMIT_COLUMN, the number of columns"),
    ("too many arguments on function", "SQLITE_LIMIT_FUNCTION_ARG, the arguments of a function"),
    ("at most 64 tables in a join", "the 64 tables of one join"),
    ("too many FROM clause terms", "the terms of one FROM clause"),
    ("too many levels of trigger recursion", "SQLITE_LIMIT_TRIGGER_DEPTH"),
)


def _sqlite_limit(text: str) -> str | None:
    for start, limit in _SQLITE_LIMITS:
        if text.startswith(start):
            return limit
    return None


def _sqlite(orig: sqlite3.Error, text: str, target: Target) -> ModelbookError:
    name = getattr(orig, "sqlite_errorname", "") or ""
    code = getattr(orig, "sqlite_errorcode", -1)
    primary = code & 0xFF if isinstance(code, int) and code >= 0 else -1
    if name in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"):
        return AlreadyExists(f"already exists: {text}")
    if primary == sqlite3.SQLITE_CONSTRAINT:
        return Conflict(f"rejected by the database: {text}")
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_PROTOCOL):
        return Unavailable(
            f"{target.name} stayed busy for {target.settings.busy_s:g} s: another "
            f"process kept it locked ({text})"
        )
    if primary == sqlite3.SQLITE_READONLY and target.path is not None:
        if name == "SQLITE_READONLY_DIRECTORY" and target.read_only:
            return Unavailable(f"cannot read {target.path}: {why_wal_unreadable(target.path)}")
        return Unavailable(
            f"{target.name} is read-only for this user: writing needs write access to "
            f"{what_must_be_writable(target.path)} ({text})"
        )
    if primary == sqlite3.SQLITE_CANTOPEN and target.path is not None:
        if target.read_only:
            return Unavailable(f"cannot read {target.path}: {why_wal_unreadable(target.path)}")
        return Unavailable(
            f"cannot open {target.name}: {text}; {target.path.parent} must be an existing "
            f"folder this user may write"
        )
    if primary == sqlite3.SQLITE_TOOBIG:
        return InvalidInput(
            "the request is larger than the database allows (SQLITE_LIMIT_LENGTH, the length "
            f"of a value or a statement): {text}; make it smaller"
        )
    if primary == sqlite3.SQLITE_MISMATCH:
        return InvalidInput(f"the database refused a value: {text}")
    limit = _sqlite_limit(text) if primary == sqlite3.SQLITE_ERROR else None
    if limit is not None:
        return InvalidInput(
            f"the request is larger than the database allows ({limit}): {text}; make it smaller"
        )
    if primary == sqlite3.SQLITE_CORRUPT:
        return IntegrityError(f"{target.name} is damaged: {text}")
    if primary == sqlite3.SQLITE_NOTADB:
        return Unavailable(f"{target.name} unavailable: it is not a SQLite database ({text})")
    if primary in (
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_INTERRUPT,
    ):
        return Unavailable(f"{target.name} unavailable: {text}")
    return Unavailable(f"{target.name} failed: {text}")
