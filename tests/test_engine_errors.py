"""Driver errors become modelbook errors by their codes, on SQLite and PostgreSQL.

PostgreSQL errors are raised for real with ``RAISE ... USING ERRCODE``, SQLite
errors by doing what provokes them; a busy database is ``Unavailable`` and says
for how long it waited, never ``Conflict``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import filelock
import pytest
import sqlalchemy as sa
from sqlalchemy import exc

from modelbook import (
    AlreadyExists,
    Conflict,
    IntegrityError,
    InvalidInput,
    ModelbookError,
    Registry,
    Unavailable,
)
from modelbook.store import locks
from modelbook.store import models as model_rows
from modelbook.store.engine import Database
from modelbook.store.errors import Target, classify
from modelbook.store.settings import Settings
from modelbook.store.sqlite_file import enable_wal

from .conftest import pg_admin_conn


@pytest.fixture
def seeded(db_uri: str, blob_dir: Path, model_file: Path) -> str:
    """A registry with model ``m`` (version 1); returns its URI."""
    with Registry(db_uri, blob_uri=str(blob_dir)) as reg:
        reg.register("m", [model_file], owners="o", capture_environment=False)
    return db_uri


def test_a_duplicate_is_already_exists(db_uri: str) -> None:
    """A unique violation, through SQLAlchemy and through the driver's cursor."""
    db = Database(db_uri)
    try:
        db.migrate()
        with db.write() as conn:
            conn.exec_driver_sql("CREATE TABLE dup (k INTEGER PRIMARY KEY)")
        with db.write() as conn:
            conn.exec_driver_sql("INSERT INTO dup VALUES (1)")
        with pytest.raises(AlreadyExists, match="already exists"), db.write() as conn:
            conn.exec_driver_sql("INSERT INTO dup VALUES (1)")
    finally:
        db.dispose()


def test_a_trigger_refusal_is_a_conflict(seeded: str) -> None:
    """The frozen-version trigger refuses an update: Conflict on both databases
    (a CONSTRAINT_TRIGGER on SQLite, SQLSTATE P0001 on PostgreSQL)."""
    db = Database(seeded)
    try:
        with pytest.raises(Conflict, match="rejected by the database"), db.write() as conn:
            conn.exec_driver_sql("UPDATE versions SET number = 7")
    finally:
        db.dispose()


def test_a_busy_sqlite_database_is_unavailable_not_conflict(tmp_path: Path) -> None:
    """Another process holds SQLite's write lock (without modelbook's lock file): the
    write waits the busy timeout, then fails with Unavailable saying so."""
    uri = f"sqlite:///{tmp_path / 'registry.db'}"
    Database(uri).migrate()
    holder = sqlite3.connect(tmp_path / "registry.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    db = Database(uri, busy_timeout_ms=200)
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable) as err, db.write() as conn:
            conn.exec_driver_sql("DELETE FROM models")
        waited = time.monotonic() - started
        assert "stayed busy for 0.2 s" in str(err.value)
        assert 0.15 < waited < 5
    finally:
        holder.rollback()
        holder.close()
        db.dispose()


