"""A write through ``models:/NAME/latest`` while another process registers: it waits
for the model's row and then acts on the version that registration made."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from modelbook import ModelbookError, Registry


def _waiting_on_a_lock(conn: sa.Connection) -> bool:
    # ``conn`` is in autocommit: a transaction would keep showing the activity
    # snapshot of its first read of pg_stat_activity.
    query = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return bool(conn.exec_driver_sql(query).scalar())


def test_a_write_to_latest_during_a_registration_acts_on_the_new_version(
    registry: Registry, model_file: Path
) -> None:
    if registry.db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's writers take the database's lock before they read anything")
    registry.register("m", [model_file], owners="o", capture_environment=False)
    engine = registry.db.engine
    # A registration in flight, as another process makes it: version 2 written and
    # the model's newest number moved, the transaction not yet committed.
    holder = engine.connect()
    txn = holder.begin()
    holder.exec_driver_sql("SELECT id FROM models WHERE name = 'm' FOR UPDATE")
    holder.exec_driver_sql(
        "INSERT INTO versions (model_id, number, semver, semver_major, semver_minor,"
        " semver_patch, stage, doc, tags, created_at, created_by)"
        " SELECT model_id, 2, '1.1.0', 1, 1, 0, stage, doc, '{}', created_at + 1, created_by"
        " FROM versions WHERE number = 1"
    )
    holder.exec_driver_sql("UPDATE models SET last_number = 2, semver_minor = 1 WHERE name = 'm'")
    outcome: dict[str, Any] = {}

    def write() -> None:
        try:
            outcome["tags"] = registry.set_tags("models:/m/latest", {"seen": "yes"})
        except ModelbookError as exc:  # reported by the assertion below
            outcome["error"] = exc

    writer = threading.Thread(target=write)
    writer.start()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:
        deadline = time.monotonic() + 60
        while not _waiting_on_a_lock(watcher):
            assert writer.is_alive(), outcome
            assert time.monotonic() < deadline, "the write never waited for the model's row"
            time.sleep(0.01)
    txn.commit()
    holder.close()
    writer.join(60)
    assert "error" not in outcome, outcome
    assert dict(registry.get_version("models:/m/2").tags) == {"seen": "yes"}
    assert dict(registry.get_version("models:/m/1").tags) == {}
