"""A list of a policy that names an item twice is refused at that item's line when the
policy is set ([doctor] required, transitions, the built-in checks' lists); a stored
policy with a repeat is still read, each required field once; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelbook import InvalidInput, Registry
from modelbook.policy import load_policy

from .test_cli_release import CLI, cli, write
from .test_policy_refusals import TIERS, refused
from .test_release_flow import flow, store_policy

__all__ = ["cli", "flow"]  # fixtures, imported for pytest

DOCTOR = '[doctor]\nrequired = [\n  "code.commit",\n  "code.commit",\n]\n' + TIERS


def test_policy_set_refuses_a_required_field_listed_twice(cli: CLI, tmp_path: Path) -> None:
    err = refused(cli, write(tmp_path / "policy.toml", DOCTOR))
    assert (
        'policy.toml line 4: "code.commit" is listed twice (first as item 1): list it once'
    ) in err


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            '[stages]\norder = ["candidate", "staging", "deployed"]\n'
            'transitions = { candidate = [\n  "staging",\n  "staging",\n] }\n' + TIERS,
            5,
            '"staging" is listed twice',
        ),
        (
            "[tiers.low]\n[tiers.medium]\n[tiers.high]\n"
            '[[tiers.low.candidate]]\ncheck = "lineage_complete"\n'
            'fields = ["code.commit", "code.commit"]\n',
            6,
            '"code.commit" is listed twice',
        ),
        (
            "[tiers.low]\n[tiers.medium]\n[tiers.high]\n"
            '[[tiers.low.candidate]]\ncheck = "compare"\nmetrics = ["auc@test", "auc@test"]\n',
            6,
            '"auc@test" is listed twice',
        ),
    ],
)
def test_other_lists_refuse_a_repeat_at_its_line(text: str, line: int, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        load_policy(text, source="policy.toml")
    assert str(info.value) == f"policy.toml line {line}: {message} (first as item 1): list it once"


def test_a_stored_policy_with_a_repeat_is_read_each_field_once(registry: Registry) -> None:
    store_policy(registry, DOCTOR)
    assert registry.doctor().required == ("code.commit",)


def test_documented() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "release-flow.md").read_text()
    assert 'line 4: "code.commit" is listed twice' in doc
