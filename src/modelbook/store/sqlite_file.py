"""The SQLite database file: how it is opened, and what must be writable.

A registry file this user may write is opened read-write, in WAL mode with
``synchronous=FULL``, a busy timeout and foreign keys on. One this user may
only read (the file or its folder is not writable) is opened read-only
(``mode=ro``); every write then fails with a message naming what must be
writable, before anything is attempted.

Reading a WAL database needs its ``-wal`` and ``-shm`` files beside it. They
exist while any process has the database open, and SQLite creates them
otherwise, which a user who may not write the folder cannot. Such a file is
then unreadable, and the error says what must be writable. SQLite's
``immutable=1`` needs neither file, but it skips all locking and change
detection: a reader would miss every later write and could read pages a
checkpoint is rewriting. It is used only where nothing can ever write the
file: a file system whose type cannot be written at all (squashfs, erofs,
iso9660, cramfs, romfs), without a ``-wal`` file that could hold data not yet
in the database. A read-only mount of a writable file system does not count,
since the same files may be written through another mount.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine

from ..errors import NotFound, Unavailable
from .prebuilt import run_driver_sql

_MEMORY = ":memory:"


@dataclass(frozen=True)
class SqliteFile:
    """How one SQLite database is opened.

    ``path``: the database file (absolute), or None for an in-memory database
    or a ``file:`` URI given as is; ``ephemeral``: the database lives in
    memory and vanishes with its last connection; ``read_only``: this user
    may not write the file or its folder, so it is opened with ``mode=ro``;
    ``immutable``: opened with ``immutable=1`` (on a file system no one can write);
    ``create``: a missing file may be created.
    """

    path: Path | None
    ephemeral: bool = False
    read_only: bool = False
    immutable: bool = False
    create: bool = True

    @classmethod
    def inspect(cls, url: URL, *, create: bool) -> SqliteFile:
        """Look at the file ``url`` names and decide how to open it.

        Raises ``NotFound("no registry at PATH")`` when the file is missing and
        ``create`` is False, and ``Unavailable`` when its folder cannot be made.
        """
        database = url.database or ""
        if database in ("", _MEMORY):
            return cls(path=None, ephemeral=True)
        if database.startswith("file:"):
            memory = _MEMORY in database or url.query.get("mode") == "memory"
            return cls(path=None, ephemeral=memory, create=create)
        path = Path(database).expanduser().absolute()
        if not path.exists():
            if not create:
                raise NotFound(f"no registry at {path}")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise Unavailable(f"cannot create the folder of {path}: {e}") from e
            return cls(path=path)
        if os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
            return cls(path=path, create=create)
        wal = Path(f"{path}-wal")
        immutable = _unwritable_file_system(path) and not wal.exists()
        return cls(path=path, read_only=True, immutable=immutable, create=create)

    def engine_url(self, url: URL) -> URL:
        """``url`` naming the file as a SQLite ``file:`` URI with its open mode
        (``ro``, ``ro`` and ``immutable``, ``rw`` when it must not be created,
        else ``rwc``); an in-memory database or a ``file:`` URI is kept."""
        if self.path is None:
            return url
        query: dict[str, str] = {"uri": "true"}
        if self.immutable:
            query.update(mode="ro", immutable="1")
        elif self.read_only:
            query["mode"] = "ro"
        else:
            query["mode"] = "rw" if not self.create else "rwc"
        return url.set(database=f"file:{quote(str(self.path))}", query={**url.query, **query})

    def refuse_writes(self, doing: str = "writing") -> None:
        """Raise ``Unavailable`` naming what must be writable, if this file is
        read-only; ``doing`` says what was about to be done."""
        if self.read_only and self.path is not None:
            raise Unavailable(
                f"the registry database {self.path} is read-only for this user: {doing} "
                f"needs write access to {what_must_be_writable(self.path)}"
            )


def what_must_be_writable(path: Path) -> str:
    """What this user would need to write ``path`` (a SQLite file), in words.

    SQLite writes the file itself, and creates its ``-wal``, ``-shm`` and
    modelbook's lock files in the folder beside it.
    """
    if _read_only_file_system(path):
        return f"the file system holding {path}, which is mounted read-only"
    missing = []
    if path.exists() and not os.access(path, os.W_OK):
        missing.append(f"the file {path}")
    if not os.access(path.parent, os.W_OK):
        missing.append(f"the folder {path.parent} (for the -wal, -shm and lock files)")
    for extra in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        if extra.exists() and not os.access(extra, os.W_OK):
            missing.append(f"the file {extra}")
    if not missing:
        missing = [f"the file {path}", f"the folder {path.parent}"]
    return missing[0] if len(missing) == 1 else f"{', '.join(missing[:-1])} and {missing[-1]}"


def why_wal_unreadable(path: Path) -> str:
    """Why this user cannot read the WAL database ``path``, and the fix."""
    if _read_only_file_system(path):
        return (
            f"SQLite needs {path.name}-wal and {path.name}-shm beside it to read it; they do "
            f"not exist, and the file system holding {path.parent} is mounted read-only: "
            f"copy the registry to a writable folder, or mount it writable"
        )
    return (
        f"SQLite needs {path.name}-wal and {path.name}-shm beside it to read it; they do "
        f"not exist, and this user may not create them: the folder {path.parent} must be "
        f"writable for this user (or those files must exist, as they do while a user who "
        f"may write the registry has it open)"
    )


# File system types that cannot be written at all, whatever the mount options.
_UNWRITABLE_TYPES = frozenset({"squashfs", "erofs", "iso9660", "cramfs", "romfs"})


def _unwritable_file_system(path: Path, mounts: str | None = None) -> bool:
    """Whether ``path`` lies on a file system of a type no one can write.

    ``mounts``: the text of ``/proc/self/mounts`` (read when None; where it is
    missing, the answer is False).
    """
    if mounts is None:
        try:
            mounts = Path("/proc/self/mounts").read_text()
        except OSError:
            return False
    where = os.path.realpath(path)
    best, kind = "", ""
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        # Mount points escape blanks as octal (a space is \040).
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1])
        inside = where == point or where.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind in _UNWRITABLE_TYPES


def _read_only_file_system(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


#: The page cache of each connection, in KiB (SQLite's ``cache_size``, negative: KiB).
PAGE_CACHE_KIB = 16384


def install(engine: Engine, file: SqliteFile, busy_ms: int) -> None:
    """Set up the connections of ``engine``, made on :meth:`SqliteFile.engine_url`.

    Every connection gets the busy timeout (``busy_ms``, milliseconds), a page
    cache of :data:`PAGE_CACHE_KIB` and foreign keys; a writable one is switched
    to WAL with ``synchronous=FULL``. Transactions are begun by the hook below:
    ``BEGIN IMMEDIATE`` for a write (execution option ``modelbook_write``),
    ``BEGIN`` for a read, none in autocommit (``modelbook_autocommit``).
    """
    writable = not file.read_only

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
            # SQLite keeps 2 MiB of pages per connection by default: a registry of
            # 10,000 versions is about 20 MiB, and every page read past the cache is
            # a read from the OS. Pages are held only as they are read.
            cur.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
            if writable:
                enable_wal(cur, busy_ms)
                cur.execute("PRAGMA synchronous = FULL")
            cur.execute("PRAGMA foreign_keys = ON")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("modelbook_autocommit"):
            return
        # Run as any statement is, so that a busy BEGIN IMMEDIATE surfaces as
        # SQLAlchemy's OperationalError, not as the bare driver error.
        run_driver_sql(conn, "BEGIN IMMEDIATE" if options.get("modelbook_write") else "BEGIN")


def enable_wal(cur: Any, busy_ms: int) -> None:
    """Switch a database to WAL once; retried while a racing opener holds the lock.

    Changing the journal mode can fail with SQLITE_BUSY or SQLITE_LOCKED
    without calling the busy handler when several processes open a new
    database at the same moment, so the switch is retried for up to
    ``busy_ms`` milliseconds. Other errors are raised at once.
    """
    if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + busy_ms / 1000
    delay = 0.001
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            primary = getattr(e, "sqlite_errorcode", -1) & 0xFF
            busy = primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def file_identity(path: Path | None) -> tuple[int, int] | None:
    """(device, inode) of ``path``, or None if there is no file.

    Taken with ``stat``, never by opening the file: closing any descriptor of
    a database file drops every POSIX lock this process holds on it,
    SQLite's own connections' locks included.
    """
    if path is None:
        return None
    with contextlib.suppress(OSError):
        st = path.stat()
        return st.st_dev, st.st_ino
    return None
