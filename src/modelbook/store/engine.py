"""Engines, transactions and schema migration for SQLite and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL`` (a commit is on disk when
it returns, also across a power loss), a busy timeout and foreign keys on; write
transactions start with ``BEGIN IMMEDIATE`` so two writers queue on the lock
instead of failing on a lock upgrade. PostgreSQL runs at READ COMMITTED and
serialises writers of one model by locking that model's row.

The schema is created and upgraded by Alembic when a registry is opened.
Concurrent openers of a brand-new registry take a lock first (a file lock
beside a SQLite database, an advisory lock on PostgreSQL), so exactly one of
them migrates.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import sqlite3
import threading
import time
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine

from ..errors import AlreadyExists, Conflict, ModelbookError, Unavailable

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0002"
_PG_MIGRATE_LOCK = 0x6D6F64656C626B  # "modelbk"
SQLITE_BUSY_MS = 30_000
# Threads that keep a connection of their own for reads; more threads than
# this borrow one from the pool per read, so a wide thread pool cannot use
# up the pool that writers need.
MAX_HELD_READERS = 4
_PG_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE
T = TypeVar("T")


def default_home() -> Path:
    return Path(os.environ.get("MODELBOOK_HOME") or Path.home() / ".modelbook").expanduser()


def redact(uri: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", uri)


def _enable_wal(cur: Any) -> None:
    """Switch a database to WAL once; retried while a racing opener holds the lock.

    Changing the journal mode can fail with "database is locked" without
    calling the busy handler when several processes open a new database at
    the same moment, so the switch is retried up to the busy timeout.
    """
    if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + SQLITE_BUSY_MS / 1000
    delay = 0.001
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)


def _driver_error(
    conn: Connection, e: Any, sql: str, args: Any, cursor: Any = None
) -> exc.StatementError:
    """A driver error raised outside SQLAlchemy's execution, wrapped as SQLAlchemy
    would: the same exception classes, and a lost connection invalidated."""
    dialect = conn.dialect
    lost = dialect.is_disconnect(e, conn.connection.dbapi_connection, cursor)
    if lost:
        conn.invalidate(e)
    wrapped: exc.StatementError = exc.DBAPIError.instance(
        sql, args, e, dialect.loaded_dbapi.Error, connection_invalidated=lost
    )
    return wrapped


def _queue(conn: Connection, raw: Any, sql: str) -> None:
    """Queue a transaction-control statement in the pipeline, firing the
    statement event as every other statement does."""
    cursor = raw.cursor()
    try:
        conn.dispatch.before_cursor_execute(conn, cursor, sql, (), None, False)
        cursor.execute(sql)
    finally:
        cursor.close()


class Prebuilt:
    """A hot statement, compiled once per dialect and run on the driver's cursor.

    For a one-row indexed lookup or a one-row insert, SQLAlchemy's execution
    layer costs several times the statement itself (about 60 us against 15 us
    on SQLite), so the statements every read and write runs skip it. They
    bind and return only plain columns, which need no type processing. The
    ``before_cursor_execute`` event still fires, driver errors are wrapped,
    and a lost connection is invalidated, as SQLAlchemy itself would do.
    """

    def __init__(self, stmt: Any, keys: tuple[str, ...] | None = None) -> None:
        """``keys``: for an INSERT or UPDATE, the columns the caller's values set."""
        self.stmt = stmt
        self.keys = keys
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}
        self._rows: dict[str, Callable[..., Any]] = {}

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """The first row the statement returns (a named tuple), or None."""
        found = self._execute(conn, [params], fetch=1)
        return found[0] if found else None

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """Every row the statement returns, as named tuples."""
        return self._execute(conn, [params], fetch=-1)  # type: ignore[no-any-return]

    def run(self, conn: Connection, params: Mapping[str, Any]) -> None:
        self._execute(conn, [params], fetch=0)

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self._execute(conn, rows, fetch=0)

    def _execute(self, conn: Connection, rows: Sequence[Mapping[str, Any]], fetch: int) -> Any:
        """Run the statement; ``fetch`` rows back: 0 none, 1 the first, -1 all."""
        dialect = conn.dialect
        entry = self._compiled.get(dialect.name)
        if entry is None:
            compiled = self.stmt.compile(
                dialect=dialect, column_keys=None if self.keys is None else list(self.keys)
            )
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            # Values fixed in the statement itself (a LIMIT, say) are bound too.
            fixed = {k: v for k, v in compiled.params.items() if v is not None}
            entry = self._compiled[dialect.name] = (compiled.string, order, fixed)
        sql, order, fixed = entry
        values = [{**fixed, **r} for r in rows] if fixed else rows
        bound: Sequence[Any] = (
            [tuple(v[k] for k in order) for v in values] if order is not None else values
        )
        many = len(bound) > 1
        args: Any = bound if many else bound[0]
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            conn.dispatch.before_cursor_execute(conn, cursor, sql, args, None, many)
            if many:
                cursor.executemany(sql, args)
                return None
            cursor.execute(sql, args)
            if not fetch:
                return None
            found: Sequence[Any] = cursor.fetchall() if fetch < 0 else [cursor.fetchone()]
            if not found or found[0] is None:
                return []
            make = self._rows.get(dialect.name)
            if make is None:
                names = tuple(d[0] for d in cursor.description)
                make = self._rows[dialect.name] = namedtuple("Row", names)
            return [make(*r) for r in found]
        except dialect.loaded_dbapi.Error as e:
            raise _driver_error(conn, e, sql, args, cursor) from e
        finally:
            with contextlib.suppress(Exception):
                cursor.close()


