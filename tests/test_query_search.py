"""Registry.search on SQLite and PostgreSQL: every field and operator of the query
language finds exactly the versions a plain reading of the query over the generated
registry finds, newest first; models and versions filter with the same language;
the keyword search agrees with the query it stands for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from modelbook import InvalidInput, InvalidQuery, NotFound, Page, VersionSummary
from modelbook.query import parse

from .query_oracle import matching
from .query_world import COMMITS, LOCKS, World, world_fixture  # noqa: F401  (the module's fixture)
from .test_search_summary import summary_dicts

C2 = COMMITS[1]

QUERIES = [
    # identity and release fields
    "name = 'fraud'",
    "name != 'fraud'",
    "name in ('churn', 'rank_v2')",
    "name like 'r%'",
    "name like '_hurn'",
    "name not like 'fr%'",
    "number = 2",
    "number >= 3 and number < 6",
    "number in (1, 10)",
    "number > 2.5",
    "number <= 2.5",
    "number = 2.5",
    "number != 2",
    "number = 2.0 or number = 1e0",
    "number = 3 and stage = 'staging'",
    "number <= 2.0 or number > 9",
    "number in (1.0, 2)",
    "number in (1.5, 2)",
    "semver = '1.0.0'",
    "semver > '1.0.0'",
    "semver <= '2.0.0'",
    "semver in ('1.0.0', '2.0.0')",
    "semver like '1.%'",
    "stage = 'approved'",
    "stage != 'staging'",
    "stage in ('approved', 'candidate')",
    "owner = 'alice'",
    "owner != 'alice'",
    "owner in ('bob', 'carol')",
    "owner like 'c%'",
    "owner not in ('alice')",
    "not owner = 'alice'",
    "task = 'ranking'",
    "task != 'ranking'",
    "task is null",
    "task is not null",
    "task like '%ing'",
    "risk = 'high'",
    "risk in ('low', 'medium')",
    "created_by = 'tester'",
    "created_by != 'tester'",
    "created_by = 'nobody'",
    "created_by = 'tester' and number = 4",
    "alias = 'champion'",
    "alias != 'champion'",
    "alias is null",
    "alias is not null",
    "alias in ('challenger')",
    "approved_by = 'rita'",
    "approved_by = 'sam'",
    "approved_by is not null",
    "approved_by != 'rita'",
    "deprecated = true",
    "deprecated = false",
    "deprecated != true",
    "deprecated in (true, false)",
    # tags, metrics, params
    "tags.region = 'eu'",
    "tags.region = 'it''s'",
    "tags.region != 'eu'",
    "tags.region < 'n'",
    "tags.region >= 'north america'",
    "tags.region in ('us', 'north america')",
    "tags.region not in ('us')",
    "tags.region like '% %'",
    "tags.region like 'it_s'",
    "tags.region like 'e%'",
    "tags.region like 'north%' and stage = 'staging'",
    "tags.region not like 'e%'",
    "tags.region is null",
    "tags.region is not null",
    "not tags.region = 'eu'",
    "tags.team = 'a' and tags.region = 'eu'",
    "tags.team = 'a' or tags.region = 'eu'",
    "metrics.auc >= 0.85",
    "metrics.auc > 0.85",
    "metrics.auc = 0.7",
    "metrics.auc != 0.7",
    "metrics.auc < 0.7",
    "metrics.auc <= 0.7",
    "metrics.auc in (0.5, 0.9)",
    "metrics.auc not in (0.5, 0.9)",
    "metrics.auc is null",
    "metrics.auc@test >= 0.7",
    "metrics.auc{region=eu} > 0.7",
    "metrics.loss is not null and metrics.auc is null",
    "params.lr = '0.1'",
    "params.lr != '0.1'",
    "params.lr is null",
    "params.lr is not null",
    "metrics.auc@test is not null and stage = 'staging'",
    "tags.team is not null and name = 'fraud'",
    "code.repo is not null and tags.region like 'e%'",
    "params.lr like '0.0%'",
    "params.lr like '0.%' and name = 'fraud'",
    # lineage and environment
    f"code.commit = '{C2}'",
    f"code.commit != '{C2}'",
    "code.commit is null",
    "code.repo like 'git@%'",
    "data.snapshot = 'ds_2025_10_01'",
    "data.snapshot != 'ds_b'",
    "data.snapshot in ('ds_b', 'ds_c')",
    "data.snapshot is null",
    f"data.sha256 = '{'b' * 64}'",
    "features.name = 'fs'",
    "features.version = 'fs@2'",
    "features.version is null",
    "run.id = 'run-1'",
    "experiment.id is not null",
    "parent is not null",
    "parent = 'models:/fraud/1'",
    "parent like 'churn/%'",
    "parent like 'models:/churn/%'",
    "parent not like 'models:/fraud/%'",
    "env.python = '3.12.1'",
    "env.python like '3.11.%'",
    "env.torch = '2.1'",
    "env.torch is null",
    "env.sklearn != '1.4'",
    "env.image_digest is null",
    f"env.lockfile = '{LOCKS[1]}'",
    "env.gpu is null",
    # logic
    "(stage = 'approved' or alias is not null) and not deprecated = true",
    "not (tags.team = 'a' or metrics.auc > 0.8)",
    "not not tags.team = 'b'",
    # not over a negated comparison: a missing value makes the comparison false,
    # so its negation holds (SQL's NOT binds looser than IS NOT TRUE)
    "not (tags.team != 'a')",
    "not tags.team != 'a' and name = 'fraud'",
    f"not (code.commit != '{C2}')",
    "not (data.snapshot != 'ds_b')",
    "not (env.torch != '2.1')",
    "not (task != 'fraud')",
    "not (tags.team not in ('a', 'b'))",
    "not (name not like 'fr%')",
    "name = 'fraud' and tags.team = 'a'",
    "name = 'churn' and (tags.region = 'eu' or data.snapshot = 'ds_b')",
    "tags.team = 'b' and metrics.auc >= 0.7 and stage = 'staging'",
    "",
]


def every_page(fetch: Callable[[str | None], Page[Any]]) -> list[Any]:
    items: list[Any] = []
    token = None
    while True:
        page = fetch(token)
        items.extend(page.items)
        token = page.next_page_token
        if token is None:
            return items


@pytest.mark.parametrize("query", QUERIES)
def test_each_field_and_operator_finds_what_the_query_says(world: World, query: str) -> None:
    expected = matching(parse(query), world.versions, world.facts)
    got = world.registry.search(query, limit=1000).items
    assert [(v.model, v.number) for v in got] == expected
    # A summary search finds the same, each version summed up from its row.
    summary = world.registry.search(query, limit=1000, fields="summary")
    assert all(isinstance(s, VersionSummary) for s in summary.items)
    assert summary_dicts(summary.items) == summary_dicts(got)


def test_a_few_answers_checked_by_hand(world: World) -> None:
    """The oracle's reading agrees with what the fixture did, not only with itself."""
    reg = world.registry

    def found(query: str) -> set[tuple[str, int]]:
        return {(v.model, v.number) for v in reg.search(query, limit=1000).items}

    made = list(reversed(world.versions))
    assert found("alias = 'champion'") == {("fraud", 1), ("churn", 1)}
    assert found("alias = 'challenger'") == {(made[4].model, made[4].number)}
    assert found("deprecated = true") == {(made[i].model, made[i].number) for i in (2, 5)}
    rita = {(v.model, v.number) for v in made[::4]} - {(made[8].model, made[8].number)}
    assert found("approved_by = 'rita'") == rita
    assert found("owner = 'carol'") == {(v.model, v.number) for v in made if v.model == "churn"}
    assert found("name = 'nope'") == set()


