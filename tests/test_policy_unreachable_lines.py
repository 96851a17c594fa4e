"""``policy set`` refusing a stage flow with unreachable stages names each such stage at the
line it is declared on (not the line of the transitions), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from .test_cli_release import CLI, cli, write
from .test_policy_refusals import TIERS, refused

__all__ = ["cli"]

TOML = """serving_aliases = ["production"]

[stages]
order = [
  "staging",
  "review",
  "candidate",
  "shadow",
  "approved",
  "deployed",
]

[stages.transitions]
staging = ["candidate"]
candidate = ["approved"]
"""

YAML = """serving_aliases: [production]
stages:
  order:
    - staging
    - review
    - candidate
    - shadow
    - approved
    - deployed
  transitions:
    staging: [candidate]
    candidate: [approved]
tiers: {low: {}, medium: {}, high: {}}
"""


@pytest.mark.parametrize(("name", "text"), [("policy.toml", TOML + TIERS), ("policy.yaml", YAML)])
def test_each_unreachable_stage_is_named_at_the_line_it_is_declared_on(
    cli: CLI, tmp_path: Path, name: str, text: str
) -> None:
    err = refused(cli, write(tmp_path / name, text))
    lines = err.splitlines()
    declared = {
        "review": 6 if name.endswith(".toml") else 5,
        "shadow": 8 if name.endswith(".toml") else 7,
    }
    for stage, at in declared.items():
        assert any(
            line.startswith(f"{name} line {at}: stage {stage!r} cannot be reached")
            for line in lines
        ), (stage, err)
    assert lines[-1] == f"error: 2 problems in {name}"
