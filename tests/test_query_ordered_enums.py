"""Comparisons that read one way and ran another: ``risk`` ordered alphabetically
(``risk > 'high'`` found the low-risk models), ``stage`` ordered alphabetically, a
semver too large called malformed, and a metric slice named in a form the language
refuses. On SQLite and PostgreSQL, through the Python API and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelbook import InvalidQuery, Registry
from modelbook.query import parse
from modelbook.query.tree import Field, Member

from .test_cli_lineage import in_process


@pytest.fixture
def tiers(registry: Registry, model_file: Path) -> Registry:
    for name, tier in (("lo", "low"), ("mid", "medium"), ("hi", "high")):
        registry.register(name, [model_file], owners=["o"], risk_tier=tier)  # type: ignore[arg-type]
    return registry


@pytest.mark.parametrize(
    ("query", "models"),
    [
        ("risk > 'low'", {"mid", "hi"}),
        ("risk >= 'medium'", {"mid", "hi"}),
        ("risk < 'high'", {"lo", "mid"}),
        ("risk <= 'low'", {"lo"}),
        ("risk >= 'low'", {"lo", "mid", "hi"}),
        ("not risk > 'medium'", {"lo", "mid"}),
    ],
)
def test_risk_is_ordered_low_medium_high(tiers: Registry, query: str, models: set[str]) -> None:
    assert {v.model for v in tiers.search(query).items} == models
    assert {m.name for m in tiers.models(where=query).items} == models


@pytest.mark.parametrize(
    ("query", "column", "says"),
    [
        ("risk > 'high'", 6, "no risk tier is above 'high'"),
        ("risk < 'low'", 6, "no risk tier is below 'low'"),
        ("risk > 'foo'", 8, "'foo' is not a risk tier"),
        ("stage > 'candidate'", 7, "stages have no order: compare stage with =, != or in"),
        ("stage <= 'nonsense'", 10, "'nonsense' is not a stage"),
        ("semver < '99999999999999999999.0.0'", 10, "is out of range: each part of a semver"),
        ("semver >= '1000000000.0.0'", 11, "at most 999999999"),
    ],
)
def test_an_order_a_field_does_not_have_is_refused_at_its_column(
    tiers: Registry,
    db_uri: str,
    blob_dir: Path,
    capsys: pytest.CaptureFixture[str],
    query: str,
    column: int,
    says: str,
) -> None:
    with pytest.raises(InvalidQuery) as caught:
        tiers.search(query)
    assert caught.value.column == column and says in str(caught.value)
    run = in_process(db_uri, blob_dir, capsys)("search", query)
    assert run.code == 6 and f"column {column}: " in run.err and says in run.err


def test_the_largest_semver_registration_takes_is_still_a_semver() -> None:
    node = parse("semver < '999999999.999999999.999999999'")
    assert node.value == (999_999_999,) * 3  # type: ignore[attr-defined]
    assert isinstance(parse("risk > 'low'"), Member)


_WORDS = (
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="{}=,\x00"),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(bool)
)


@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z_]{0,6}", fullmatch=True), _WORDS, min_size=1, max_size=4
    )
)
def test_a_metric_field_reads_back_as_it_is_written(slice_: dict[str, str]) -> None:
    """A field's text, as errors and hints print it, is a query the language reads."""
    stored = ",".join(f"{k}={v}" for k, v in sorted(slice_.items()))
    field = Field("metrics", "auc", "test", stored)
    assert parse(f"{field.text} > 0.5").field == field  # type: ignore[attr-defined]


def test_a_metric_hint_names_a_slice_as_a_query_writes_it(
    registry: Registry, model_file: Path
) -> None:
    registry.register(
        "m", [model_file], owners=["o"], metrics={"auc@test{region='north america'}": 0.9}
    )
    (hint,) = registry.search_hints("metrics.auc >= 0.9")
    assert "auc@test{region='north america'}" in hint
    named = hint.split("include ")[1].strip("\"'")
    assert [v.model for v in registry.search(f"metrics.{named} >= 0.9").items] == ["m"]


def test_an_abbreviated_commit_is_hinted_as_a_prefix(
    registry: Registry,
    model_file: Path,
    db_uri: str,
    blob_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    commit = "4f2a9c1" + "e" * 33
    registry.register("m", [model_file], owners=["o"], code={"repo": "r", "commit": commit})
    assert registry.search("code.commit = '4f2a9c1'").items == []
    (hint,) = registry.search_hints("code.commit = '4F2A9C1' or code.commit in ('4f2a9c1')")
    assert "'4F2A9C1' is abbreviated" in hint and "code.commit like '4f2a9c1%'" in hint
    prefix = hint.split("with ")[1]
    assert [v.number for v in registry.search(prefix).items] == [1]
    assert registry.search_hints(f"code.commit = '{commit}'") == ()
    assert registry.search_hints("code.commit != '4f2a9c1'") == ()
    (hint,) = registry.search_hints(f"code.commit = '{commit.upper()}'")
    assert hint.endswith(f"registered in lower case, as git prints them: code.commit = '{commit}'")
    assert [v.number for v in registry.search(hint.split(": ")[1]).items] == [1]
    run = in_process(db_uri, blob_dir, capsys)("search", "code.commit = '4f2a9c1'")
    assert run.code == 0 and "hint: commits are registered as full ids" in run.err
