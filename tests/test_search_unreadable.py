"""``modelbook search`` with a row it cannot read, on SQLite and PostgreSQL: the rest of
the page is printed and the exit code stays 0, as docs/search.md says; the damaged
version is named on stderr and in the JSON's ``unreadable``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from modelbook import Registry

from .test_cli_lineage import in_process


def test_search_names_an_unreadable_row_and_goes_on(
    registry: Registry,
    db_uri: str,
    blob_dir: Path,
    model_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for _ in range(3):
        registry.register("m", [model_file], owners="o", capture_environment=False)
    with registry.db.engine.begin() as conn:
        if registry.db.dialect == "postgresql":
            conn.execute(sa.text("DROP TRIGGER IF EXISTS versions_frozen ON versions"))
        else:
            conn.execute(sa.text("DROP TRIGGER versions_frozen"))
        conn.execute(sa.text("UPDATE versions SET doc = '{\"artifacts\": 5}' WHERE number = 2"))
    cli = in_process(db_uri, blob_dir, capsys)
    run = cli("search", "name = 'm'", "--json")
    assert run.code == 0, run.err
    body = json.loads(run.out)
    assert [v["number"] for v in body["versions"]] == [3, 1]
    assert len(body["unreadable"]) == 1 and "models:/m/2" in body["unreadable"][0]
    run = cli("search", "name = 'm'")
    assert run.code == 0
    assert any(x.startswith("unreadable: ") and "models:/m/2" in x for x in run.err.splitlines())
    doc = (Path(__file__).parents[1] / "docs" / "search.md").read_text()
    assert "the exit code stays 0" in doc and "`unreadable`" in doc