def test_every_page_holds_the_answer_once_newest_first(world: World) -> None:
    query = "tags.team = 'a' or metrics.auc >= 0.85"
    expected = matching(parse(query), world.versions, world.facts)
    for limit in (1, 3, 7):
        items = every_page(lambda t, n=limit: world.registry.search(query, limit=n, page_token=t))
        assert [(v.model, v.number) for v in items] == expected


@pytest.mark.parametrize(
    ("query", "order_by"),
    [
        ("", "metrics.auc desc"),
        ("metrics.auc >= 0.7", "metrics.auc asc"),
        ("tags.team = 'a' or tags.region = 'eu'", None),
        ("name = 'fraud' and tags.team = 'a'", None),
        ("name like 'ch%'", "created_at asc"),
        ("created_at > '2000-01-01'", None),
        ("deprecated = false", "number desc"),
    ],
)
def test_summary_pages_are_the_full_search_pages(
    world: World, query: str, order_by: str | None
) -> None:
    reg = world.registry
    expected = summary_dicts(reg.search(query, order_by=order_by, limit=1000).items)
    assert expected
    for limit in (1, 4):
        items = every_page(
            lambda t, n=limit: reg.search(
                query, order_by=order_by, limit=n, page_token=t, fields="summary"
            )
        )
        assert summary_dicts(items) == expected


