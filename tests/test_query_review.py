"""Mistakes in a query that read as something else: a keyword where a field goes, a
malformed date, a misspelt field, a metric under another split, a stage or risk tier
that does not exist. Each is refused (InvalidQuery, exit code 6) naming its column and
what is accepted there, the same in the parser, the Python API and the CLI."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from modelbook import InvalidInput, InvalidQuery, Registry
from modelbook.query import Compare, Field, parse, parse_order, valid_fields

from .test_cli_lineage import in_process
from .test_release_flow import ADMIN, policy

# -- a keyword where a field is expected ---------------------------------------------


@pytest.mark.parametrize(
    ("query", "column", "keyword"),
    [
        ("and = 1", 1, "and"),
        ("created_by = 'x' and or = 2", 22, "or"),
        ("OR = 2", 1, "OR"),
        ("in = 1", 1, "in"),
        ("like = 'x'", 1, "like"),
        ("is = 1", 1, "is"),
        ("null = 1", 1, "null"),
        ("true = 1", 1, "true"),
        ("desc = 1", 1, "desc"),
        ("(or = 1)", 2, "or"),
        ("not and = 1", 5, "and"),
        ("not not in ('a')", 9, "in"),
        ("not is null", 5, "is"),
        # the not was read as a negation, and the field that must follow it is missing
        ("not = 1", 1, "not"),
        ("name = 'a' or not = 2", 15, "not"),
        ("not (not = 1)", 6, "not"),
    ],
)
@pytest.mark.parametrize("scope", ["version", "model"])
def test_a_keyword_where_a_field_goes_is_named_at_its_column(
    query: str, column: int, keyword: str, scope: str
) -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse(query, scope)  # type: ignore[arg-type]
    message = str(caught.value)
    assert caught.value.column == column, message
    assert f"expected a field, found the keyword {keyword!r}" in message
    assert "valid fields: " + ", ".join(valid_fields(scope)) in message  # type: ignore[arg-type]
    assert caught.value.expected == ("a field",)


def test_a_keyword_as_the_order_and_a_keyword_inside_a_key_or_name() -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse_order("desc")
    assert caught.value.column == 1 and "found the keyword 'desc'" in str(caught.value)
    # A keyword as a key, or as part of a longer word, is no keyword.
    assert parse("tags.and = 'x'") == Compare(Field("tags", "and"), "=", "x")
    assert parse("not tags.or is null") is not None
    with pytest.raises(InvalidQuery, match="unknown field 'notes'"):
        parse("notes = 1")


# -- dates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        "2026-01-01t12:00:00z",
        "2026-01-01T12:00:00z",
        "2026-01-01t12:00:00Z",
        "2026-01-01T12:00:00Z",
        "2026-01-01T13:00:00+01:00",
        "2026-01-01T12:00:00-00:00",
        "2026-01-01T12:00",
    ],
)
def test_a_date_reads_as_rfc_3339_allows_lower_case_t_and_z(written: str) -> None:
    noon = datetime(2026, 1, 1, 12, tzinfo=UTC)
    for query in (f"created_at = {written}", f"created_at = '{written}'"):
        assert parse(query) == Compare(Field("created_at"), "=", noon)
    assert parse("created_at = '2026-01-01 12:00:00Z'") == Compare(Field("created_at"), "=", noon)


@pytest.mark.parametrize(
    "written",
    [
        "2026-01-01T12",
        "2026-01-01T12:00:00.1234567Z",
        "2026-01-01T12:00+0100",
        "2026-01-01T12:00:00+01",
        "2026-13-01",
        "2026-02-30T00:00",
        "2026-01-01T24:00",
        "2026-01-01T12:00:60Z",
    ],
)
def test_a_malformed_date_is_refused_whole_naming_it_and_the_forms(written: str) -> None:
    for query in (f"created_at > {written}", f"created_at > '{written}'"):
        with pytest.raises(InvalidQuery) as caught:
            parse(query)
        message = str(caught.value)
        assert caught.value.column == 14, message
        assert f"{written!r} is not a date" in message
        for form in ("YYYY-MM-DD", "THH:MM:SS.ffffff", "Z or +HH:MM"):
            assert form in message
    for query in ("created_at > '20260101'", "created_at > '2026-W01-1'"):
        with pytest.raises(InvalidQuery, match="is not a date this language reads"):
            parse(query)


# -- a misspelt field ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "scope", "suggestion"),
    [
        ("tag.team = 'a'", "version", "tags.team"),
        ("tag.team = 'a'", "model", "tags.team"),
        ("tgs.team = 'a'", "version", "tags.team"),
        ("metric.auc > 1", "version", "metrics.auc"),
        ("param.lr = '1'", "version", "params.lr"),
        ("envs.torch = '2'", "version", "env.torch"),
        ("code.comit = 'a'", "version", "code.commit"),
        ("nme = 'x'", "model", "name"),
        ("ownr = 'x'", "model", "owner"),
    ],
)
def test_a_misspelt_field_suggests_the_closest_with_its_key(
    query: str, scope: str, suggestion: str
) -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse(query, scope)  # type: ignore[arg-type]
    assert f"(did you mean {suggestion}?)" in str(caught.value)


def test_a_misspelt_version_field_in_a_model_listing_says_it_is_one() -> None:
    for query, suggestion in (("stge = 'a'", "stage"), ("deprecatd = true", "deprecated")):
        with pytest.raises(InvalidQuery) as caught:
            parse(query, "model")
        message = str(caught.value)
        assert f"did you mean {suggestion}? it describes versions" in message
        assert "valid fields: " + ", ".join(valid_fields("model")) in message


# -- against a registry: every front end ---------------------------------------------


def _two_versions(reg: Registry, model_file: Path) -> None:
    reg.register("fraud", [model_file], owners=["alice"], risk_tier="high",
                 metrics={"auc@test": 0.9})  # fmt: skip
    reg.register("fraud", [model_file], metrics={"auc@val": 0.8, "auc@test{region=eu}": 0.7,
                 **{f"auc{{region={r}}}": 0.5 for r in "abcdef"}})  # fmt: skip


def test_every_front_end_refuses_alike_and_writes_nothing(
    registry: Registry,
    model_file: Path,
    db_uri: str,
    blob_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _two_versions(registry, model_file)
    events = len(registry.events(limit=1000).items)
    calls = {
        "search": lambda q: registry.search(q),
        "versions": lambda q: registry.versions("fraud", where=q),
        "models": lambda q: registry.models(where=q),
    }
    cli = in_process(db_uri, blob_dir, capsys)
    argv = {
        "search": lambda q: ("search", q),
        "versions": lambda q: ("versions", "fraud", "--where", q),
        "models": lambda q: ("models", "--where", q),
    }
    cases = [
        ("and = 1", 1, "found the keyword 'and'"),
        ("name = 'a' or not = 1", 15, "found the keyword 'not'"),
        ("created_at > '2026-01-01T12'", 14, "'2026-01-01T12' is not a date"),
        ("nme = 'x'", 1, "did you mean name?"),
        ("tag.team = 'x'", 1, "did you mean tags.team?"),
        ("risk = 'extreme'", 8, "'extreme' is not a risk tier: risk is one of low, medium, high"),
        ("risk in ('low', 'Low')", 17, "'Low' is not a risk tier"),
    ]
    for front in calls:
        for query, column, says in cases:
            with pytest.raises(InvalidQuery) as caught:
                calls[front](query)
            assert caught.value.column == column and says in str(caught.value), (front, query)
            run = cli(*argv[front](query))
            assert run.code == 6 and f"column {column}: " in run.err and says in run.err
            assert run.out == ""
    for front in ("search", "versions"):
        for query, column in (("stage = 'bogus'", 9), ("stage in ('approved', 'bogus')", 23)):
            with pytest.raises(InvalidQuery) as caught:
                calls[front](query)
            message = str(caught.value)
            assert caught.value.column == column
            assert "'bogus' is not a stage: stage is one of staging, candidate, approved, " \
                "deployed, archived" in message  # fmt: skip
            assert cli(*argv[front](query)).code == 6
    with pytest.raises(InvalidQuery, match=r"'aproved' is not a stage \(did you mean 'appr"):
        registry.search("stage = 'aproved'")
    with pytest.raises(InvalidInput, match="staging, candidate, approved, deployed, archived"):
        registry.search_versions(stage="bogus")
    assert len(registry.events(limit=1000).items) == events


def test_a_stage_of_the_policy_in_force_is_a_stage(registry: Registry, model_file: Path) -> None:
    stages = 'order = ["dev", "shadow", "deployed"]'
    registry.grant_role(ADMIN, "admin", actor=ADMIN, first_admin=True)
    registry.set_policy(policy(stages=stages), actor=ADMIN)
    registry.register("fraud", [model_file], owners=["alice"])
    assert [v.number for v in registry.search("stage = 'dev'").items] == [1]
    assert [v.number for v in registry.versions("fraud", where="stage in ('dev')").items] == [1]
    assert [v.number for v in registry.search_versions(stage="dev").items] == [1]
    assert list(registry.search("stage = 'shadow' or stage = 'archived'").items) == []
    for wrong in ("stage = 'approved'", "stage != 'candidate'"):
        with pytest.raises(InvalidQuery, match="is one of dev, shadow, deployed, archived"):
            registry.search(wrong)
    with pytest.raises(InvalidInput, match="dev, shadow, deployed, archived"):
        registry.search_versions(stage="approved")


def test_a_metric_hint_names_every_split_recorded(registry: Registry, model_file: Path) -> None:
    _two_versions(registry, model_file)
    # Six slices of the split-less auc no longer crowd out auc@test and auc@val.
    (hint,) = registry.search_hints("metrics.auc{region=zz} > 0.5")
    assert "'auc@test'" in hint and "'auc@val'" in hint
    (hint,) = registry.search_hints("metrics.auc > 0.5")
    assert "'auc@test'" in hint and "'auc@val'" in hint and "'auc{region=a}'" in hint
    # The slice asked, under each split that records it, before another slice.
    (hint,) = registry.search_hints("metrics.auc@val{region=eu} > 0.5")
    assert hint.index("'auc@test{region=eu}'") < hint.index("'auc{region=a}'")
    assert registry.search_hints("metrics.auc@test > 0.95") == ()
