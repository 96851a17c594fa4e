"""Engines, transactions and schema migration for SQLite and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL`` (a commit is on disk when
it returns, also across a power loss), a busy timeout and foreign keys on;
write transactions start with ``BEGIN IMMEDIATE``, after queueing on a lock
file beside the database (see :mod:`.locks`). A registry file this user may
only read is opened read-only, and a write then fails naming what must be
writable (see :mod:`.sqlite_file`). PostgreSQL runs at READ COMMITTED and
serialises writers of one model by locking that model's row; with psycopg 3 a
write's statements are pipelined (see :mod:`.pipeline`).

Settings, each from the constructor's argument, else the environment
variable, else the default (the database URL's own libpq parameters and
``options`` win over all three; details in :mod:`.settings`):

- ``busy_timeout_ms`` / ``MODELBOOK_BUSY_TIMEOUT_MS`` (default 30000, i.e.
  :data:`SQLITE_BUSY_MS`): how long a write waits for other writers (SQLite's
  busy timeout and the writer lock file; PostgreSQL's ``lock_timeout``)
  before it fails with ``Unavailable`` "stayed busy";
- ``statement_timeout_ms`` / ``MODELBOOK_PG_STATEMENT_TIMEOUT_MS`` (60000;
  0 for none): PostgreSQL's ``statement_timeout``; schema upgrades are exempt;
- ``connect_timeout_s`` / ``MODELBOOK_PG_CONNECT_TIMEOUT_S`` (10);
- ``keepalives_idle_s`` / ``MODELBOOK_PG_KEEPALIVES_IDLE_S`` (30; 0 turns TCP
  keepalives off), ``keepalives_interval_s`` /
  ``MODELBOOK_PG_KEEPALIVES_INTERVAL_S`` (10), ``keepalives_count`` /
  ``MODELBOOK_PG_KEEPALIVES_COUNT`` (3): a PostgreSQL server that vanished
  without closing the connection is noticed after about a minute;
- ``pipeline`` / ``MODELBOOK_PG_PIPELINE`` (1; 0 turns it off): pipelined
  PostgreSQL writes.

Driver errors become modelbook errors by their SQLSTATE or SQLite result
code, never by their text (see :mod:`.errors`). No password is ever shown:
messages and ``repr`` name the database by its URL rendered with the
password masked, also a ``password`` query parameter (see :mod:`.dburl`).

The schema is created and upgraded by Alembic when a registry is opened.
Concurrent openers of a brand-new registry take a lock first (a file lock
beside a SQLite database, an advisory lock on PostgreSQL), so exactly one of
them migrates. A process remembers which databases it found at :data:`HEAD`
(by their URL with its options, and for SQLite the file's identity), so
opening one again costs no query; DDL run through one of its engines, a
fork, or a new ``HEAD`` makes it check again.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine

from ..errors import InvalidInput, ModelbookError, Unavailable
from . import pipeline as pipelined
from .dburl import redact, secrets_of, unclear, without_secrets
from .errors import Target, classify
from .held import MAX_HELD, MAX_HELD_WRITERS, HeldConnections
from .locks import WriterLock
from .pg_connection import check_sockets_on_checkout, connect_args, idle_and_alive
from .prebuilt import Prebuilt
from .schema_state import HEAD, MIGRATIONS, SchemaState, watch_ddl
from .settings import DEFAULT_BUSY_MS, Settings
from .sqlite_file import SqliteFile, install

__all__ = [
    "HEAD",
    "MAX_HELD_READERS",
    "MIGRATIONS",
    "SQLITE_BUSY_MS",
    "Database",
    "Prebuilt",
    "Settings",
    "default_home",
    "redact",
]

# The default busy timeout, in milliseconds.
SQLITE_BUSY_MS = DEFAULT_BUSY_MS
# Threads that keep a connection of their own for reads (fewer keep one for writes:
# MAX_HELD_WRITERS); more borrow one from the pool per transaction (see :mod:`.held`).
MAX_HELD_READERS = MAX_HELD
T = TypeVar("T")

# Every engine of this process. A forked child lets go of their pools' connections,
# which are its parent's sockets, without closing them (SQLAlchemy's advice for
# fork), and makes its own.
_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def _forget_pools_after_fork() -> None:
    for engine in list(_engines):
        # An in-memory SQLite database lives in its one connection: kept.
        if not isinstance(engine.pool, sa.pool.SingletonThreadPool):
            engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_pools_after_fork)


def default_home() -> Path:
    """The registry folder: ``$MODELBOOK_HOME``, else ``~/.modelbook``."""
    return Path(os.environ.get("MODELBOOK_HOME") or Path.home() / ".modelbook").expanduser()


class Database(SchemaState):
    """One metadata database: engine, transactions and error translation.

    ``uri``: a SQLAlchemy database URL (``sqlite:///PATH``, ``sqlite://`` for
    a throw-away in-memory database, ``postgresql://...``, which uses
    psycopg 3). ``create``: when False, a registry that does not exist yet is
    not created: a missing SQLite file raises ``NotFound("no registry at
    PATH")`` here, and a database without Alembic's version table raises it
    from :meth:`migrate` (naming the redacted URL). The other arguments are
    the settings described in the module's docstring; None takes the
    environment variable or the default.

    Raises ``InvalidInput`` for text that is no database URI, a database
    other than SQLite or PostgreSQL, or a bad setting; ``Unavailable`` for a
    driver that is not installed or a SQLite folder that cannot be made.
    """

    def __init__(
        self,
        uri: str,
        *,
        create: bool = True,
        busy_timeout_ms: int | None = None,
        statement_timeout_ms: int | None = None,
        connect_timeout_s: int | None = None,
        keepalives_idle_s: int | None = None,
        keepalives_interval_s: int | None = None,
        keepalives_count: int | None = None,
        pipeline: bool | None = None,
    ) -> None:
        self.settings = Settings.resolve(
            busy_timeout_ms=busy_timeout_ms,
            statement_timeout_ms=statement_timeout_ms,
            connect_timeout_s=connect_timeout_s,
            keepalives_idle_s=keepalives_idle_s,
            keepalives_interval_s=keepalives_interval_s,
            keepalives_count=keepalives_count,
            pipeline=pipeline,
        )
        try:
            url = sa.make_url(uri)
        except (exc.ArgumentError, ValueError, TypeError) as e:
            # A folder or file path where a URI belongs is the usual slip.
            # Not the parser's own message: it may quote the URI, password and all.
            raise InvalidInput(
                f"invalid database URI {redact(str(uri))!r}: not a URI SQLAlchemy can read; "
                "give one such as "
                "sqlite:///PATH/registry.db or postgresql+psycopg://USER@HOST/DB (a folder "
                "for the embedded registry is Registry(home=PATH) or MODELBOOK_HOME)"
            ) from e
        why = unclear(uri, url)
        if why is not None:
            # Not shown: what the parser took for a port, host or database may be a password.
            raise InvalidInput(
                f"invalid database URI (not shown): {why}; give one such as "
                "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB"
            )
        # The URI as it may be shown: every password masked.
        self.uri = redact(url)
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise InvalidInput(
                f"cannot use database {self.uri}: modelbook stores its metadata in SQLite "
                "(sqlite:///PATH/registry.db) or PostgreSQL (postgresql+psycopg://USER@HOST/DB)"
            )
        self._secrets = secrets_of(url)
        self._create = create
        self.dialect = url.get_backend_name()
        self.file: SqliteFile | None = None
        kwargs: dict[str, Any] = {}
        if self.dialect == "sqlite":
            self.file = SqliteFile.inspect(url, create=create)
            url = self.file.engine_url(url)
            kwargs["connect_args"] = {"timeout": self.settings.busy_s}
            if self.file.ephemeral:
                # One connection per thread, as SQLAlchemy picks for ":memory:"
                # (it no longer infers this from a "mode=memory" file URI).
                kwargs["poolclass"] = sa.pool.SingletonThreadPool
        elif self.dialect == "postgresql":
            if url.drivername == "postgresql":
                url = url.set(drivername="postgresql+psycopg")
            url, secret_args = without_secrets(url)
            kwargs["connect_args"] = {**secret_args, **connect_args(url, self.settings)}
        # psycopg 3 gets pipelined writes and a ping-free liveness check; any
        # other driver keeps SQLAlchemy's ping on checkout.
        self._psycopg = pipelined.available(url)
        if self.dialect != "sqlite" and not self._psycopg:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine: Engine = sa.create_engine(url, **kwargs)
        except exc.ArgumentError as e:
            # A driver name SQLAlchemy does not know (postgresql+nodriver): the URI's fault.
            raise InvalidInput(f"cannot use database {self.uri}: {e}") from e
        except ImportError as e:
            # A known driver that is not installed here: this machine's.
            raise Unavailable(f"cannot use database {self.uri}: {e}") from e
        self.url = url
        # For a second process that reads the same database (see :meth:`shared_uri`);
        # never shown: it may hold a password.
        self._given = None if self.file is not None and self.file.ephemeral else uri
        self._target = Target(
            shown=self.uri,
            settings=self.settings,
            path=self.file.path if self.file else None,
            read_only=bool(self.file and self.file.read_only),
            secrets=self._secrets,
        )
        # Read by the execution context _watch_ddl installs; set before any
        # engine derived from this one copies the engine's options.
        self.engine.update_execution_options(modelbook_on_ddl=self._forget)
        self._writer_lock: WriterLock | None = None
        self._pipelined = self._psycopg and self.settings.pipeline
        if self.file is not None:
            install(self.engine, self.file, self.settings.busy_timeout_ms)
            if self.file.path is not None and not self.file.read_only:
                lock_path = Path(f"{self.file.path}.write.lock")
                self._writer_lock = WriterLock(lock_path, self.settings.busy_s)
            self._autocommit = self.engine.execution_options(modelbook_autocommit=True)
        else:
            self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self._psycopg:
                check_sockets_on_checkout(self.engine)
            if self._pipelined:
                pipelined.install(self.engine)
        watch_ddl(self.engine)
        _engines.add(self.engine)
        self._readers = HeldConnections(self._autocommit.connect)
        # A kept writer is checked as the pool checks a connection it hands out:
        # by its socket with psycopg 3; another PostgreSQL driver needs the pool's
        # ping on checkout, so there every write borrows.
        self._writers = HeldConnections(
            lambda: _writer(self._autocommit if self._pipelined else self.engine),
            idle_and_alive if self._psycopg else (lambda _conn: True),
            MAX_HELD_WRITERS if self._psycopg or self.file is not None else 0,
        )

    def shared_uri(self) -> str | None:
        """The URI, password included, that another process opens this database with;
        None for an in-memory one. Pass it on privately (a pipe), never on a command line."""
        return self._given

    def __repr__(self) -> str:
        return f"Database({self.uri!r})"

    @property
    def ephemeral(self) -> bool:
        """True for an in-memory SQLite database, gone with its last connection."""
        return bool(self.file and self.file.ephemeral)

    @property
    def read_only(self) -> bool:
        """True when this user may only read the SQLite file (it was opened ``mode=ro``)."""
        return bool(self.file and self.file.read_only)

    @property
    def pipelined(self) -> bool:
        """True when PostgreSQL writes are sent in a psycopg pipeline."""
        return self._pipelined

    # transactions -------------------------------------------------------

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction on a pooled connection, rolled back at the end."""
        with self.translate(), self.engine.connect() as conn, conn.begin():
            yield conn

    def reading(self, fn: Callable[[Connection], T]) -> T:
        """Run a short read on this thread's own autocommit connection.

        The connection stays checked out between calls, so a read costs its
        statements only: no pool checkout, liveness ping, BEGIN or ROLLBACK.
        A connection found dead (a restarted server, a killed backend) is
        replaced and the read run once more; reads change nothing, so the
        retry is safe. Returns what ``fn`` returns; driver errors are raised
        as modelbook errors.
        """
        # What translate() does, written out: every read runs this.
        try:
            for attempt in (1, 2):
                conn, borrowed = self._readers.get()
                try:
                    return fn(conn)
                except exc.DBAPIError as e:
                    if borrowed or not e.connection_invalidated:
                        raise
                    self._readers.forget(conn)
                    if attempt == 2:
                        raise
                except (KeyboardInterrupt, SystemExit, GeneratorExit):
                    # Interrupted mid-read: the connection's state is unknown.
                    if not borrowed:
                        self._readers.forget(conn)
                    raise
                finally:
                    self._readers.done(conn, borrowed)
        except ModelbookError:
            raise
        except exc.DBAPIError as e:
            raise classify(e, self._target) from e
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: committed when the body returns, rolled back
        when it raises.

        On SQLite the writer first queues on the lock file beside the database,
        then begins with ``BEGIN IMMEDIATE``. On PostgreSQL with psycopg 3 the
        statements are pipelined unless the pipeline is switched off (see
        :mod:`.pipeline`). Raises ``Unavailable`` naming what must be writable
        when this user may only read the SQLite file, and ``Unavailable``
        "stayed busy" when other writers keep the lock past the busy timeout;
        driver errors are raised as modelbook errors.
        """
        if self.file is not None:
            self.file.refuse_writes()
        with self.translate(), self._writer_turn():
            conn, borrowed = self._writers.get()
            try:
                if self._pipelined:
                    with pipelined.write(conn):
                        yield conn
                else:
                    with conn.begin():
                        yield conn
            except BaseException as e:
                # Interrupted, or not rolled back: the connection's state is unknown.
                if not borrowed and (not isinstance(e, Exception) or conn.in_transaction()):
                    self._writers.forget(conn)
                raise
            finally:
                self._writers.done(conn, borrowed)

    def _writer_turn(self) -> contextlib.AbstractContextManager[None]:
        if self._writer_lock is None:
            return contextlib.nullcontext()
        return self._writer_lock.hold()

    @contextlib.contextmanager
    def translate(self) -> Iterator[None]:
        """Turn driver errors into modelbook errors at the boundary (see :mod:`.errors`)."""
        try:
            yield
        except ModelbookError:
            raise
        except exc.DBAPIError as e:
            raise classify(e, self._target) from e

    # schema ----------------------------------------------------------------

    def dispose(self) -> None:
        """Close the held connections, the pool and the writer lock file."""
        self._readers.close()
        self._writers.close()
        self.engine.dispose()
        if self._writer_lock is not None:
            self._writer_lock.close()


def _writer(engine: Engine) -> Connection:
    """A connection of ``engine`` for write transactions."""
    conn = engine.connect()
    conn.execution_options(modelbook_write=True)
    return conn
