"""The aliases a version is read with: every alias write (set, move, swap, delete;
deploy and rollback move aliases the same way) shows on the version it left and the
one it reached, in every read (by number, alias, listing, search), and a registry
written before revision 0008 reads its versions' aliases after the upgrade.

The database keeps each version's list itself (revision 0009), so a write of the
``aliases`` table by plain SQL, as a modelbook older than 0008 still running after
the upgrade, a restore script or a repair by hand makes it, shows too; the upgrade
repairs a list such a writer left stale before it."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from modelbook import Registry

from .conftest import pg_admin_conn
from .reliability.helpers import check_invariants
from .test_audit_log import sql
from .test_migrations import alembic_config, head, revisions

# What a writer that knows nothing of the versions' lists runs.
_INSERT = (
    "INSERT INTO aliases (model_id, name, version_id, number, updated_at, updated_by) "
    "SELECT v.model_id, :alias, v.id, v.number, 1, 'old' FROM versions v "
    "JOIN models m ON m.id = v.model_id WHERE m.name = :model AND v.number = :number"
)
_MOVE = (
    "UPDATE aliases SET version_id = (SELECT v.id FROM versions v "
    "WHERE v.model_id = aliases.model_id AND v.number = :number), number = :number "
    "WHERE name = :alias AND model_id = (SELECT id FROM models WHERE name = :model)"
)
_DELETE = (
    "DELETE FROM aliases WHERE name = :alias "
    "AND model_id = (SELECT id FROM models WHERE name = :model)"
)


def _held(reg: Registry, name: str) -> dict[int, tuple[str, ...]]:
    """Each version's aliases as its reads return them, checked to be the same in every
    read, and against the aliases of the model."""
    pointing: dict[int, list[str]] = {}
    for a in reg.aliases(name):
        pointing.setdefault(a.version, []).append(a.name)
    listed = {v.number: v.aliases for v in reg.versions(name).items}
    searched = {v.number: v.aliases for v in reg.search_versions(model=name).items}
    for number, aliases in listed.items():
        assert reg.get_version(f"models:/{name}/{number}").aliases == aliases
        assert searched[number] == aliases
        assert aliases == tuple(sorted(pointing.get(number, [])))
        for alias in aliases:
            assert reg.resolve(f"models:/{name}@{alias}").aliases == aliases
    return {n: a for n, a in listed.items() if a}


def test_every_alias_write_shows_on_both_versions(registry: Registry, model_file: Path) -> None:
    for _ in range(3):
        registry.register("m", [model_file], owners="o", capture_environment=False)
    registry.set_alias("m", "champion", 1, reason="first")
    registry.set_alias("m", "challenger", 2, reason="try")
    assert _held(registry, "m") == {1: ("champion",), 2: ("challenger",)}
    registry.set_alias("m", "champion", 2, reason="better")
    assert _held(registry, "m") == {2: ("challenger", "champion")}
    registry.set_alias("m", "challenger", 3, reason="next")
    assert _held(registry, "m") == {2: ("champion",), 3: ("challenger",)}
    registry.swap_aliases("m", "champion", "challenger", reason="swap")
    assert _held(registry, "m") == {2: ("challenger",), 3: ("champion",)}
    registry.delete_alias("m", "challenger", reason="done")
    assert _held(registry, "m") == {3: ("champion",)}
    registry.delete_alias("m", "champion", reason="done")
    assert _held(registry, "m") == {}
    check_invariants(registry, read=False)


def test_a_registry_written_before_revision_0008_reads_its_aliases_after_it(
    db_uri: str, blob_dir: Path, model_file: Path
) -> None:
    with Registry(db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        for model in ("a", "b"):
            for _ in range(2):
                reg.register(model, [model_file], owners="o", capture_environment=False)
        reg.set_alias("a", "champion", 2, reason="r")
        reg.set_alias("a", "challenger", 2, reason="r")
        reg.set_alias("b", "champion", 1, reason="r")
        cfg = alembic_config()
        with reg.db.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0007")
            conn.commit()

    with Registry(db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        assert revisions(reg) == [head()]
        assert _held(reg, "a") == {2: ("challenger", "champion")}
        assert _held(reg, "b") == {1: ("champion",)}
        reg.set_alias("b", "champion", 2, reason="after the upgrade")
        assert _held(reg, "b") == {2: ("champion",)}
        check_invariants(reg, read=False)


def _register(reg: Registry, model_file: Path, versions: dict[str, int]) -> None:
    for model, count in versions.items():
        for _ in range(count):
            reg.register(model, [model_file], owners="o", capture_environment=False)


def _lists(reg: Registry, model: str) -> dict[int, str | None]:
    """Each version's list as its row holds it."""
    with reg.db.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT v.number, v.aliases FROM versions v JOIN models m ON m.id = v.model_id "
                "WHERE m.name = :m"
            ),
            {"m": model},
        )
        return {r.number: r.aliases for r in rows}


