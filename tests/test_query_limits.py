"""The limits of the query language hold on SQLite and PostgreSQL: every query within
the documented nesting runs and finds what it says, a deeper one is an InvalidQuery
naming its column, text that is not Unicode is refused by column wherever a query is
taken, and the parser accepts only what docs/search.md describes."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelbook import InvalidQuery, Registry
from modelbook.query import MAX_DEPTH, MAX_LOGIC, parse

from .test_cli import CLI
from .test_cli import cli as cli  # the CLI fixtures
from .test_cli import home as home

# Conditions whose SQL nests deepest: an owner list, withdrawn approvals, a sliced metric.
TRUE = "owner != 'nobody'"
FALSE = "approved_by = 'nobody'"
DEEP_FALSE = "metrics.auc@test{region=eu} < -5"


@pytest.fixture
def two_models(registry: Registry, tmp_path: Path) -> Registry:
    for i, name in enumerate(("alpha", "beta", "alpha")):
        path = tmp_path / f"m{i}.bin"
        path.write_bytes(bytes([i]) * 32)
        registry.register(name, path, owners=["ann"], tags={"team": "x"})
    return registry


def _uris(page: object) -> list[str]:
    return [v.uri for v in page.items]  # type: ignore[attr-defined]


def _alternating(inner: str, levels: int, *, true: str = TRUE, false: str = FALSE) -> str:
    """``inner`` under ``levels`` of ``or (..)`` and ``and (..)`` in turn: an ``or`` adds
    a condition that never holds, an ``and`` one that always does, so the query means
    ``inner``."""
    query = inner
    for level in range(levels):
        query = f"{false} or ({query})" if level % 2 == 0 else f"{true} and ({query})"
    return query


def test_nots_and_parentheses_run_to_the_documented_depth(two_models: Registry) -> None:
    reg = two_models
    alpha = ["models:/alpha/2", "models:/alpha/1"]
    for query, expected in (
        ("not " * MAX_DEPTH + "name = 'alpha'", alpha),
        ("not " * (MAX_DEPTH - 1) + "name = 'alpha'", ["models:/beta/1"]),
        ("(" * MAX_DEPTH + "name = 'alpha'" + ")" * MAX_DEPTH, alpha),
        ("not (" * (MAX_DEPTH // 2) + "name = 'alpha'" + ")" * (MAX_DEPTH // 2), alpha),
        (
            "not (" * (MAX_DEPTH // 2) + "task is null" + ")" * (MAX_DEPTH // 2),
            ["models:/alpha/2", "models:/beta/1", "models:/alpha/1"],
        ),
        ("name = 'alpha' and (" * MAX_DEPTH + TRUE + ")" * MAX_DEPTH, alpha),
        (f"{FALSE} or (" * MAX_DEPTH + "name = 'beta'" + ")" * MAX_DEPTH, ["models:/beta/1"]),
    ):
        assert _uris(reg.search(query)) == expected, query[:60]
    assert _uris(reg.versions("alpha", where="not " * MAX_DEPTH + "number = 1")) == alpha[1:]
    models = reg.models(where="not " * MAX_DEPTH + "name = 'beta'")
    assert [m.name for m in models.items] == ["beta"]


def test_alternating_and_or_not_run_at_the_limit(two_models: Registry) -> None:
    reg = two_models
    alpha = ["models:/alpha/2", "models:/alpha/1"]
    for query, expected in (
        (_alternating("name = 'alpha'", MAX_LOGIC), alpha),
        (_alternating("name = 'alpha'", MAX_LOGIC, false=DEEP_FALSE), alpha),
        # each not and each and counts: an even number of nots, so the inner condition
        (
            f"{TRUE} and not (" * (MAX_LOGIC // 2) + "name = 'beta'" + ")" * (MAX_LOGIC // 2),
            ["models:/beta/1"],
        ),
    ):
        assert parse(query)  # within the limit
        assert _uris(reg.search(query)) == expected, query[:60]
    # one model's versions add a condition on the name around the query
    where = _alternating("number = 1", MAX_LOGIC - 1) + " or number = 2"
    assert _uris(reg.versions("alpha", where=_alternating(where, 1))) == alpha
    models = reg.models(where=_alternating("name = 'beta'", MAX_LOGIC, false="task = 'no'"))
    assert [m.name for m in models.items] == ["beta"]


def test_a_long_list_of_versions_runs_on_every_database(two_models: Registry) -> None:
    """``semver in`` over 1,000 versions (within the length limit): SQLite refused the
    OR of one comparison per version as nested 1,000 deep ("Expression tree is too
    large", exit 8) where PostgreSQL answered."""
    reg = two_models
    wanted = ", ".join(["'9.9.9'"] * 999 + ["'1.1.0'"])
    assert _uris(reg.search(f"semver in ({wanted})")) == ["models:/alpha/2"]
    assert _uris(reg.search(f"name = 'alpha' and semver not in ({wanted})")) == ["models:/alpha/1"]


def test_a_long_or_of_indexed_branches_runs_on_every_database(two_models: Registry) -> None:
    """An ``or`` of 500 or more indexed equalities (within the length limit): SQLite
    refused one walk per branch as a compound SELECT of more than 500 terms (exit 6)
    where PostgreSQL answered."""
    reg = two_models
    names = " or ".join([f"name = 'n{i}'" for i in range(500)] + ["name = 'beta'"])
    assert _uris(reg.search(names)) == ["models:/beta/1"]
    tags = " or ".join([f"tags.t{i} = 'a'" for i in range(520)] + ["tags.team = 'x'"])
    assert _uris(reg.search(tags)) == ["models:/alpha/2", "models:/beta/1", "models:/alpha/1"]
    assert _uris(reg.search(tags, limit=1)) == ["models:/alpha/2"]


def test_deeper_logic_or_nesting_is_refused_by_column(two_models: Registry) -> None:
    reg = two_models
    deep = _alternating("name = 'alpha'", MAX_LOGIC + 1)
    inner = deep.index(f"{FALSE} or (name = 'alpha')") + 1  # the innermost group
    for call in (
        lambda: reg.search(deep),
        lambda: reg.versions("alpha", where=deep),
        lambda: reg.models(where=_alternating("name = 'beta'", MAX_LOGIC + 1, false="task = 'n'")),
    ):
        with pytest.raises(InvalidQuery, match=f"the limit is {MAX_LOGIC}") as err:
            call()
        assert err.value.column > 1
    with pytest.raises(InvalidQuery) as err:
        reg.search(deep)
    assert err.value.column == inner
    # the column of the not or parenthesis 65 levels out from the condition
    for text, column in (
        ("not " * (MAX_DEPTH + 1) + "name = 'a'", 1),
        ("(" * (MAX_DEPTH + 1) + "name = 'a'" + ")" * (MAX_DEPTH + 1), 1),
        ("not (" * 40 + "name = 'a'" + ")" * 40, 40),
    ):
        with pytest.raises(InvalidQuery, match=f"deeper than {MAX_DEPTH}") as err:
            reg.search(text)
        assert err.value.column == column


def test_text_that_is_not_unicode_is_refused_by_column(two_models: Registry) -> None:
    reg = two_models
    for call, column in (
        (lambda: reg.search("name = '\ud800'"), 9),
        (lambda: reg.search("tags.team like 'x\udcff%'"), 18),
        (lambda: reg.search("stage = 'a' or name in ('b', '\udfff')"), 31),
        (lambda: reg.search("", order_by="metrics.a\udcff desc"), 10),
        (lambda: reg.versions("alpha", where="tags.team = '\udcff'"), 14),
        (lambda: reg.models(where="owner = '\ud800x'"), 10),
    ):
        with pytest.raises(InvalidQuery, match="not valid UTF-8") as err:
            call()
        assert err.value.column == column


def test_the_cli_refuses_an_undecodable_byte_with_its_column(cli: CLI, tmp_path: Path) -> None:
    f = tmp_path / "m.bin"
    f.write_bytes(b"m" * 16)
    assert cli("register", "alpha", f, "--owner", "ann").code == 0
    # A byte that is not UTF-8 reaches argv as a lone surrogate (surrogateescape).
    for args in (
        ("search", "name = '\udcff'"),
        ("versions", "alpha", "--where", "name = '\udcff'"),
        ("models", "--where", "name = '\udcff'"),
    ):
        run = cli(*args)
        assert run.code == 6, run
        assert "at column 9" in run.err and "UTF-8" in run.err, run.err


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("deprecated is null", "never null"),
        ("deprecated is not null", "never null"),
        ("deprecated < true", "compare it with = or !="),
        ("deprecated like 'x'", "like matches text"),
        ("metrics.auc > 1.", "found '.'"),
        ("number = 2.", "found '.'"),
        ("semver > '01.2.3'", "without leading zeros"),
        ("semver = '1.02.3'", "without leading zeros"),
        ("semver in ('1.2.3', '1.2.03')", "without leading zeros"),
    ],
)
def test_the_parser_refuses_what_the_docs_rule_out(text: str, says: str) -> None:
    with pytest.raises(InvalidQuery, match=says):
        parse(text)


def test_the_parser_accepts_what_the_docs_allow() -> None:
    for text in (
        "deprecated in (true)",
        "deprecated not in (false)",
        "metrics.auc > 1.0",
        "metrics.auc > .5",
        "metrics.auc > 1e3",
        "semver >= '0.10.0'",
        "semver = '10.0.0'",
    ):
        parse(text)
