"""The schema of a registry's database: checked once per process, created or upgraded.

A mixin of :class:`~modelbook.store.engine.Database`. Concurrent openers of a
new registry take a lock first (a file lock beside a SQLite database, an
advisory lock on PostgreSQL), so exactly one migrates. A process remembers
which databases it found at :data:`HEAD`, keyed by the redacted URL (and, for
SQLite, the file's identity); DDL run through one of its engines, a fork, or a
new ``HEAD`` makes it check again.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine

from ..errors import IntegrityError, NotFound, Unavailable
from .locks import migration_lock
from .sqlite_file import file_identity

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0012"
_PG_MIGRATE_LOCK = 0x6D6F64656C626B  # "modelbk"
# libpq reads these when the URL leaves them out, so they name the database too.
_LIBPQ_ENV = ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGOPTIONS", "PGSERVICE")
_DDL_TEXT = re.compile(r"\s*(CREATE|ALTER|DROP|TRUNCATE|RENAME)\b", re.IGNORECASE)

# Databases this process found at a schema revision: key -> revision.
_seen_at: dict[str, str] = {}
_seen_lock = threading.Lock()


def _forget_all_after_fork() -> None:
    global _seen_lock
    _seen_lock = threading.Lock()
    _seen_at.clear()


os.register_at_fork(after_in_child=_forget_all_after_fork)


class SchemaState:
    """Schema checks and migrations of a Database (which sets the attributes used here)."""

    engine: Engine
    dialect: str
    uri: str
    file: Any
    settings: Any
    _create: bool
    _target: Any

    def translate(self) -> contextlib.AbstractContextManager[None]:
        raise NotImplementedError

    def current_revision(self, conn: Connection) -> str | None:
        """The schema revision Alembic recorded, or None (no table, or no row)."""
        return self._revision(conn)[1]

    @staticmethod
    def _revision(conn: Connection) -> tuple[bool, str | None]:
        """(whether Alembic's version table exists, the revision it names)."""
        if not conn.dialect.has_table(conn, "alembic_version"):
            return False, None
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return True, None if row is None else str(row[0])

    def migrate(self, on_create: Callable[[Connection], None] | None = None) -> bool:
        """Bring the schema to the head revision, once, even with racing openers.

        ``on_create`` runs inside the transaction that creates the schema of a
        new registry (never on an upgrade), so what it writes (the registry's
        first admin) exists exactly when the registry does. Returns whether
        this call created the registry.

        A database this process already found at :data:`HEAD` is not checked
        again. Raises ``NotFound`` when the database has no registry and the
        ``Database`` was made with ``create=False``; ``Unavailable`` when the
        schema needs creating or upgrading and this user may only read it, when
        another process keeps the migration lock past the busy timeout, or when
        the schema is at a revision this code does not know (one written by a
        newer modelbook).
        """
        if self._seen_at_head():
            return False
        created = False
        with self.translate():
            with self.engine.connect() as conn:
                exists, revision = self._revision(conn)
                conn.rollback()
            if revision != HEAD:
                # Alembic loads only when there is a schema to create or upgrade.
                from alembic.util import CommandError

                self._may_upgrade(exists, revision)
                try:
                    with self._migration_lock():
                        created = self._upgrade(on_create)
                except CommandError as e:
                    raise Unavailable(
                        f"cannot bring {self._target.name} from schema revision {revision} "
                        f"to {HEAD}: {e} (a newer modelbook may have written it)"
                    ) from e
            self._remember(HEAD)
        return created

    def _may_upgrade(self, exists: bool, revision: str | None) -> None:
        where = self.file.path if self.file and self.file.path else self.uri
        if not exists and not self._create:
            raise NotFound(f"no registry at {where}")
        if self.file is not None and self.file.read_only:
            self.file.refuse_writes(
                f"creating its schema (revision {HEAD})"
                if revision is None
                else f"upgrading its schema from revision {revision} to {HEAD}"
            )

    def _schema_key(self) -> str | None:
        """What identifies this database to the process's memory of schemas seen."""
        if self.file is not None:
            identity = file_identity(self.file.path)
            return None if identity is None else f"{self.file.path}|{identity}"
        env = "|".join(os.environ.get(k, "") for k in _LIBPQ_ENV)
        return f"{self.uri}|{env}"

    def _seen_at_head(self) -> bool:
        key = self._schema_key()
        return key is not None and _seen_at.get(key) == HEAD

    def _remember(self, revision: str) -> None:
        key = self._schema_key()
        if key is not None:
            with _seen_lock:
                _seen_at[key] = revision

    def _forget(self) -> None:
        key = self._schema_key()
        if key is not None:
            with _seen_lock:
                _seen_at.pop(key, None)

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if self.file is not None:
            if self.file.path is None:
                yield
                return
            lock = self.file.path.with_suffix(".migrate.lock")
            with migration_lock(lock, self.settings.busy_s):
                yield
        elif self.dialect == "postgresql":
            with self.engine.connect() as conn:
                try:
                    conn.exec_driver_sql(f"SELECT pg_advisory_lock({_PG_MIGRATE_LOCK})")
                except exc.DBAPIError as e:
                    if getattr(e.orig, "sqlstate", None) == "55P03":
                        raise Unavailable(
                            f"the schema of database {self.uri} is being upgraded by another "
                            f"process: its lock was not free within the busy timeout of "
                            f"{self.settings.busy_s:g} s"
                        ) from e
                    raise
                conn.commit()
                try:
                    yield
                finally:
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_PG_MIGRATE_LOCK})")
                    conn.commit()
        else:
            yield

    def _upgrade(self, on_create: Callable[[Connection], None] | None) -> bool:
        """Upgrade to HEAD; True when the schema was created (it had no revision)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.connect() as conn:
            revision = self._revision(conn)[1]
            conn.rollback()
            if revision == HEAD:
                return False
            with self._foreign_keys_deferred_to_the_end(conn):
                if self.dialect == "postgresql":
                    # A schema upgrade may rightly take longer than any one
                    # statement of normal use; the setting ends with its transaction.
                    conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
                cfg.attributes["connection"] = conn
                # Begun here, Alembic joins the transaction instead of committing
                # its own: the schema and what on_create writes commit as one.
                if not conn.in_transaction():
                    conn.begin()
                command.upgrade(cfg, "head")
                self._check_foreign_keys(conn)
                if revision is None and on_create is not None:
                    on_create(conn)
                conn.commit()
        return revision is None

    @contextlib.contextmanager
    def _foreign_keys_deferred_to_the_end(self, conn: Connection) -> Iterator[None]:
        """On SQLite, no foreign key enforcement while the schema is upgraded.

        Alembic changes a SQLite table by copying it to a new one and dropping
        the old; with enforcement on, dropping a parent table deletes or
        refuses its children's rows. The pragma only takes effect outside a
        transaction, so it is set on the idle connection, and set back after.
        """
        if self.file is None:
            yield
            return
        raw: Any = conn.connection.driver_connection
        raw.execute("PRAGMA foreign_keys = OFF")
        try:
            yield
        finally:
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction():
                    conn.rollback()
                raw.execute("PRAGMA foreign_keys = ON")

    def _check_foreign_keys(self, conn: Connection) -> None:
        """Refuse to commit an upgraded SQLite schema that breaks a foreign key."""
        if self.file is None:
            return
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
        if broken:
            raise IntegrityError(
                f"upgrading {self._target.name} to revision {HEAD} would break "
                f"{len(broken)} foreign keys (first: {tuple(broken[0])}); nothing was changed"
            )


def watch_ddl(engine: Engine) -> None:
    """Tell the Database when DDL runs through ``engine``.

    Schema changes made through one of its engines (a downgrade, a test's
    DROP TABLE) make the next ``migrate()`` check the revision again. The
    execution context sees every statement SQLAlchemy runs, compiled DDL and
    driver SQL alike (``before_execute`` misses the latter), and costs
    nothing on the statements ``Prebuilt`` runs.
    """
    dialect: Any = engine.dialect
    base = dialect.execution_ctx_cls

    class _DdlWatchingContext(base):  # type: ignore[misc, valid-type]
        def pre_exec(self) -> None:
            if self.isddl or (self.is_text and _DDL_TEXT.match(self.statement or "")):
                on_ddl = self.execution_options.get("modelbook_on_ddl")
                if on_ddl is not None:
                    on_ddl()
            super().pre_exec()

    dialect.execution_ctx_cls = _DdlWatchingContext
