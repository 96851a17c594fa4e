"""The query language's parser: every operator, literal and field becomes the typed
tree it names; every mistake is an InvalidQuery with the column of the mistake and
what was expected there; nothing else escapes, whatever the text."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelbook import InvalidInput, InvalidQuery
from modelbook.query import (
    MAX_DEPTH,
    And,
    Compare,
    Everything,
    Field,
    IsNull,
    Like,
    Member,
    Node,
    Not,
    Or,
    Order,
    parse,
    parse_order,
    valid_fields,
)

from .query_oracle import render
from .query_strategies import mutated, trees

STAGE = Field("stage")
AUC = Field("metrics", "auc")


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("stage = 'approved'", Compare(STAGE, "=", "approved")),
        ("stage != 'approved'", Compare(STAGE, "!=", "approved")),
        ("metrics.auc < 0.5", Compare(AUC, "<", 0.5)),
        ("metrics.auc <= 5", Compare(AUC, "<=", 5.0)),
        ("metrics.auc > -1e-3", Compare(AUC, ">", -0.001)),
        ("metrics.auc>=.25", Compare(AUC, ">=", 0.25)),
        ("stage in ('approved', \"deployed\")", Member(STAGE, ("approved", "deployed"))),
        ("stage not in ('approved')", Member(STAGE, ("approved",), negated=True)),
        ("name like 'fr%_'", Like(Field("name"), "fr%_")),
        ("name not like 'x'", Like(Field("name"), "x", negated=True)),
        ("task is null", IsNull(Field("task"))),
        ("task is not null", IsNull(Field("task"), negated=True)),
        ("not stage = 'approved'", Not(Compare(STAGE, "=", "approved"))),
        ("tags.owner = 'it''s'", Compare(Field("tags", "owner"), "=", "it's")),
        ('tags.a.b/c:d-e = "say ""hi"""', Compare(Field("tags", "a.b/c:d-e"), "=", 'say "hi"')),
        ("deprecated = true", Compare(Field("deprecated"), "=", True)),
        ("deprecated != FALSE", Compare(Field("deprecated"), "!=", False)),
        ("semver >= '1.2.0'", Compare(Field("semver"), ">=", (1, 2, 0))),
        ("parent = 'models:/fraud/3'", Compare(Field("parent"), "=", "fraud/3")),
        ("parent in ('models:/fraud/3')", Member(Field("parent"), ("fraud/3",))),
        ("parent like 'models:/fraud/%'", Like(Field("parent"), "fraud/%")),
        ("parent not like 'models:/f_%'", Like(Field("parent"), "f_%", negated=True)),
        ("parent like 'models\\:\\/fraud\\_1'", Like(Field("parent"), "fraud\\_1")),
        ("parent like 'models:%'", Like(Field("parent"), "models:%")),
        ("parent like 'models_/x'", Like(Field("parent"), "models_/x")),
        ("name like 'models:/x%'", Like(Field("name"), "models:/x%")),
        ("env.torch = '2.1'", Compare(Field("env", "torch"), "=", "2.1")),
        ("params.lr = '0.1'", Compare(Field("params", "lr"), "=", "0.1")),
        ("approved_by = 'rita'", Compare(Field("approved_by"), "=", "rita")),
        ("data.snapshot = 'ds_2025_10_01'", Compare(Field("data.snapshot"), "=", "ds_2025_10_01")),
        ("   ", Everything()),
    ],
)
def test_each_operator_and_literal_parses_to_its_tree(text: str, tree: object) -> None:
    assert parse(text) == tree


def test_dates_are_utc_and_a_date_alone_is_midnight() -> None:
    field = Field("created_at")
    assert parse("created_at >= 2025-10-01") == Compare(
        field, ">=", datetime(2025, 10, 1, tzinfo=UTC)
    )
    assert parse("created_at < 2025-10-01T12:30:00+02:00") == Compare(
        field, "<", datetime(2025, 10, 1, 10, 30, tzinfo=UTC)
    )
    assert parse("created_at = '2025-10-01T00:00:00.5Z'") == Compare(
        field, "=", datetime(2025, 10, 1, 0, 0, 0, 500000, tzinfo=UTC)
    )


