"""Timeouts, keepalives and the pipeline switch: from the constructor, the
environment or the defaults; the database URL's own settings win."""

from __future__ import annotations

import pytest

from modelbook import InvalidInput
from modelbook.store.engine import SQLITE_BUSY_MS, Database
from modelbook.store.settings import Settings

ENV = (
    "MODELBOOK_BUSY_TIMEOUT_MS",
    "MODELBOOK_PG_STATEMENT_TIMEOUT_MS",
    "MODELBOOK_PG_CONNECT_TIMEOUT_S",
    "MODELBOOK_PG_KEEPALIVES_IDLE_S",
    "MODELBOOK_PG_KEEPALIVES_INTERVAL_S",
    "MODELBOOK_PG_KEEPALIVES_COUNT",
    "MODELBOOK_PG_PIPELINE",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    s = Settings.resolve()
    assert s == Settings(
        busy_timeout_ms=SQLITE_BUSY_MS,
        statement_timeout_ms=60_000,
        connect_timeout_s=10,
        keepalives_idle_s=30,
        keepalives_interval_s=10,
        keepalives_count=3,
        pipeline=True,
    )


def test_the_environment_then_the_argument(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELBOOK_BUSY_TIMEOUT_MS", "1234")
    monkeypatch.setenv("MODELBOOK_PG_PIPELINE", "off")
    monkeypatch.setenv("MODELBOOK_PG_KEEPALIVES_IDLE_S", "0")
    s = Settings.resolve()
    assert (s.busy_timeout_ms, s.pipeline, s.keepalives_idle_s) == (1234, False, 0)
    s = Settings.resolve(busy_timeout_ms=99, pipeline=True)
    assert (s.busy_timeout_ms, s.pipeline) == (99, True)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MODELBOOK_BUSY_TIMEOUT_MS", "soon"),
        ("MODELBOOK_BUSY_TIMEOUT_MS", "0"),
        ("MODELBOOK_PG_STATEMENT_TIMEOUT_MS", "-1"),
        ("MODELBOOK_PG_PIPELINE", "maybe"),
    ],
)
def test_a_bad_variable_is_named(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidInput, match=name):
        Settings.resolve()


def test_a_bad_argument_is_named() -> None:
    with pytest.raises(InvalidInput, match="busy_timeout_ms"):
        Database("sqlite://", busy_timeout_ms=0)


def test_sqlite_connections_get_the_busy_timeout(db_uri: str) -> None:
    if not db_uri.startswith("sqlite"):
        pytest.skip("SQLite's busy timeout")
    db = Database(db_uri, busy_timeout_ms=4321)
    try:
        assert db.reading(lambda c: c.exec_driver_sql("PRAGMA busy_timeout").scalar()) == 4321
    finally:
        db.dispose()


def test_postgresql_connections_get_timeouts_and_keepalives(
    db_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """statement_timeout and lock_timeout are set on the server session; the
    keepalive and connect-timeout parameters are on the libpq connection."""
    if not db_uri.startswith("postgresql"):
        pytest.skip("PostgreSQL settings")
    monkeypatch.setenv("MODELBOOK_PG_KEEPALIVES_COUNT", "7")
    db = Database(db_uri, statement_timeout_ms=12_000, busy_timeout_ms=3_000, pipeline=False)
    try:

        def show(conn: object) -> tuple[object, ...]:
            run = conn.exec_driver_sql  # type: ignore[attr-defined]
            params = conn.connection.dbapi_connection.info.get_parameters()  # type: ignore[attr-defined]
            return (
                run("SHOW statement_timeout").scalar(),
                run("SHOW lock_timeout").scalar(),
                run("SHOW search_path").scalar(),
                params,
            )

        statement, lock, search_path, params = db.reading(show)
        assert (statement, lock) == ("12s", "3s")
        assert search_path == db_uri.rpartition("search_path%3D")[2]  # the URL's options kept
        assert params["keepalives"] == "1"
        assert params["keepalives_idle"] == "30"
        assert params["keepalives_interval"] == "10"
        assert params["keepalives_count"] == "7"
        assert params["connect_timeout"] == "10"
        assert not db.pipelined
    finally:
        db.dispose()


def test_the_url_s_own_settings_win(db_uri: str) -> None:
    """A statement_timeout in the URL's options and a keepalives_idle in its query
    string are kept as given."""
    if not db_uri.startswith("postgresql"):
        pytest.skip("PostgreSQL settings")
    uri = db_uri.replace("?options=", "?keepalives_idle=99&options=-cstatement_timeout%3D7s%20")
    db = Database(uri)
    try:
        statement, params = db.reading(
            lambda c: (
                c.exec_driver_sql("SHOW statement_timeout").scalar(),
                c.connection.dbapi_connection.info.get_parameters(),  # type: ignore[union-attr]
            )
        )
        assert statement == "7s"
        assert params["keepalives_idle"] == "99"
        assert db.pipelined
    finally:
        db.dispose()
