"""Immutability: a version's frozen record cannot change, not even by hand-written SQL.

The API has no call that edits a frozen field; the database itself refuses an
UPDATE of any frozen column of ``versions`` (a trigger on SQLite and PostgreSQL),
while the mutable annotations (tags, stage) stay writable.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import exc

from modelbook import Registry
from modelbook.store.schema import FROZEN_VERSION_COLUMNS

NEW_VALUES = {
    "model_id": "model_id + 1",
    "number": "number + 100",
    "semver": "'9.9.9'",
    "semver_major": "semver_major + 1",
    "semver_minor": "semver_minor + 1",
    "semver_patch": "semver_patch + 1",
    "doc": "'{}'",
    "created_at": "created_at + 1",
    "created_by": "'mallory'",
}


def _row(reg: Registry) -> tuple[object, ...]:
    with reg.db.engine.connect() as conn:
        return tuple(conn.execute(sa.text("SELECT * FROM versions WHERE number = 1")).one())


def test_frozen_columns_refuse_sql_updates(registry: Registry, model_file: Path) -> None:
    registry.register("m", [model_file], owners="o", metrics={"auc": 0.9})
    before = _row(registry)
    assert set(NEW_VALUES) == set(FROZEN_VERSION_COLUMNS)
    for column in FROZEN_VERSION_COLUMNS:
        with pytest.raises(exc.DBAPIError, match="frozen"), registry.db.engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE versions SET {column} = {NEW_VALUES[column]}"))
        assert _row(registry) == before, column
    assert registry.get_version("m/1").metric("auc") == 0.9


def test_annotations_stay_writable_and_leave_the_record_alone(
    registry: Registry, model_file: Path
) -> None:
    v = registry.register("m", [model_file], owners="o", metrics={"auc": 0.9})
    frozen = v.model_dump(exclude={"tags", "stage", "aliases"})
    for i in range(20):
        registry.set_tags(v.uri, {"round": str(i)})
        registry.set_alias("m", "champion", 1, reason=f"round {i}")
    with registry.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE versions SET stage = 'candidate'"))
    again = registry.get_version(v.uri)
    assert again.model_dump(exclude={"tags", "stage", "aliases"}) == frozen
    assert again.tags == {"round": "19"} and again.stage.value == "candidate"