def test_metric_splits_and_slices_are_canonical() -> None:
    """Slice keys are sorted and values trimmed, as metrics are stored."""
    tree = parse("metrics.auc@test{region = 'eu', device=mobile} > 0.8")
    assert tree == Compare(Field("metrics", "auc", "test", "device=mobile,region=eu"), ">", 0.8)


def test_precedence_not_then_and_then_or_and_keywords_in_any_case() -> None:
    a, b, c = (Compare(Field("tags", k), "=", "x") for k in "abc")
    assert parse("tags.a = 'x' or tags.b = 'x' and tags.c = 'x'") == Or((a, And((b, c))))
    assert parse("(tags.a = 'x' OR tags.b = 'x') AND tags.c = 'x'") == And((Or((a, b)), c))
    assert parse("NOT tags.a = 'x' And tags.b = 'x'") == And((Not(a), b))
    assert parse("tags.a = 'x' and (tags.b = 'x' and tags.c = 'x')") == And((a, b, c))


@pytest.mark.parametrize(
    ("text", "column", "says"),
    [
        ("stage = ", 9, "expected a quoted text, found the end of the query"),
        ("metrics.auc >= and stage = 'a'", 16, "expected a number, found 'and'"),
        ("created_at > )", 14, "expected a date"),
        ("stage = 'approved' and", 23, "a field"),
        ("stage = 'approved' extra", 20, "'and' or 'or' or the end of the query"),
        ("stage 'approved'", 7, "a comparison"),
        ("(stage = 'a'", 13, "')'"),
        ("stage = 'a')", 12, "found ')'"),
        ("stage = 'open", 9, "never closed"),
        ("stage == 'a'", 8, "expected"),
        ("metrics.auc >= 'high'", 16, "holds numbers"),
        ("stage = 3", 9, "quote the value"),
        ("created_at > 2025-02-30", 14, "is not a date"),
        ("created_at > 'yesterday'", 14, "is not a date"),
        ("semver > '1.2'", 10, "MAJOR.MINOR.PATCH"),
        ("deprecated > true", 12, "compare it with = or !="),
        ("number like '1%'", 13, "like matches text"),
        ("name like 'a\\'", 11, "lone \\"),
        ("metrics.auc > 1e999", 15, "out of range"),
        ("stage@test = 'a'", 1, "only metrics have a split"),
        ("stage{a=b} = 'a'", 1, "only metrics have a slice"),
        ("metrics.auc{a=b, a=c} > 1", 18, "given twice"),
        ("tags = 'a'", 1, "tags needs a key"),
        ("stage = 'a' and tags. = 'b'", 21, "found '.'"),
        ("stage ~ 'a'", 7, "expected"),
        # An offset that takes the moment past the calendar's ends in UTC.
        ("created_at >= 0001-01-01T00:00:00+05:00", 15, "out of range"),
        ("created_at >= 9999-12-31T23:59:59-00:01", 15, "out of range"),
        # Digits of other scripts are no number and no date.
        ("number = \u0661", 10, "expected a number"),
        ("created_at >= \u0662\u0660\u0662\u0660-01-01", 15, "expected a date"),
        # A keyword glued to the next word is neither.
        ("task isnull", 6, "found 'isnull'"),
        ("task is notnull", 9, "found 'notnull'"),
        ("number notin (1)", 8, "found 'notin'"),
        ("risk = 'low' ornumber = 1", 14, "found 'ornumber'"),
        ("name='fraud'andnumber=1", 13, "found 'andnumber'"),
        ("deprecated = trueish", 14, "found 'trueish'"),
    ],
)
def test_mistakes_name_their_column_and_what_was_expected(
    text: str, column: int, says: str
) -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse(text)
    assert caught.value.column == column, str(caught.value)
    assert f"at column {column}" in str(caught.value)
    assert says in str(caught.value)
    assert isinstance(caught.value, InvalidInput) and caught.value.exit_code == 6


