"""``Registry.search(..., fields="summary")`` on SQLite and PostgreSQL: the same answer,
order and pages as a full search, each version as a :class:`VersionSummary` read from
its row's own columns; a damaged column is named as a full search names it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from modelbook import Registry, Version, VersionSummary


def summary_dicts(items: list[Any]) -> list[dict[str, Any]]:
    """Versions or summaries as the fields of a summary, to compare the two."""
    return [{name: getattr(v, name) for name in VersionSummary.model_fields} for v in items]


def test_a_summary_types_each_field_as_a_version_does() -> None:
    for name, info in VersionSummary.model_fields.items():
        assert Version.model_fields[name].annotation == info.annotation, name
        assert Version.model_fields[name].metadata == info.metadata, name


def _edit(registry: Registry, assignment: str, number: int) -> None:
    with registry.db.engine.begin() as conn:
        if registry.db.dialect == "postgresql":
            conn.execute(sa.text("DROP TRIGGER IF EXISTS versions_frozen ON versions"))
        else:
            conn.execute(sa.text("DROP TRIGGER IF EXISTS versions_frozen"))
        conn.execute(sa.text(f"UPDATE versions SET {assignment} WHERE number = {number}"))


def test_a_damaged_column_is_named_and_the_page_goes_on(
    registry: Registry, model_file: Path
) -> None:
    for _ in range(3):
        registry.register("m", [model_file], owners="o", capture_environment=False)
    _edit(registry, "tags = '{\"k\": 5}'", 2)
    for fields in ("full", "summary"):
        page = registry.search("name = 'm'", fields=fields)  # type: ignore[call-overload]
        assert [v.number for v in page.items] == [3, 1]
        assert len(page.unreadable) == 1 and "models:/m/2" in page.unreadable[0]


def test_a_summary_does_not_read_the_stored_record(registry: Registry, model_file: Path) -> None:
    """As docs/search.md says: a damaged record is named by a full search, get_version
    and verify; a summary lists the version from its columns."""
    for _ in range(2):
        registry.register("m", [model_file], owners="o", capture_environment=False)
    _edit(registry, "doc = '{\"artifacts\": 5}'", 1)
    registry.ctx.cache.clear()
    full = registry.search("name = 'm'")
    assert [v.number for v in full.items] == [2] and "models:/m/1" in full.unreadable[0]
    summary = registry.search("name = 'm'", fields="summary")
    assert [v.number for v in summary.items] == [2, 1] and summary.unreadable == ()
