"""``modelbook lineage`` output on SQLite and PostgreSQL: a graph cut at --depth says so in
every format, and JSON keys come in the documented order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelbook import Registry
from tests import test_cli_lineage
from tests.test_cli_lineage import CLI

cli = test_cli_lineage.cli


@pytest.fixture
def chain(cli: CLI, registry: Registry, tmp_path: Path) -> CLI:
    """fraud 1 > 2 > 3: from fraud 1, one link down leaves fraud 3 out."""
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"w3")
    registry.register("fraud", [weights], parents=["models:/fraud/2"], capture_environment=False)
    return cli


def test_a_graph_cut_at_its_depth_says_so_in_every_format(chain: CLI) -> None:
    args = ("lineage", "models:/fraud/1", "--down", "--depth", "1", "--format")
    note = "more beyond depth 1: raise --depth to see them"
    assert json.loads(chain(*args, "json").out)["truncated"] is True
    assert f"({note})" in chain(*args, "text").out
    mermaid = chain(*args, "mermaid")
    assert mermaid.code == 0, mermaid.err
    assert f'  cut>"{note}"]' in mermaid.out.splitlines()
    assert "  class cut cut" in mermaid.out.splitlines()
    dot = chain(*args, "dot")
    assert dot.code == 0, dot.err
    assert f'  cut [label="{note}", shape=note, style=dashed];' in dot.out.splitlines()
    assert dot.out.endswith("}\n")
    whole = ("lineage", "models:/fraud/1", "--down", "--format")
    for fmt in ("mermaid", "dot"):
        assert "more beyond" not in chain(*whole, fmt).out


def test_lineage_json_keys_come_in_the_documented_order(chain: CLI) -> None:
    run = chain("lineage", "models:/fraud/1", "--format", "json", "--depth", "1")
    assert run.code == 0, run.err
    assert list(json.loads(run.out)) == [
        "root", "direction", "depth", "truncated", "nodes", "edges",
    ]  # fmt: skip
    doc = (Path(__file__).parents[1] / "docs" / "lineage.md").read_text()
    assert "`root`,\n`direction`, `depth` (null: all), `truncated`, `nodes`" in doc
