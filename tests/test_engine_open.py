"""Opening a registry: the schema check runs once per process, ``create=False`` finds
nothing rather than making an empty registry, and in-memory stores say so."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from modelbook import Conflict, InvalidInput, NotFound, Registry, Unavailable
from modelbook.store import schema_state
from modelbook.store.engine import Database

from .conftest import pg_uri, temporary_pg_schema


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine of this process runs while the test does."""
    seen: list[str] = []

    def listener(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    sa.event.listen(Engine, "before_cursor_execute", listener)
    yield seen
    sa.event.remove(Engine, "before_cursor_execute", listener)


def _open(uri: str) -> None:
    db = Database(uri)
    try:
        db.migrate()
    finally:
        db.dispose()


def test_a_second_open_runs_no_schema_check(
    new_db_uri: str, blob_dir: Path, statements: list[str]
) -> None:
    """The first open checks (and makes) the schema; opening the same database again
    in this process runs no statement at all, and the registry works."""
    Registry(new_db_uri, blob_uri=str(blob_dir)).close()
    assert any("alembic_version" in s for s in statements)
    statements.clear()
    with Registry(new_db_uri, blob_uri=str(blob_dir)) as reg:
        assert statements == []
        assert reg.models().items == []


def test_a_new_head_is_checked_again(
    new_db_uri: str, statements: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Remembered is the revision seen, not just "checked": when the head revision
    this code wants changes, the schema is looked at again."""
    _open(new_db_uri)
    statements.clear()
    _open(new_db_uri)
    assert statements == []
    monkeypatch.setattr(schema_state, "HEAD", "not-the-head")
    db = Database(new_db_uri)
    try:
        with db.engine.connect() as conn:
            assert db.current_revision(conn) != "not-the-head"
        statements.clear()
        # At a revision other than HEAD, migrate() runs Alembic, which finds
        # nothing to do; what matters is that it looked.
        db.migrate()
        assert any("alembic_version" in s for s in statements)
    finally:
        db.dispose()


def test_ddl_through_the_engine_makes_the_next_open_check(
    new_db_uri: str, statements: list[str]
) -> None:
    """DDL run through one of this process's engines (a downgrade, or driver SQL) is
    noticed: the next open checks the schema, and makes it again if it must."""
    _open(new_db_uri)
    db = Database(new_db_uri)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(schema_state.MIGRATIONS))
        with db.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
            conn.commit()
        statements.clear()
        db.migrate()
        assert any("alembic_version" in s for s in statements)
        statements.clear()
        db.migrate()
        assert statements == []
        with db.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE scratch (x INTEGER)")
        statements.clear()
        db.migrate()
        assert any("alembic_version" in s for s in statements)
        with db.engine.connect() as conn:
            assert db.current_revision(conn) == schema_state.HEAD
    finally:
        db.dispose()


def test_a_forked_child_checks_again(new_db_uri: str) -> None:
    """What a process remembers is its own: a forked child checks the schema itself."""
    _open(new_db_uri)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            seen: list[str] = []
            sa.event.listen(Engine, "before_cursor_execute", lambda c, cur, s, *_: seen.append(s))
            _open(new_db_uri)
            code = 0 if any("alembic_version" in s for s in seen) else 2
        finally:
            os.write(write, bytes([code]))
            os._exit(0)
    os.close(write)
    try:
        result = os.read(read, 1)
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert result == b"\x00", "the child did not check the schema"


def test_create_false_does_not_make_a_sqlite_registry(tmp_path: Path) -> None:
    """A missing SQLite file with create=False: NotFound naming the file; no file and
    no folder are made."""
    path = tmp_path / "none" / "registry.db"
    with pytest.raises(NotFound) as err:
        Database(f"sqlite:///{path}", create=False)
    assert str(err.value) == f"no registry at {path}"
    assert not path.parent.exists()


def test_create_false_finds_no_registry_in_an_empty_database(
    new_db_uri: str, tmp_path: Path
) -> None:
    """An existing database without Alembic's version table: NotFound from migrate(),
    naming the file (SQLite) or the redacted URL (PostgreSQL); nothing is created."""
    if new_db_uri.startswith("sqlite"):
        engine = sa.create_engine(new_db_uri)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE unrelated (x INTEGER)")
        engine.dispose()
    db = Database(new_db_uri, create=False)
    try:
        with pytest.raises(NotFound) as err:
            db.migrate()
        where = db.file.path if db.file is not None else db.uri
        assert str(err.value) == f"no registry at {where}"
        with db.engine.connect() as conn:
            assert not conn.dialect.has_table(conn, "alembic_version")
    finally:
        db.dispose()


def test_create_false_opens_an_existing_registry(new_db_uri: str, blob_dir: Path) -> None:
    """create=False changes nothing for a registry that exists."""
    Registry(new_db_uri, blob_uri=str(blob_dir)).close()
    db = Database(new_db_uri, create=False)
    try:
        db.migrate()
        with db.engine.connect() as conn:
            assert db.current_revision(conn) == schema_state.HEAD
    finally:
        db.dispose()


def test_create_false_on_a_password_url_hides_the_password(postgres_available: bool) -> None:
    """The NotFound of an empty PostgreSQL schema names the URL without its password."""
    if not postgres_available:
        pytest.skip("PostgreSQL is not reachable")
    with temporary_pg_schema() as schema:
        uri = pg_uri(schema).replace("postgres@", "postgres:hunter2@")
        db = Database(uri, create=False)
        try:
            with pytest.raises(NotFound) as err:
                db.migrate()
        finally:
            db.dispose()
    assert "hunter2" not in str(err.value)
    assert "postgres:***@" in str(err.value)


@pytest.mark.parametrize(
    ("uri", "ephemeral"),
    [
        ("sqlite://", True),
        ("sqlite:///:memory:", True),
        ("sqlite:///file:mem1?mode=memory&cache=shared&uri=true", True),
        ("sqlite:///{tmp}/registry.db", False),
        ("postgresql+psycopg://postgres@127.0.0.1:1/x", False),
    ],
)
def test_ephemeral_stores_say_so(uri: str, ephemeral: bool, tmp_path: Path) -> None:
    """In-memory SQLite stores are ephemeral (the CLI refuses them); files and
    servers are not."""
    db = Database(uri.format(tmp=tmp_path))
    try:
        assert db.ephemeral is ephemeral
    finally:
        db.dispose()


def test_foreign_keys_are_enforced_after_an_upgrade(new_db_uri: str) -> None:
    """SQLite upgrades run with foreign key enforcement off (a table rebuild must not
    delete or refuse child rows); the connections used afterwards enforce them."""
    db = Database(new_db_uri)
    try:
        db.migrate()
        if db.file is not None:
            assert db.reading(lambda c: c.exec_driver_sql("PRAGMA foreign_keys").scalar()) == 1
            with db.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        with pytest.raises(Conflict, match="rejected by the database"), db.write() as conn:
            conn.exec_driver_sql(
                "INSERT INTO model_tags (model_id, key, value) VALUES (999, 'k', 'v')"
            )
    finally:
        db.dispose()


def test_another_sqlite_file_at_the_same_path_is_checked(
    tmp_path: Path, statements: list[str]
) -> None:
    """A registry file replaced by another file (here one made beside it and renamed
    over it) is not taken for the one seen before: the schema is checked and made.
    (A file deleted and made again in place may get its inode back; that, like any
    change of the schema by other means, is noticed by the next process.)"""
    path = tmp_path / "registry.db"
    _open(f"sqlite:///{path}")
    for extra in tmp_path.glob("registry.db?*"):
        extra.unlink()
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE unrelated (x)").connection.close()
    other.replace(path)
    statements.clear()
    _open(f"sqlite:///{path}")
    assert any("alembic_version" in s for s in statements)
    db = Database(f"sqlite:///{path}")
    try:
        with db.engine.connect() as conn:
            assert db.current_revision(conn) == schema_state.HEAD
    finally:
        db.dispose()


def test_a_schema_from_a_newer_modelbook_is_refused_by_name(
    new_db_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A revision this code does not know (a newer modelbook upgraded the database):
    Unavailable naming it, not Alembic's own error."""
    _open(new_db_uri)
    monkeypatch.setattr(schema_state, "_seen_at", {})  # as in a process started afresh
    db = Database(new_db_uri)
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
        with pytest.raises(Unavailable, match="from schema revision 9999 to"):
            db.migrate()
    finally:
        db.dispose()


@pytest.mark.parametrize(
    ("uri", "error", "says"),
    [
        ("garbage:::", InvalidInput, "not a URI SQLAlchemy can read"),
        ("/no/such/folder", InvalidInput, "not a URI SQLAlchemy can read"),
        ("mysql://me:s3cret@host/db", InvalidInput, "SQLite (sqlite:///PATH/registry.db) or"),
        ("nosuch://host/db", InvalidInput, "SQLite (sqlite:///PATH/registry.db) or"),
        ("postgresql+nodriver://me:s3cret@host/db", InvalidInput, "cannot use database"),
    ],
)
def test_a_uri_that_names_no_usable_database_is_bad_input(
    uri: str, error: type[Exception], says: str, tmp_path: Path
) -> None:
    """Exit 6, the mistake's, not 8 ("unavailable", try again later); never the password."""
    with pytest.raises(error) as caught:
        Registry(uri, blob_uri=str(tmp_path / "blobs"))
    assert says in str(caught.value)
    assert "s3cret" not in str(caught.value)
    assert caught.value.exit_code == 6
    assert not (tmp_path / "blobs").exists()


def test_every_sqlite_connection_keeps_a_page_cache_of_its_size(tmp_path: Path) -> None:
    """A search reads pages of a registry many times larger than SQLite's default cache
    of 2 MiB: reading and writing connections hold 16 MiB."""
    db = Database(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        db.migrate()
        assert db.reading(lambda c: c.exec_driver_sql("PRAGMA cache_size").scalar()) == -16384
        with db.write() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == -16384
    finally:
        db.dispose()