def test_a_summary_carries_the_state_that_changes(world: World) -> None:
    found = world.registry.search("alias = 'champion' or deprecated = true", fields="summary")
    champions = {(s.model, s.number) for s in found.items if "champion" in s.aliases}
    assert champions == {(v.model, v.number) for v in world.versions if "champion" in v.aliases}
    assert sum(s.deprecated for s in found.items) == 2
    assert all(s.uri == f"models:/{s.model}/{s.number}" for s in found.items)


def test_a_bad_fields_value_is_refused(world: World) -> None:
    with pytest.raises(InvalidInput, match=r"invalid fields 'some'.*'full', 'summary'"):
        world.registry.search("", fields="some")  # type: ignore[call-overload]


def test_versions_of_one_model_filtered_newest_or_oldest_first(world: World) -> None:
    query = "tags.region = 'eu' or metrics.auc > 0.8"
    tree = parse(f"name = 'churn' and ({query})")
    expected = matching(tree, world.versions, world.facts)
    for newest_first in (True, False):
        items = every_page(
            lambda t, nf=newest_first: world.registry.versions(
                "churn", where=query, limit=2, page_token=t, newest_first=nf
            )
        )
        want = expected if newest_first else list(reversed(expected))
        assert [(v.model, v.number) for v in items] == want


def test_models_filtered_by_model_fields(world: World) -> None:
    reg = world.registry
    reg.create_model("empty", owners=["dora"], tags={"team": "z"})

    def names(where: str) -> list[str]:
        items = every_page(lambda t: reg.models(where=where, limit=1, page_token=t))
        return [m.name for m in items]

    assert names("owner = 'alice'") == ["rank_v2", "fraud"]
    assert names("task is null") == ["empty", "churn"]
    assert names("risk != 'low' and name like '%_v2'") == ["rank_v2"]
    assert names("tags.team = 'z'") == ["empty"]
    assert names("created_by = 'tester' and not owner in ('alice', 'carol')") == ["empty"]
    with pytest.raises(InvalidQuery, match="describes versions, not models"):
        reg.models(where="metrics.auc > 0.5")


def test_a_parent_pattern_may_begin_with_models_as_an_equality_may(world: World) -> None:
    """``models:/`` written at the start of a parent pattern, plainly or escaped, is
    the prefix of a version URI, as in ``parent = 'models:/fraud/1'``; a pattern with
    a wildcard there is matched as written."""
    reg = world.registry

    def found(query: str) -> list[str]:
        return [v.uri for v in reg.search(query, limit=1000).items]

    for name in ("fraud", "churn"):
        bare = found(f"parent like '{name}/%'")
        assert bare
        assert found(f"parent like 'models:/{name}/%'") == bare
        assert found(f"parent like 'models\\:/{name}/%'") == bare
        assert found(f"parent not like 'models:/{name}/%'") == found(f"parent not like '{name}/%'")
        assert found(f"parent = 'models:/{name}/1'") == found(f"parent like 'models:/{name}/1'")
    assert found("parent like 'model_:/fraud/%'") == []
    assert found("parent like 'models:/%'") == found("parent is not null")


def test_keyword_search_is_the_query_it_stands_for(world: World) -> None:
    reg = world.registry
    pairs = [
        ({"model": "fraud"}, "name = 'fraud'"),
        ({"tags": {"team": "a"}, "stage": "staging"}, "tags.team = 'a' and stage = 'staging'"),
        (
            {"model": "churn", "tags": {"region": "eu"}, "metrics": [("auc", ">", 0.6)]},
            "name = 'churn' and tags.region = 'eu' and metrics.auc > 0.6",
        ),
        ({"metrics": [("auc@test", "<=", 0.7)]}, "metrics.auc@test <= 0.7"),
        ({"metrics": [("auc{region=eu}", "!=", 0.9)]}, "metrics.auc{region=eu} != 0.9"),
    ]
    for keywords, query in pairs:
        old = every_page(lambda t, k=keywords: reg.search_versions(**k, limit=2, page_token=t))
        assert [v.uri for v in old] == [v.uri for v in reg.search(query, limit=1000).items]


def test_a_bad_query_is_invalid_query_and_nothing_else(world: World) -> None:
    reg = world.registry
    for query in ("stage = ", "stge = 'a'", "metrics.auc > 'x'", "name like 3"):
        with pytest.raises(InvalidQuery):
            reg.search(query)
        with pytest.raises(InvalidQuery):
            reg.versions("fraud", where=query)
    with pytest.raises(InvalidQuery, match="cannot order by"):
        reg.search("", order_by="stage")
    with pytest.raises(NotFound):
        reg.versions("nope", where="stage = 'staging'")