class Database:
    """One metadata database: engine, transactions and error translation."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        try:
            url = sa.make_url(uri)
        except exc.ArgumentError as e:
            raise Unavailable(f"invalid database URI {redact(uri)!r}: {e}") from e
        self.dialect = url.get_backend_name()
        kwargs: dict[str, Any] = {}
        if self.dialect == "sqlite":
            path = url.database
            if path and path != ":memory:":
                try:
                    Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
                except OSError as e:
                    raise Unavailable(f"cannot create the folder of {redact(uri)}: {e}") from e
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_MS / 1000}
        elif self.dialect == "postgresql":
            if url.drivername == "postgresql":
                url = url.set(drivername="postgresql+psycopg")
            kwargs["connect_args"] = {"connect_timeout": 10}
        # psycopg 3 gets pipelined writes and a ping-free liveness check; any
        # other driver keeps SQLAlchemy's ping on checkout.
        self._psycopg = self.dialect == "postgresql" and url.get_driver_name() == "psycopg"
        if self.dialect != "sqlite" and not self._psycopg:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine: Engine = sa.create_engine(url, **kwargs)
        except (ImportError, exc.ArgumentError) as e:
            raise Unavailable(f"cannot use database {redact(uri)}: {e}") from e
        self._thread_lock = threading.Lock()
        self._held_lock = threading.Lock()
        self._held: dict[threading.Thread, Connection] = {}
        self._held_pid = os.getpid()
        self._orphans: list[Connection] = []
        self._write_lock_fd: int | None = None
        self._write_lock_path: str | None = None
        if self.dialect == "sqlite":
            database = url.database
            if database and database != ":memory:" and not database.startswith("file:"):
                self._write_lock_path = str(Path(database).expanduser()) + ".write.lock"
            self._sqlite_hooks(self.engine)
            self._autocommit = self.engine.execution_options(modelbook_autocommit=True)
        else:
            self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self._psycopg:
                self._psycopg_hooks(self.engine)
        self.url = url

    @staticmethod
    def _sqlite_hooks(engine: Engine) -> None:
        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
            _enable_wal(cur)
            cur.execute("PRAGMA synchronous = FULL")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            options = conn.get_execution_options()
            if options.get("modelbook_autocommit"):
                return
            sql = "BEGIN IMMEDIATE" if options.get("modelbook_write") else "BEGIN"
            conn.connection.driver_connection.execute(sql)  # type: ignore[union-attr]

    @staticmethod
    def _psycopg_hooks(engine: Engine) -> None:
        @event.listens_for(engine, "checkout")
        def _checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
            # The pool's usual liveness check is a round trip on every checkout.
            # An idle connection has nothing to read unless the server has
            # closed it or sent its termination notice, so a zero-timeout poll
            # of the socket finds killed backends and restarted servers for free.
            if dbapi_conn.closed or dbapi_conn.broken:
                raise exc.DisconnectionError("connection closed")
            try:
                fd = dbapi_conn.fileno()
            except dbapi_conn.Error as e:
                raise exc.DisconnectionError(str(e)) from e
            poller = select.poll()
            poller.register(fd, select.POLLIN | select.POLLHUP)
            if poller.poll(0):
                raise exc.DisconnectionError("the server closed the connection")

        @event.listens_for(engine, "after_cursor_execute")
        def _sync(conn: Connection, cursor: Any, *_: Any) -> None:
            # Inside a pipelined write, a statement run through SQLAlchemy
            # needs its result now: send what is queued and wait for it.
            pipeline = conn.get_execution_options().get("modelbook_pipeline")
            if pipeline is not None:
                pipeline.sync()

    # transactions -------------------------------------------------------

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.translate(), self.engine.connect() as conn, conn.begin():
            yield conn

    def reading(self, fn: Callable[[Connection], T]) -> T:
        """Run a short read on this thread's own autocommit connection.

        The connection stays checked out between calls, so a read costs its
        statements only: no pool checkout, liveness ping, BEGIN or ROLLBACK.
        A connection found dead (a restarted server, a killed backend) is
        replaced and the read run once more; reads change nothing, so the
        retry is safe.
        """
        with self.translate():
            for attempt in (1, 2):
                conn, borrowed = self._reader()
                try:
                    return fn(conn)
                except exc.DBAPIError as e:
                    if borrowed or not e.connection_invalidated:
                        raise
                    self._forget_reader(conn)
                    if attempt == 2:
                        raise
                except (KeyboardInterrupt, SystemExit, GeneratorExit):
                    # Interrupted mid-read: the connection's state is unknown.
                    if not borrowed:
                        self._forget_reader(conn)
                    raise
                finally:
                    if borrowed:
                        conn.close()
        raise AssertionError("unreachable")  # pragma: no cover

    def _reader(self) -> tuple[Connection, bool]:
        """This thread's held connection, or a borrowed one (True) when too many are held."""
        me = threading.current_thread()
        conn = self._held.get(me)
        if conn is not None and not conn.closed and not conn.invalidated and self._same_process():
            return conn, False
        with self._held_lock:
            if not self._same_process():
                # Connections inherited over fork belong to the parent: keep
                # them referenced so that collecting them cannot close its sockets.
                self._orphans.extend(self._held.values())
                self._held = {}
                self._held_pid = os.getpid()
            for thread in [th for th in self._held if not th.is_alive() or th is me]:
                with contextlib.suppress(exc.SQLAlchemyError):
                    self._held.pop(thread).close()
            if len(self._held) < MAX_HELD_READERS:
                conn = self._autocommit.connect()
                self._held[me] = conn
                return conn, False
        return self._autocommit.connect(), True

    def _same_process(self) -> bool:
        return self._held_pid == os.getpid()

    def _forget_reader(self, conn: Connection) -> None:
        with self._held_lock:
            for thread, held in list(self._held.items()):
                if held is conn:
                    del self._held[thread]
        with contextlib.suppress(exc.SQLAlchemyError):
            conn.invalidate()
            conn.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction; on PostgreSQL its statements are pipelined.

        With psycopg the transaction is an explicit ``BEGIN`` ... ``COMMIT``
        sent in pipeline mode on a connection in autocommit (so the driver
        adds no ``BEGIN`` of its own, which it would wait for). A statement
        whose result is not needed is queued and sent with the next one that
        is, and the last of them with ``COMMIT``: a tag write or an alias move
        waits on two round trips instead of seven or eight. An error of a queued
        statement surfaces at the next result or at the commit, and the whole
        transaction is rolled back.
        """
        if not self._psycopg:
            with self.translate(), self._writer_turn(), self.engine.connect() as conn:
                conn.execution_options(modelbook_write=True)
                with conn.begin():
                    yield conn
            return
        with self.translate(), self._autocommit.connect() as conn:
            conn.execution_options(modelbook_write=True)
            raw: Any = conn.connection.driver_connection
            with conn.begin():
                try:
                    with raw.pipeline() as pipeline:
                        conn.execution_options(modelbook_pipeline=pipeline)
                        _queue(conn, raw, "BEGIN")
                        yield conn
                        _queue(conn, raw, "COMMIT")
                except raw.Error as e:
                    raise _driver_error(conn, e, "COMMIT", ()) from e
                finally:
                    conn.execution_options(modelbook_pipeline=None)
                    # Not committed (an error above): end the explicit transaction.
                    if not raw.closed and raw.info.transaction_status != _PG_IDLE:
                        with contextlib.suppress(raw.Error):
                            raw.execute("ROLLBACK")

    @contextlib.contextmanager
    def _writer_turn(self) -> Iterator[None]:
        """On SQLite, queue writers on a kernel file lock before BEGIN IMMEDIATE.

        SQLite's own busy handler makes a waiting writer sleep and poll, which
        under many writers gives waits of hundreds of milliseconds; a blocking
        ``flock`` wakes the next writer as soon as the lock is released.
        """
        if self._write_lock_path is None:
            yield
            return
        with self._thread_lock:
            if self._write_lock_fd is None:
                self._write_lock_fd = os.open(self._write_lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._write_lock_fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._write_lock_fd, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def translate(self) -> Iterator[None]:
        """Turn driver errors into modelbook errors at the boundary."""
        try:
            yield
        except ModelbookError:
            raise
        except exc.IntegrityError as e:
            text = str(e.orig)
            if "UNIQUE" in text or "unique" in text or "duplicate" in text:
                raise AlreadyExists(f"already exists: {text.splitlines()[0]}") from e
            raise Conflict(f"rejected by the database: {text.splitlines()[0]}") from e
        except exc.OperationalError as e:
            text = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
            if "locked" in text or "busy" in text:
                raise Conflict(f"the database stayed busy: {text}") from e
            raise Unavailable(f"database {redact(self.uri)} unavailable: {text}") from e
        except exc.DBAPIError as e:
            text = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
            raise Unavailable(f"database {redact(self.uri)} failed: {text}") from e

    # schema ----------------------------------------------------------------

    def current_revision(self, conn: Connection) -> str | None:
        try:
            with conn.begin_nested():
                row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        except exc.DBAPIError:
            return None
        return None if row is None else str(row[0])

    def migrate(self) -> None:
        """Bring the schema to the head revision, once, even with racing openers."""
        with self.translate():
            with self.engine.connect() as conn:
                if self.current_revision(conn) == HEAD:
                    conn.rollback()
                    return
                conn.rollback()
            with self._migration_lock():
                self._upgrade()

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if self.dialect == "sqlite":
            db = self.url.database
            if not db or db == ":memory:":
                yield
                return
            lock_path = Path(db).expanduser().with_suffix(".migrate.lock")
            with open(lock_path, "a+") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        elif self.dialect == "postgresql":
            with self.engine.connect() as conn:
                conn.exec_driver_sql(f"SELECT pg_advisory_lock({_PG_MIGRATE_LOCK})")
                conn.commit()
                try:
                    yield
                finally:
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_PG_MIGRATE_LOCK})")
                    conn.commit()
        else:
            yield

    def _upgrade(self) -> None:
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.connect() as conn:
            if self.current_revision(conn) == HEAD:
                conn.rollback()
                return
            conn.rollback()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()

    def dispose(self) -> None:
        with self._held_lock:
            held, self._held = self._held, {}
        if self._same_process():
            for conn in held.values():
                with contextlib.suppress(exc.SQLAlchemyError):
                    conn.close()
        self.engine.dispose()
        if self._write_lock_fd is not None:
            os.close(self._write_lock_fd)
            self._write_lock_fd = None