@pytest.mark.parametrize("native", [True, False], ids=["descriptor_lock", "file_lock"])
def test_a_held_writer_lock_file_fails_naming_it(
    tmp_path: Path, native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process keeps the writer lock file: Unavailable after the busy timeout,
    naming the lock file and the timeout; with filelock's descriptor lock, and with
    its FileLock (what a filelock older than 3.30 gives)."""
    if not native:
        monkeypatch.setattr(locks, "descriptor_lock", lambda: None)
    uri = f"sqlite:///{tmp_path / 'registry.db'}"
    db = Database(uri, busy_timeout_ms=150)
    lock = filelock.FileLock(str(tmp_path / "registry.db.write.lock"))
    try:
        db.migrate()
        with lock:
            started = time.monotonic()
            with pytest.raises(Unavailable) as err, db.write():
                pass
            assert time.monotonic() - started >= 0.14
        message = str(err.value)
        assert "registry.db.write.lock" in message and "0.15 s" in message
        with db.write() as conn:  # free again
            conn.exec_driver_sql("SELECT 1")
    finally:
        db.dispose()


def test_a_forked_child_does_not_share_its_parent_s_lock(tmp_path: Path) -> None:
    """flock belongs to an open file: a child that reused its parent's descriptor
    would think it holds the lock its parent holds. It opens its own, and waits."""
    db = Database(f"sqlite:///{tmp_path / 'registry.db'}", busy_timeout_ms=200)
    assert db._writer_lock is not None
    with db._writer_lock.hold():
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit status
            try:
                with db._writer_lock.hold():
                    os._exit(1)
            except Unavailable:
                os._exit(0)
            os._exit(2)
        _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0, "the child took a lock its parent held"
    with db._writer_lock.hold():
        pass
    db.dispose()


def test_a_waiting_writer_gets_the_lock_file_promptly(tmp_path: Path) -> None:
    """A writer waiting on the lock file takes it within a few milliseconds of its
    release (FileLock polls it every millisecond)."""
    uri = f"sqlite:///{tmp_path / 'registry.db'}"
    db = Database(uri)
    db.migrate()
    lock = filelock.FileLock(str(tmp_path / "registry.db.write.lock"))
    got: list[float] = []

    def writer() -> None:
        with db.write() as conn:
            got.append(time.monotonic())
            conn.exec_driver_sql("SELECT 1")

    try:
        lock.acquire()
        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(0.1)
        released = time.monotonic()
        lock.release()
        thread.join(10)
        assert got and got[0] - released < 0.05
    finally:
        db.dispose()


def test_a_locked_postgresql_row_is_unavailable_after_the_busy_timeout(
    seeded: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another session holds the model's row lock: lock_timeout (the busy timeout) ends
    the wait with Unavailable "stayed busy", pipelined or not."""
    if not seeded.startswith("postgresql"):
        pytest.skip("PostgreSQL row locks")
    schema = seeded.rsplit("%3D", 1)[1]
    with pg_admin_conn() as other:
        other.autocommit = False
        other.execute(f"SET search_path = {schema}")
        other.execute("SELECT id FROM models WHERE name = 'm' FOR UPDATE")
        for pipeline in (True, False):
            db = Database(seeded, busy_timeout_ms=300, pipeline=pipeline)
            try:
                with pytest.raises(Unavailable) as err, db.write() as conn:
                    model_rows.find(conn, "m", lock=True)
                assert "stayed busy" in str(err.value) and "0.3 s" in str(err.value)
            finally:
                db.dispose()
        other.rollback()


def test_a_slow_postgresql_statement_hits_the_statement_timeout(
    db_uri: str,
) -> None:
    """statement_timeout cancels a statement that runs too long: Unavailable naming
    the timeout (SQLSTATE 57014)."""
    if not db_uri.startswith("postgresql"):
        pytest.skip("PostgreSQL's statement_timeout")
    db = Database(db_uri, statement_timeout_ms=100)
    try:
        with pytest.raises(Unavailable, match=r"statement timeout of 0\.1 s"):
            db.reading(lambda conn: conn.exec_driver_sql("SELECT pg_sleep(5)").all())
        assert db.reading(lambda conn: conn.exec_driver_sql("SELECT 1").scalar()) == 1
    finally:
        db.dispose()


@pytest.mark.parametrize(
    ("sqlstate", "kind", "words"),
    [
        ("23505", AlreadyExists, "already exists"),
        ("23503", Conflict, "rejected by the database"),
        ("23514", Conflict, "rejected by the database"),
        ("40001", Conflict, "try again"),
        ("40P01", Conflict, "try again"),
        ("55P03", Unavailable, "stayed busy"),
        ("57014", Unavailable, "statement timeout"),
        ("25006", Unavailable, "accepts no writes"),
        ("22001", InvalidInput, "refused a value"),
        ("54001", InvalidInput, "larger than the database allows"),
        ("XX001", IntegrityError, "damaged"),
        ("53100", Unavailable, "unavailable"),
        ("57P01", Unavailable, "unavailable"),
        ("08006", Unavailable, "unavailable"),
        ("42P01", Unavailable, "failed"),
    ],
)
def test_postgresql_errors_are_classified_by_sqlstate(
    pg_schema: str, sqlstate: str, kind: type[ModelbookError], words: str
) -> None:
    """Each SQLSTATE family becomes its modelbook error, whatever the message says."""
    from .conftest import pg_uri

    db = Database(pg_uri(pg_schema))
    raise_it = (
        f"DO $$ BEGIN RAISE EXCEPTION 'locked busy UNIQUE duplicate' USING ERRCODE = '{sqlstate}'; "
        f"END $$"
    )
    try:
        with pytest.raises(ModelbookError) as err:
            db.reading(lambda conn: conn.exec_driver_sql(raise_it))
        assert type(err.value) is kind
        assert words in str(err.value)
    finally:
        db.dispose()


def _sqlite_error(make: object) -> exc.DBAPIError:
    try:
        make()  # type: ignore[operator]
    except sqlite3.Error as e:
        return exc.DBAPIError.instance("SQL", (), e, sqlite3.Error)
    raise AssertionError("no error")


def test_sqlite_errors_are_classified_by_result_code(tmp_path: Path) -> None:
    """Real SQLite errors, each classified by its extended result code."""
    path = tmp_path / "r.db"
    setup = sqlite3.connect(path)
    setup.executescript(
        "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL, CHECK (k > 0));"
        "INSERT INTO t VALUES (1, 'a');"
    )
    setup.commit()
    setup.close()
    target = Target(shown=f"sqlite:///{path}", settings=Settings(busy_timeout_ms=1500), path=path)
    conn = sqlite3.connect(path, isolation_level=None)
    read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    junk = sqlite3.connect(tmp_path / "junk.db")
    cases = [
        (lambda: conn.execute("INSERT INTO t VALUES (1, 'b')"), AlreadyExists, "already"),
        (lambda: conn.execute("INSERT INTO t VALUES (2, NULL)"), Conflict, "rejected"),
        (lambda: conn.execute("INSERT INTO t VALUES (-1, 'c')"), Conflict, "rejected"),
        (lambda: read_only.execute("INSERT INTO t VALUES (3, 'd')"), Unavailable, "write access"),
        (lambda: junk.execute("SELECT * FROM sqlite_master"), Unavailable, "not a SQLite"),
        (
            lambda: sqlite3.connect(f"file:{tmp_path}/none/x.db?mode=rw", uri=True),
            Unavailable,
            "cannot open",
        ),
    ]
    try:
        for make, kind, words in cases:
            error = classify(_sqlite_error(make), target)
            assert type(error) is kind, (words, error)
            assert words in str(error), error
        busy = _busy_error(path)
        error = classify(busy, target)
        assert type(error) is Unavailable
        assert "stayed busy for 1.5 s" in str(error)
    finally:
        for c in (conn, read_only, junk):
            c.close()


# Each past one of SQLite's size limits, lowered where the default is too large to
# reach in a test; all but TOOBIG come with the plain result code SQLITE_ERROR.
_OVER_SQLITE_LIMITS = {
    "length": (
        sqlite3.SQLITE_LIMIT_LENGTH,
        1000,
        lambda c: c.exec_driver_sql("SELECT ?", ("x" * 2000,)),
        "SQLITE_LIMIT_LENGTH",
    ),
    "variables": (
        sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER,
        100,
        lambda c: c.exec_driver_sql(
            "SELECT 1 WHERE 1 IN (" + ",".join("?" * 200) + ")", tuple(range(200))
        ),
        "SQLITE_LIMIT_VARIABLE_NUMBER",
    ),
    "expression depth": (
        sqlite3.SQLITE_LIMIT_EXPR_DEPTH,
        100,
        lambda c: c.exec_driver_sql("SELECT 1 WHERE " + " OR ".join(["1 = 0"] * 200)),
        "SQLITE_LIMIT_EXPR_DEPTH",
    ),
    "like pattern": (
        sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH,
        100,
        lambda c: c.exec_driver_sql("SELECT 'a' LIKE ?", ("%" * 200,)).all(),
        "SQLITE_LIMIT_LIKE_PATTERN_LENGTH",
    ),
}


@pytest.mark.parametrize("limit", list(_OVER_SQLITE_LIMITS))
def test_a_request_past_a_sqlite_limit_is_invalid_input_naming_it(
    tmp_path: Path, limit: str
) -> None:
    """Not Unavailable (exit 8): the request is too large, and a smaller one succeeds.
    modelbook's own limits (``limits.py``, the query's length and depth) stop every user
    input well before these, so the classification is checked on the registry's own
    connections with the limit lowered."""
    which, low, run, named = _OVER_SQLITE_LIMITS[limit]
    db = Database(f"sqlite:///{tmp_path / 'r.db'}")
    try:

        def over(conn: sa.Connection) -> object:
            conn.connection.driver_connection.setlimit(which, low)  # type: ignore[union-attr]
            return run(conn)

        with pytest.raises(InvalidInput) as err:
            db.reading(over)
        assert named in err.value.message and "larger than the database allows" in err.value.message
        assert db.reading(lambda conn: conn.exec_driver_sql("SELECT 1").scalar()) == 1
    finally:
        db.dispose()


def test_a_sqlite_syntax_error_is_not_taken_for_a_limit(tmp_path: Path) -> None:
    target = Target(shown="sqlite:///x.db", settings=Settings(), path=None)
    conn = sqlite3.connect(":memory:")
    try:
        error = classify(_sqlite_error(lambda: conn.execute("SELEC 1")), target)
    finally:
        conn.close()
    assert type(error) is Unavailable


def _busy_error(path: Path) -> exc.DBAPIError:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        return _sqlite_error(lambda: waiter.execute("BEGIN IMMEDIATE"))
    finally:
        holder.rollback()
        holder.close()
        waiter.close()


def test_the_wal_switch_waits_for_a_racing_opener_by_code(tmp_path: Path) -> None:
    """Switching to WAL while another connection holds a lock is retried (SQLITE_BUSY
    by code), and succeeds once the lock is gone; a lasting lock ends in the error."""
    path = tmp_path / "new.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE x (a)")
    holder.execute("BEGIN IMMEDIATE")
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    cur = conn.cursor()
    try:
        with pytest.raises(sqlite3.OperationalError) as err:
            enable_wal(cur, busy_ms=100)
        assert err.value.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
        timer = threading.Timer(0.1, holder.rollback)
        timer.start()
        enable_wal(cur, busy_ms=5000)
        timer.join()
        assert cur.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()
        holder.close()


def test_unknown_driver_errors_name_the_database_without_its_password(pg_schema: str) -> None:
    """An error outside every family: Unavailable "failed", naming the database by
    its redacted URL."""
    from .conftest import pg_uri

    uri = pg_uri(pg_schema).replace("postgres@", "postgres:pa55word@")
    db = Database(uri)
    try:
        with pytest.raises(Unavailable) as err:
            db.reading(lambda conn: conn.execute(sa.text("SELECT * FROM no_such_table")))
        assert "failed" in str(err.value)
        assert "pa55word" not in str(err.value) and "postgres:***@" in str(err.value)
    finally:
        db.dispose()
