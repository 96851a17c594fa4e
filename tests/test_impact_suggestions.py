"""``impact`` of a reference nothing names suggests only what it most likely meant, on
SQLite and PostgreSQL: a value equal but for case first, else values a few edits away,
at most three; never every stored commit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelbook import Registry
from tests import test_cli_lineage
from tests.test_cli_lineage import CLI

cli = test_cli_lineage.cli

COMMITS = [f"{i:x}" * 40 for i in range(1, 10)]


@pytest.fixture
def many(cli: CLI, registry: Registry, tmp_path: Path) -> CLI:
    for i, commit in enumerate(COMMITS):
        weights = tmp_path / f"w{i}.bin"
        weights.write_bytes(f"w{i}".encode())
        data = ["ds2"] if i == 0 else [f"snap_{i}"]
        registry.register(
            "other", [weights], owners="o", code={"commit": commit}, data=data,
            capture_environment=False,
        )  # fmt: skip
    return cli


def test_a_value_equal_but_for_case_is_suggested(many: CLI, registry: Registry) -> None:
    assert registry.impact("dataset:DS2").suggestions == ("dataset:ds2",)
    run = many("impact", "dataset:DS2")
    assert run.code == 3 and "did you mean dataset:ds2?" in run.err, run.err


def test_a_commit_one_character_too_long_suggests_that_commit_only(
    many: CLI, registry: Registry
) -> None:
    typo = COMMITS[4] + "5"
    assert len(typo) == 41
    assert registry.impact(f"commit:{typo}").suggestions == (f"commit:{COMMITS[4]}",)
    body = json.loads(many("impact", f"commit:{typo}", "--json").out)
    assert body["suggestions"] == [f"commit:{COMMITS[4]}"]


def test_suggestions_are_close_and_few(many: CLI, registry: Registry) -> None:
    close = registry.impact("dataset:snap_").suggestions
    assert 0 < len(close) <= 3 and all(s.startswith("dataset:snap_") for s in close)
    assert registry.impact("dataset:ds_2025_10_0").suggestions[0] == "dataset:ds_2025_10_01"
    assert registry.impact("dataset:zzzzzzzzzz").suggestions == ()
    assert registry.impact("commit:" + "e" * 20 + "0" * 20).suggestions == ()