def test_an_unknown_field_lists_the_valid_ones_and_the_nearest() -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse("stage = 'approved' and ownr = 'x'")
    message = str(caught.value)
    assert caught.value.column == 24
    assert "unknown field 'ownr'" in message and "did you mean owner?" in message
    for name in ("name", "tags.KEY", "metrics.NAME", "code.commit", "env.KEY", "approved_by"):
        assert name in message
    assert set(caught.value.expected) == set(valid_fields("version"))


def test_model_listings_accept_model_fields_only() -> None:
    assert parse("owner = 'a' and tags.team = 'x'", "model") == And(
        (Compare(Field("owner"), "=", "a"), Compare(Field("tags", "team"), "=", "x"))
    )
    with pytest.raises(InvalidQuery) as caught:
        parse("name = 'a' and stage = 'approved'", "model")
    assert caught.value.column == 16
    assert "stage describes versions, not models" in str(caught.value)
    assert "created_by" in str(caught.value)


def test_order_by_takes_a_number_or_date_field_and_a_direction() -> None:
    assert parse_order("metrics.auc desc") == Order(AUC, descending=True)
    assert parse_order("metrics.auc@test{region=eu} ASC") == Order(
        Field("metrics", "auc", "test", "region=eu")
    )
    assert parse_order("created_at") == Order(Field("created_at"))
    for text, says in [
        ("stage desc", "cannot order by stage"),
        ("metrics.auc sideways", "asc or desc"),
        ("", "a field"),
        ("metrics.auc desc, number", "the end of order_by"),
    ]:
        with pytest.raises(InvalidQuery, match=says):
            parse_order(text)


def test_limits_of_size_and_nesting() -> None:
    with pytest.raises(InvalidQuery, match="the limit is"):
        parse("stage = '" + "a" * 20_000 + "'")
    parse("not " * MAX_DEPTH + "stage = 'approved'")
    for deep in ("not " * (MAX_DEPTH + 1) + "number = 1", "not " * 2000 + "number = 1"):
        with pytest.raises(InvalidQuery, match="nests deeper"):
            parse(deep)
    for wrong in (3, None, ["stage = 'a'"], b"stage = 'a'"):
        with pytest.raises(InvalidQuery, match="a query is text"):
            parse(wrong)  # type: ignore[arg-type]
        with pytest.raises(InvalidQuery, match="order_by is text"):
            parse_order(wrong)  # type: ignore[arg-type]


def _flat(node: Node) -> Node:
    """``a and (b and c)`` as ``a and b and c``, as the parser reads it."""
    if isinstance(node, And | Or):
        kind = type(node)
        items = tuple(_flat(i) for i in node.items)
        return kind(tuple(x for i in items for x in (i.items if isinstance(i, kind) else (i,))))
    if isinstance(node, Not):
        return Not(_flat(node.item))
    return node


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees)
def test_a_written_tree_parses_back_to_itself(tree: Node) -> None:
    assert parse(render(tree)) == _flat(tree)


@settings(max_examples=500, deadline=None)
@given(st.one_of(mutated(), st.text(max_size=60)))
def test_no_text_raises_anything_but_invalid_query(text: str) -> None:
    try:
        parse(text)
        parse(text, "model")
        parse_order(text)
    except InvalidQuery as exc:
        assert 1 <= exc.column <= len(text) + 1


def test_the_twenty_documented_examples_parse() -> None:
    """Every query in docs/search.md's examples is valid as written."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "search.md").read_text()
    section = doc.split("## Twenty examples", 1)[1].split("\n## ", 1)[0]
    items = re.split(r"\n\d+\. ", "\n" + section)[1:]
    assert len(items) == 20
    for item in items:
        queries = [q for q in re.findall(r"`([^`]+)`", item) if not q.startswith("--")]
        queries = [re.sub(r'^modelbook models --where "(.*)"$', r"\1", q) for q in queries]
        assert queries, item
        for query in queries:
            parse(query, "model" if "models --where" in item else "version")