def test_alias_rows_written_by_plain_sql_show_on_their_versions(
    registry: Registry, model_file: Path
) -> None:
    _register(registry, model_file, {"m": 3, "n": 2})
    registry.set_alias("m", "champion", 1, reason="first")
    registry.set_alias("n", "champion", 2, reason="first")
    assert _held(registry, "m") == {1: ("champion",)}

    sql(registry, _INSERT, model="m", alias="challenger", number=2)
    assert _held(registry, "m") == {1: ("champion",), 2: ("challenger",)}
    sql(registry, _MOVE, model="m", alias="champion", number=2)
    assert _held(registry, "m") == {2: ("challenger", "champion")}
    sql(registry, "UPDATE aliases SET name = 'shadow' WHERE name = 'challenger'")
    assert _held(registry, "m") == {2: ("champion", "shadow")}
    sql(registry, _MOVE, model="m", alias="shadow", number=3)
    assert _held(registry, "m") == {2: ("champion",), 3: ("shadow",)}
    sql(registry, _DELETE, model="m", alias="champion")
    assert _held(registry, "m") == {3: ("shadow",)}
    # A row moved to another model's version is listed on neither: an alias belongs
    # to its own model's versions only.
    sql(registry, "UPDATE aliases SET model_id = (SELECT id FROM models WHERE name = 'n')")
    assert _lists(registry, "m") == {1: None, 2: None, 3: None}
    assert _lists(registry, "n") == {1: None, 2: "champion"}
    sql(registry, "DELETE FROM aliases")
    assert _held(registry, "m") == {}
    assert _held(registry, "n") == {}


def _schema(reg: Registry) -> str:
    with reg.db.engine.connect() as conn:
        return str(conn.exec_driver_sql("SELECT current_schema()").scalar())


def test_a_repair_from_another_postgresql_session_shows(
    registry: Registry, model_file: Path
) -> None:
    """An administrator's session whose search_path does not name the registry's
    schema writes the aliases by their qualified name; a TRUNCATE empties them."""
    if registry.db.dialect != "postgresql":
        pytest.skip("a PostgreSQL search_path and TRUNCATE")
    _register(registry, model_file, {"m": 2})
    registry.set_alias("m", "champion", 1, reason="first")
    schema = _schema(registry)
    with pg_admin_conn() as admin:
        admin.execute("SET search_path = public")
        admin.execute(
            f"UPDATE {schema}.aliases SET number = 2, version_id = "
            f"(SELECT id FROM {schema}.versions WHERE number = 2)"
        )
    assert _held(registry, "m") == {2: ("champion",)}
    sql(registry, "TRUNCATE aliases")
    assert _held(registry, "m") == {}


def test_two_plain_writers_pointing_at_one_version_are_both_listed(
    registry: Registry, model_file: Path
) -> None:
    """Two transactions that take no lock of the model each add an alias to the same
    version; the second waits for the first's row of the version and then lists both."""
    if registry.db.dialect != "postgresql":
        pytest.skip("SQLite's writers take the database's lock before they write anything")
    _register(registry, model_file, {"m": 1})
    engine = registry.db.engine
    first, second = engine.connect(), engine.connect()
    outcome: dict[str, Any] = {}
    try:
        first.begin()
        first.execute(sa.text(_INSERT), {"model": "m", "alias": "a", "number": 1})
        pid = second.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        second.rollback()
        second.begin()

        def write() -> None:
            try:
                second.execute(sa.text(_INSERT), {"model": "m", "alias": "b", "number": 1})
                second.commit()
            except sa.exc.DBAPIError as exc:  # reported by the assertion below
                outcome["error"] = exc

        writer = threading.Thread(target=write)
        writer.start()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
            deadline = time.monotonic() + 60
            waiting = "SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"
            while watcher.execute(sa.text(waiting), {"pid": pid}).scalar() != "Lock":
                assert writer.is_alive(), outcome
                assert time.monotonic() < deadline, "the second writer never waited"
                time.sleep(0.01)
        first.commit()
        writer.join(60)
    finally:
        first.close()
        second.close()
    assert outcome == {}
    assert _held(registry, "m") == {1: ("a", "b")}


def test_the_upgrade_repairs_lists_left_stale_before_it(
    db_uri: str, blob_dir: Path, model_file: Path
) -> None:
    """At revision 0008 (the triggers dropped by the downgrade) a writer of the aliases
    table alone leaves the lists stale; the upgrade repairs every one and puts the
    triggers back."""
    with Registry(db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        _register(reg, model_file, {"a": 3, "b": 2})
        reg.set_alias("a", "champion", 1, reason="r")
        reg.set_alias("a", "challenger", 2, reason="r")
        reg.set_alias("b", "champion", 1, reason="r")
        cfg = alembic_config()
        with reg.db.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0008")
            conn.commit()
        sql(reg, _MOVE, model="a", alias="champion", number=3)
        sql(reg, _DELETE, model="a", alias="challenger")
        sql(reg, _INSERT, model="b", alias="shadow", number=1)
        sql(reg, "UPDATE versions SET aliases = 'ghost' WHERE number = 2")
        assert _lists(reg, "a") == {1: "champion", 2: "ghost", 3: None}
        assert _lists(reg, "b") == {1: "champion", 2: "ghost"}

    with Registry(db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        assert revisions(reg) == [head()]
        assert _held(reg, "a") == {3: ("champion",)}
        assert _held(reg, "b") == {1: ("champion", "shadow")}
        sql(reg, _DELETE, model="b", alias="shadow")
        assert _held(reg, "b") == {1: ("champion",)}
