"""Parsing and validation of everything a user types: names, keys, metrics, semvers, URIs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelbook import InvalidInput, Metric, uris, validation
from modelbook.uris import ModelRef

NAME_RE = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
ALIAS_RE = r"[A-Za-z][A-Za-z0-9._-]{0,63}"

valid_names = st.from_regex(NAME_RE, fullmatch=True).filter(lambda s: ".." not in s)
valid_aliases = st.from_regex(ALIAS_RE, fullmatch=True).filter(lambda s: ".." not in s)
semver_parts = st.integers(min_value=0, max_value=999_999_999)


# names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["ctr_ranking", "a", "7", "Fraud-Model.v2", "x" * 128, "a.b_c-d", "latest"]
)
def test_valid_model_names_are_accepted(name: str) -> None:
    """Letters, digits, '.', '_' and '-' up to 128 characters make a model name."""
    assert validation.model_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a/b",
        "a\\b",
        "/abs",
        "..",
        "a..b",
        "../etc",
        ".hidden",
        "-flag",
        "_private",
        "with space",
        "tab\tname",
        "caf\u00e9",
        "nul\x00byte",
        "semi;colon",
        "at@sign",
        "x" * 129,
    ],
)
def test_invalid_model_names_are_refused_with_the_rule(name: str) -> None:
    """Path separators, '..', odd characters and over-long names get a clear error."""
    with pytest.raises(InvalidInput) as err:
        validation.model_name(name)
    message = str(err.value)
    assert "model name" in message
    assert repr(name) in message
    assert "letters, digits" in message


def test_model_name_must_be_text() -> None:
    """A non-string name is refused, not crashed on."""
    with pytest.raises(InvalidInput):
        validation.model_name(7)  # type: ignore[arg-type]


@settings(deadline=None)
@given(valid_names)
def test_generated_valid_names_are_accepted(name: str) -> None:
    """Every string of the documented name alphabet without '..' is a valid name."""
    assert validation.model_name(name) == name


@settings(deadline=None)
@given(st.text(min_size=1, max_size=40), st.sampled_from(["/", "\\", ".."]))
def test_names_with_separators_or_dotdot_are_always_refused(prefix: str, bad: str) -> None:
    """No name containing a path separator or '..' is ever accepted."""
    with pytest.raises(InvalidInput):
        validation.model_name(prefix + bad + "x")


# aliases ------------------------------------------------------------------------


@pytest.mark.parametrize("alias", ["production", "champion", "challenger", "a1", "p" * 64])
def test_valid_aliases(alias: str) -> None:
    """Aliases start with a letter and have at most 64 characters."""
    assert validation.alias_name(alias) == alias


@pytest.mark.parametrize(
    "alias", ["", "1prod", "-prod", "pro duction", "a/b", "a..b", "p" * 65, "prod@x", "x\x00"]
)
def test_invalid_aliases_are_refused(alias: str) -> None:
    """A bad alias names itself and the rule in the error."""
    with pytest.raises(InvalidInput) as err:
        validation.alias_name(alias)
    assert "alias" in str(err.value)
    assert repr(alias) in str(err.value)


def test_reason_is_required_and_trimmed() -> None:
    """A reason must have visible text; surrounding blanks are dropped."""
    assert validation.reason("  roll back  ") == "roll back"
    for bad in (None, "", "   \n"):
        with pytest.raises(InvalidInput, match="reason is required"):
            validation.reason(bad)


# tags ---------------------------------------------------------------------------


def test_tags_accept_text_and_scalars() -> None:
    """Tag values may be text, numbers or booleans; they are stored as text."""
    assert validation.tags({"team": "ranking", "epochs": 3, "lr": 0.5, "ok": True}) == {
        "team": "ranking",
        "epochs": "3",
        "lr": "0.5",
        "ok": "True",
    }


@pytest.mark.parametrize(
    ("tags", "phrase"),
    [
        ({"team": "a\x00b"}, "NUL"),
        ({"team": "x" * (validation.MAX_VALUE_LEN + 1)}, "limit"),
        ({"bad key": "v"}, "invalid tag key"),
        ({"": "v"}, "invalid tag key"),
        ({"1st": "v"}, "invalid tag key"),
        ({"k" * 129: "v"}, "invalid tag key"),
        ({"key\x00": "v"}, "invalid tag key"),
        ({"team": None}, "must be text"),
        ({"team": ["a"]}, "must be text"),
    ],
)
def test_bad_tags_are_refused(tags: dict[str, object], phrase: str) -> None:
    """NUL bytes, over-long values and malformed keys are refused with what is wrong."""
    with pytest.raises(InvalidInput, match=phrase):
        validation.tags(tags)


def test_tag_limits_are_inclusive() -> None:
    """A 128-character key and a value at the limit are still accepted."""
    key = "k" * 128
    value = "v" * validation.MAX_VALUE_LEN
    assert validation.tags({key: value}) == {key: value}


# metrics ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "name", "split", "slice_"),
    [
        ("auc", "auc", None, {}),
        ("auc@test", "auc", "test", {}),
        ("auc{region=eu}", "auc", None, {"region": "eu"}),
        ("auc@test{region=eu,device=mobile}", "auc", "test", {"region": "eu", "device": "mobile"}),
        ("auc@test{ region = eu }", "auc", "test", {"region": "eu"}),
        ("ndcg/at_10", "ndcg/at_10", None, {}),
    ],
)
def test_metric_keys_parse_into_name_split_and_slice(
    key: str, name: str, split: str | None, slice_: dict[str, str]
) -> None:
    """A metric key carries an optional split after '@' and a slice in braces."""
    m = validation.metric(key, 0.91)
    assert (m.name, m.split, m.slice, m.value) == (name, split, slice_, 0.91)


def test_metric_key_is_normalised_with_sorted_slice() -> None:
    """The same slice written in another order is the same metric."""
    a = validation.metric("auc@test{region=eu,device=mobile}", 1)
    b = validation.metric("auc@test{device=mobile,region=eu}", 1)
    assert a == b
    assert a.key == "auc@test{device=mobile,region=eu}"
    with pytest.raises(InvalidInput, match="given twice"):
        validation.metrics({a.key: 1, "auc@test{region=eu,device=mobile}": 2})


@pytest.mark.parametrize("raw", [0.5, 1, "0.91", "-3e-2", " 7 "])
def test_metric_values_are_numbers(raw: object) -> None:
    """Numbers and numeric text become floats."""
    assert validation.metric("auc", raw).value == float(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "phrase"),
    [
        ("high", "must be a number"),
        ("", "must be a number"),
        (None, "must be a number"),
        ([0.5], "must be a number"),
        (True, "boolean"),
        (math.nan, "finite"),
        (math.inf, "finite"),
        ("-inf", "finite"),
        ("nan", "finite"),
        (10**400, "too large: an integer of about 401 digits is beyond the largest float"),
        pytest.param(
            -(10**5000), "too large: a negative integer of about 5,001 digits", id="-10**5000"
        ),
        ("1e400", "too large: '1e400' is beyond the largest float"),
        ("x" * 5000, "must be a number, got 'xxx"),
    ],
)
def test_non_numeric_or_non_finite_metric_values_are_refused(raw: object, phrase: str) -> None:
    """A metric value that is not a finite number is refused, naming the metric and why;
    the message shows at most the start of what was given."""
    with pytest.raises(InvalidInput, match=phrase) as err:
        validation.metric("auc@test", raw)
    assert "'auc@test'" in str(err.value) and len(str(err.value)) < 200


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (10**400, "duration_seconds is too large: an integer of about 401 digits"),
        (math.inf, "duration_seconds must be a finite number, got inf"),
        (math.nan, "duration_seconds must be a finite number, got nan"),
        ("3", "duration_seconds must be a number, got '3'"),
        (True, "duration_seconds must be a number, got True"),
    ],
)
def test_an_optional_number_is_refused_as_the_field_it_was_given_for(
    raw: object, message: str
) -> None:
    """Not as a metric: the message names the field and says why."""
    with pytest.raises(InvalidInput) as err:
        validation.optional_number(raw, "duration_seconds")
    assert str(err.value) == message or str(err.value).startswith(message)
    assert "metric" not in str(err.value)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "1auc",
        "auc@",
        "auc@te st",
        "auc{}",
        "auc{region}",
        "auc{region=}",
        "auc{=eu}",
        "auc{region=eu",
        "auc{region=eu}{x=y}",
        "auc{region=eu,region=us}",
        "auc{region=e{u}",
        "auc test",
    ],
)
def test_malformed_metric_keys_are_refused(key: str) -> None:
    """Broken splits and slices get an error naming the metric."""
    with pytest.raises(InvalidInput) as err:
        validation.metric(key, 1.0)
    assert "metric" in str(err.value) or "slice" in str(err.value)


@settings(deadline=None)
@given(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True),
    st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_]{1,10}", fullmatch=True)),
    st.dictionaries(
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
        st.from_regex(r"[A-Za-z0-9_.-]{1,8}", fullmatch=True),
        max_size=3,
    ),
    st.floats(allow_nan=False, allow_infinity=False),
)
def test_metric_key_round_trips(
    name: str, split: str | None, slice_: dict[str, str], value: float
) -> None:
    """Parsing the key of any metric gives back the same metric."""
    m = Metric(name=name, value=value, split=split, slice=slice_)
    assert validation.metric(m.key, value) == m


# KEY=VALUE ----------------------------------------------------------------------


def test_key_value_splits_at_the_first_equals() -> None:
    """Tags and params keep '=' inside their value."""
    assert validation.split_key_value("a=b") == ("a", "b")
    assert validation.split_key_value("query=x=1") == ("query", "x=1")
    assert validation.key_values(["team=ranking", "note=a=b", "empty="]) == {
        "team": "ranking",
        "note": "a=b",
        "empty": "",
    }


def test_metric_key_value_splits_at_the_last_equals() -> None:
    """A metric with a slice keeps its slice: 'auc{region=eu}=0.91'."""
    assert validation.split_key_value("auc{region=eu}=0.91", last=True) == (
        "auc{region=eu}",
        "0.91",
    )


@pytest.mark.parametrize("item", ["novalue", "=3", ""])
def test_malformed_key_value_is_refused(item: str) -> None:
    """A KEY=VALUE without '=' or without a key says what was expected."""
    with pytest.raises(InvalidInput, match="malformed") as err:
        validation.key_values([item], "tag")
    assert repr(item) in str(err.value)


def test_key_value_with_bad_key_or_value_is_refused() -> None:
    """Keys follow the key rule and values may not hold NUL."""
    with pytest.raises(InvalidInput, match="tag key"):
        validation.key_values(["bad key=1"])
    with pytest.raises(InvalidInput, match="NUL"):
        validation.key_values(["k=a\x00"])


# semver -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [("0.0.0", (0, 0, 0)), ("1.2.3", (1, 2, 3)), ("10.20.30", (10, 20, 30))],
)
def test_semver_parses(text: str, parts: tuple[int, int, int]) -> None:
    """MAJOR.MINOR.PATCH parses into three integers."""
    assert validation.parse_semver(text) == parts


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1",
        "1.2",
        "1.2.3.4",
        "01.2.3",
        "1.02.3",
        "1.2.03",
        "v1.2.3",
        "1.2.3-rc1",
        "1.2.3+build",
        " 1.2.3",
        "1.2.3\n",
        "1..3",
        "-1.2.3",
        "1.2.x",
        "1000000000.0.0",
        "1\u0661.0.0",
        "\uff11.2.3",
    ],
)
def test_invalid_semver_is_refused(text: str) -> None:
    """Anything but plain ASCII MAJOR.MINOR.PATCH without leading zeros is refused."""
    with pytest.raises(InvalidInput, match="invalid semver"):
        validation.parse_semver(text)


class _Unhashable(str):
    __hash__ = None  # type: ignore[assignment]


@pytest.mark.parametrize("value", [None, 1, b"1.2.3", ["1.2.3"], {"1.2.3": 1}, _Unhashable("1.x")])
def test_a_semver_that_is_no_text_is_refused_as_invalid(value: object) -> None:
    """Values of other types, unhashable ones too, are InvalidInput, never a TypeError."""
    with pytest.raises(InvalidInput, match="invalid semver"):
        validation.parse_semver(value)  # type: ignore[arg-type]


def test_a_text_subclass_parses_like_text() -> None:
    assert validation.parse_semver(_Unhashable("1.2.3")) == (1, 2, 3)


@settings(deadline=None)
@given(semver_parts, semver_parts, semver_parts)
def test_semver_round_trips(major: int, minor: int, patch: int) -> None:
    """Every triple of numbers written as a semver parses back to itself."""
    assert validation.parse_semver(f"{major}.{minor}.{patch}") == (major, minor, patch)


# URIs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/n/7", ModelRef("n", "number", "7")),
        ("models:/n/1.2.0", ModelRef("n", "semver", "1.2.0")),
        ("models:/n@champion", ModelRef("n", "alias", "champion")),
        ("n@champion", ModelRef("n", "alias", "champion")),
        ("n/7", ModelRef("n", "number", "7")),
        ("models:/n/latest", ModelRef("n", "latest", "latest")),
        ("models:/n", ModelRef("n", "model")),
        ("  models:/ctr_ranking/12  ", ModelRef("ctr_ranking", "number", "12")),
    ],
)
def test_uris_parse(uri: str, expected: ModelRef) -> None:
    """Numbers, semvers, aliases and 'latest' are told apart; the scheme is optional."""
    ref = uris.parse(uri)
    assert ref == expected
    if ref.kind == "number":
        assert ref.number == int(ref.value)


@pytest.mark.parametrize(
    "uri",
    [
        "",
        "models:/",
        "models://n/7",
        "models:/n/0",
        "models:/n/007",
        "models:/n/1234567890",
        "models:/n/1.2",
        "models:/n/abc",
        "models:/n/-1",
        "models:/n/",
        "models:/n@",
        "models:/n@1prod",
        "models:/n/7@prod",
        "models:/a/b/c",
        "models:/../x/1",
        "models:/a b/1",
        "s3://bucket/n/1",
        "models:/n/\u0661",
    ],
)
def test_bad_uris_are_refused(uri: str) -> None:
    """A malformed URI is bad input, never a lookup of something odd."""
    with pytest.raises(InvalidInput):
        uris.parse(uri)


def test_uri_must_be_text() -> None:
    """A non-string URI is bad input."""
    with pytest.raises(InvalidInput, match="must be text"):
        uris.parse(7)  # type: ignore[arg-type]


@settings(deadline=None)
@given(valid_names, st.integers(min_value=1, max_value=999_999_999), valid_aliases)
def test_valid_names_round_trip_through_uris(name: str, number: int, alias: str) -> None:
    """Any valid model name survives a trip through each kind of URI and back."""
    for ref in (
        ModelRef(name, "number", str(number)),
        ModelRef(name, "alias", alias),
        ModelRef(name, "semver", f"{number}.0.1"),
        ModelRef(name, "latest", "latest"),
        ModelRef(name, "model"),
    ):
        assert uris.parse(str(ref)) == ref
        assert uris.parse(str(ref).removeprefix("models:/")) == ref
