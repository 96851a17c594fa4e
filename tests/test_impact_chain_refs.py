"""``Impact.chain`` takes a version reference in every form ``lineage()`` takes (a
number with or without ``models:/``, a semver, an alias, ``latest``), resolved by the
registry's one resolver, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from modelbook import Registry
from modelbook.errors import InvalidInput, NotFound
from modelbook.impact import Impact
from tests import test_cli_lineage
from tests.test_cli_lineage import CLI

cli = test_cli_lineage.cli


def test_chain_resolves_a_version_as_lineage_does(cli: CLI, registry: Registry) -> None:
    # fraud 1 > 2 (deployed, @production, the latest of fraud); churn 1 from fraud 1.
    hit = registry.impact("dataset:ds_2025_10_01")
    assert hit.chain("models:/fraud/2") == ("models:/fraud/1",)
    semver = registry.get_version("models:/fraud/2").semver
    for ref in (
        "fraud/2",
        " models:/fraud/2 ",
        "models:/fraud/latest",
        "fraud@production",
        f"models:/fraud/{semver}",
    ):
        assert registry.lineage(ref).root == "models:/fraud/2"
        assert hit.chain(ref) == ("models:/fraud/1",), ref
    assert hit.chain("churn/1") == ("models:/fraud/1",)
    assert hit.chain("fraud/1") == ()
    with pytest.raises(NotFound, match="models:/fraud/9"):
        hit.chain("fraud/9")
    # @latest names an alias called latest, for chain() as for lineage().
    for missing in ("fraud@nowhere", "fraud@latest"):
        with pytest.raises(NotFound):
            registry.lineage(missing)
        with pytest.raises(NotFound):
            hit.chain(missing)
    with pytest.raises(InvalidInput):
        hit.chain("fraud")
    other = registry.impact("models:/fraud/2")
    with pytest.raises(NotFound, match="not among the versions"):
        other.chain("fraud/latest")


def test_an_answer_read_back_resolves_what_it_lists(cli: CLI, registry: Registry) -> None:
    hit = Impact.model_validate(registry.impact("dataset:ds_2025_10_01").model_dump())
    assert hit.chain("fraud/2") == ("models:/fraud/1",)
    assert hit.chain("fraud@production") == ("models:/fraud/1",)
