"""Timeouts, keepalives and the pipeline switch: from the constructor, the
environment or the defaults; the database URL's own settings win."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy

from modelbook import InvalidInput, Registry
from modelbook.cli import main
from modelbook.store.engine import SQLITE_BUSY_MS, Database
from modelbook.store.settings import (
    MAX_KEEPALIVE_S,
    MAX_KEEPALIVES_COUNT,
    MAX_TIMEOUT_MS,
    MAX_TIMEOUT_S,
    Settings,
)

ENV = (
    "MODELBOOK_BUSY_TIMEOUT_MS",
    "MODELBOOK_PG_STATEMENT_TIMEOUT_MS",
    "MODELBOOK_PG_CONNECT_TIMEOUT_S",
    "MODELBOOK_PG_KEEPALIVES_IDLE_S",
    "MODELBOOK_PG_KEEPALIVES_INTERVAL_S",
    "MODELBOOK_PG_KEEPALIVES_COUNT",
    "MODELBOOK_PG_PIPELINE",
    "MODELBOOK_VERIFY_PROCESSES",
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


TOO_LARGE = [
    ("MODELBOOK_BUSY_TIMEOUT_MS", "99999999999999", "1 to 86400000"),
    ("MODELBOOK_BUSY_TIMEOUT_MS", "3000000000", "1 to 86400000"),
    ("MODELBOOK_BUSY_TIMEOUT_MS", "86400001", "1 to 86400000"),
    ("MODELBOOK_PG_STATEMENT_TIMEOUT_MS", "3000000000", "0 to 86400000"),
    ("MODELBOOK_PG_CONNECT_TIMEOUT_S", "86401", "1 to 86400"),
    ("MODELBOOK_PG_KEEPALIVES_IDLE_S", "99999999999", "0 to 32767"),
    ("MODELBOOK_PG_KEEPALIVES_INTERVAL_S", "32768", "1 to 32767"),
    ("MODELBOOK_PG_KEEPALIVES_COUNT", "128", "1 to 127"),
    ("MODELBOOK_PG_KEEPALIVES_COUNT", "9" * 5000, "1 to 127"),
]


@pytest.mark.parametrize(("name", "value", "span"), TOO_LARGE)
def test_a_variable_above_its_range_is_named_with_the_range(
    name: str, value: str, span: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidInput, match=f"{name} must be a whole number from {span}"):
        Settings.resolve()


@pytest.mark.parametrize(
    "arg",
    [
        "busy_timeout_ms",
        "statement_timeout_ms",
        "connect_timeout_s",
        "keepalives_idle_s",
        "keepalives_interval_s",
        "keepalives_count",
    ],
)
def test_an_argument_above_its_range_is_named(arg: str) -> None:
    with pytest.raises(InvalidInput, match=f"{arg} must be a whole number from"):
        Settings.resolve(**{arg: 2**31})


@pytest.mark.parametrize(("name", "value", "span"), TOO_LARGE[:1] + TOO_LARGE[3:8])
def test_the_cli_refuses_a_setting_out_of_range_on_either_database(
    name: str,
    value: str,
    span: str,
    db_uri: str,
    blob_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Exit 6 naming the variable and its range, the same on SQLite and PostgreSQL,
    before any connection."""
    monkeypatch.setenv(name, value)

    def no_connection(*args: object, **kwargs: object) -> None:
        raise AssertionError("connected")

    monkeypatch.setattr(sqlalchemy, "create_engine", no_connection)
    with pytest.raises(SystemExit) as exit_info:
        main(["--uri", db_uri, "--blob-uri", str(blob_dir), "tag", "models:/s/1", "a=b"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 6, err
    assert f"{name} must be a whole number from {span}" in err


def test_the_largest_settings_are_taken_by_either_database(db_uri: str) -> None:
    db = Database(
        db_uri,
        busy_timeout_ms=MAX_TIMEOUT_MS,
        statement_timeout_ms=MAX_TIMEOUT_MS,
        connect_timeout_s=MAX_TIMEOUT_S,
        keepalives_idle_s=MAX_KEEPALIVE_S,
        keepalives_interval_s=MAX_KEEPALIVE_S,
        keepalives_count=MAX_KEEPALIVES_COUNT,
    )
    try:
        assert db.reading(lambda c: c.exec_driver_sql("SELECT 1").scalar()) == 1
    finally:
        db.dispose()


@pytest.mark.parametrize("value", ["0", "3", "two", "99999999999"])
def test_verify_processes_out_of_range_is_named(
    value: str, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELBOOK_VERIFY_PROCESSES", value)
    with pytest.raises(InvalidInput, match=r"MODELBOOK_VERIFY_PROCESSES must be .* 1 to 2"):
        registry.verify_audit()
    monkeypatch.setenv("MODELBOOK_VERIFY_PROCESSES", "1")
    assert not registry.verify_audit().breaks
