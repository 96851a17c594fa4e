"""Lineage graphs and impact on SQLite and PostgreSQL: a registry of several models
that share datasets, commits and feature sets, with parent chains across models, two
versions deployed and one behind a non-serving alias. Every answer is checked as an
exact set; a generated registry is checked against a plain Python walk of the same
lineage; a parent cycle written behind the registry's back ends every walk."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from modelbook import DataRef, InvalidInput, NotFound, Registry
from modelbook.store import schema as t

from .test_release_flow import ADMIN, OPEN, Flow, make_flow, policy

C1 = "abcdef1" + "1" * 33
C2 = "2" * 40
C3 = "3" * 40
C4 = "abcdef1" + "4" * 33  # shares C1's first seven characters
LOCK = "5" * 64
DS = "ds_2025_10_01"


@dataclass
class World:
    reg: Registry
    flow: Flow


def _add(flow: Flow, name: str, *, deploy: str | None = None, **kw: Any) -> None:
    if deploy is None:
        flow.add(name, **kw)
    else:
        flow.deployed(name, alias=deploy, **kw)


@pytest.fixture
def world(registry: Registry, tmp_path: Path) -> World:
    """fraud 1 > 2 > 3 (3 deployed), churn 1 (deployed) > 2, ranker 1 (parents fraud 2
    and churn 2, behind the non-serving alias champion), solo 1 (nothing shared)."""
    flow = make_flow(registry, tmp_path)
    registry.set_policy(OPEN, actor=ADMIN)
    _add(
        flow,
        "fraud",
        data=[DataRef(snapshot=DS, sha256="a" * 64)],
        code={"repo": "git@example.com:risk/fraud.git", "commit": C1},
        features="fs@1",
        run_id="run-1",
        experiment_id="exp-1",
        environment={"python": "3.11.9", "lockfile": {"path": "uv.lock", "sha256": LOCK}},
    )
    _add(
        flow,
        "fraud",
        data=["ds_2025_11_01"],
        code={"commit": C2},
        features="fs@2",
        parents=["models:/fraud/1"],
    )
    _add(
        flow,
        "fraud",
        deploy="production",
        data=["ds_2025_11_01"],
        code={"commit": C2},
        parents=["models:/fraud/2"],
    )
    _add(
        flow,
        "churn",
        deploy="production",
        data=[DataRef(snapshot=DS, role="eval"), "churn_base"],
        code={"commit": C1},
    )
    _add(flow, "churn", data=["ds_2025_12_01"], code={"commit": C3}, parents=["models:/churn/1"])
    _add(
        flow,
        "ranker",
        data=["ranker_ds"],
        code={"commit": C3},
        run_id="run-1",
        parents=["models:/fraud/2", "models:/churn/2"],
    )
    registry.set_alias("ranker", "champion", 1, reason="best offline")
    _add(flow, "solo", data=[DS + "1"], code={"commit": C4}, features="fs")
    return World(registry, flow)


def uris(impact: Any) -> set[str]:
    return {v.uri for v in impact.versions}


# impact --------------------------------------------------------------------------------


def test_impact_of_a_dataset_reaches_every_descendant_and_marks_the_deployed(
    world: World,
) -> None:
    result = world.reg.impact(f"dataset:{DS}")
    assert uris(result) == {
        "models:/fraud/1",
        "models:/fraud/2",
        "models:/fraud/3",
        "models:/churn/1",
        "models:/churn/2",
        "models:/ranker/1",
    }
    by_uri = {v.uri: v for v in result.versions}
    assert {u for u, v in by_uri.items() if v.direct} == {"models:/fraud/1", "models:/churn/1"}
    assert result.chain("models:/fraud/3") == ("models:/fraud/1", "models:/fraud/2")
    fraud3 = by_uri["models:/fraud/3"]
    assert (fraud3.origin, fraud3.parent, fraud3.hops) == ("models:/fraud/1", "models:/fraud/2", 2)
    assert result.chain("models:/churn/2") == ("models:/churn/1",)
    assert result.chain("models:/ranker/1") in (
        ("models:/fraud/1", "models:/fraud/2"),
        ("models:/churn/1", "models:/churn/2"),
    )
    assert result.known and result.chain("models:/fraud/1") == ()
    with pytest.raises(NotFound, match="models:/nosuch/1 is not among"):
        result.chain("models:/nosuch/1")
    assert {v.uri for v in result.deployed} == {"models:/fraud/3", "models:/churn/1"}
    assert by_uri["models:/fraud/3"].serving_aliases == ("production",)
    ranker = by_uri["models:/ranker/1"]
    assert ranker.aliases == ("champion",) and not ranker.deployed
    assert by_uri["models:/fraud/3"].stage == "deployed"
    assert result.ref == f"dataset:{DS}" and result.kind == "dataset"


def test_impact_of_commits_features_runs_experiments_and_versions(world: World) -> None:
    reg = world.reg
    assert uris(reg.impact(f"commit:{C1}")) == {
        "models:/fraud/1",
        "models:/fraud/2",
        "models:/fraud/3",
        "models:/churn/1",
        "models:/churn/2",
        "models:/ranker/1",
    }
    # Seven characters are a prefix: C4 (solo) shares them with C1.
    assert uris(reg.impact(f"commit:{C1[:7]}")) == uris(reg.impact(f"commit:{C1}")) | {
        "models:/solo/1"
    }
    assert uris(reg.impact(f"commit:{C3}")) == {"models:/churn/2", "models:/ranker/1"}
    assert uris(reg.impact("features:fs@2")) == {
        "models:/fraud/2",
        "models:/fraud/3",
        "models:/ranker/1",
    }
    # A feature set by name alone: every version of it (fs@1, fs@2 and the unversioned fs).
    assert uris(reg.impact("features:fs")) == {
        "models:/fraud/1",
        "models:/fraud/2",
        "models:/fraud/3",
        "models:/ranker/1",
        "models:/solo/1",
    }
    assert uris(reg.impact("run:run-1")) == {
        "models:/fraud/1",
        "models:/fraud/2",
        "models:/fraud/3",
        "models:/ranker/1",
    }
    assert uris(reg.impact("experiment:exp-1")) == uris(reg.impact("run:run-1"))
    below = reg.impact("models:/churn@production")
    assert below.ref == "models:/churn/1"
    assert uris(below) == {"models:/churn/2", "models:/ranker/1"}
    assert [v.direct for v in below.versions] == [True, False]
    assert uris(reg.impact("dataset:nobody_used_this")) == set()
    assert uris(reg.impact("dataset:ds_2025_10_0")) == set()  # exact, not a prefix


def test_impact_tells_a_mistyped_reference_from_one_nothing_depends_on(world: World) -> None:
    reg = world.reg
    typo = reg.impact("dataset:ds_2025_10_0")
    assert not typo.known and typo.versions == ()
    assert typo.suggestions[0] == f"dataset:{DS}"
    unknown = reg.impact("run:nothing-like-it-at-all")
    assert not unknown.known and unknown.suggestions == ()
    # A commit's case does not matter, whole or as a prefix; spaces around are dropped.
    assert uris(reg.impact(f"commit:{C1.upper()}")) == uris(reg.impact(f"commit:{C1}"))
    assert uris(reg.impact(f"commit:{C3[:9].upper()}")) == {"models:/churn/2", "models:/ranker/1"}
    spaced = reg.impact(f" dataset:{DS} ")
    assert spaced.known and spaced.ref == f"dataset:{DS}"
    assert uris(spaced) == uris(reg.impact(f"dataset:{DS}"))
    assert reg.impact(f"dataset: {DS}").known
    # A recorded reference that no other version builds on is known.
    solo = reg.impact(f"commit:{C4}")
    assert solo.known and uris(solo) == {"models:/solo/1"}
    close = reg.impact("commit:" + C2[:-1] + "9")
    assert not close.known and close.suggestions[0] == f"commit:{C2}"


def test_impact_refuses_bad_references_and_names_the_valid_kinds(world: World) -> None:
    with pytest.raises(InvalidInput) as info:
        world.reg.impact("table:customers")
    for kind in ("dataset:", "commit:", "features:", "run:", "experiment:", "models:/"):
        assert kind in str(info.value)
    for bad in ("dataset:", "commit:abc", "features:@3", "features:fs@", "models:/fraud", "x"):
        with pytest.raises(InvalidInput):
            world.reg.impact(bad)
    with pytest.raises(InvalidInput):
        world.reg.impact("dataset:" + "x" * 600)
    with pytest.raises(NotFound):
        world.reg.impact("models:/fraud/9")
    with pytest.raises(NotFound):
        world.reg.impact("models:/nobody/1")


def test_a_serving_alias_of_a_custom_policy_counts_as_deployed(world: World) -> None:
    world.reg.set_policy(policy(serving=("production", "live")), actor=ADMIN)
    world.flow.deployed("ranker", alias="live", parents=["models:/fraud/2"], code={"commit": C3})
    found = {v.uri: v for v in world.reg.impact("features:fs@2").versions}
    assert found["models:/ranker/2"].deployed
    assert found["models:/ranker/2"].serving_aliases == ("live",)
    assert not found["models:/ranker/1"].deployed  # champion serves nothing


# lineage -------------------------------------------------------------------------------


def edges(graph: Any) -> set[tuple[str, str, str, str | None]]:
    return {(e.source, e.target, e.relation, e.detail) for e in graph.edges}


def test_lineage_up_lists_every_input_of_every_ancestor(world: World) -> None:
    graph = world.reg.lineage("models:/fraud@production", direction="up")
    assert graph.root == "models:/fraud/3" and not graph.truncated
    assert edges(graph) == {
        ("models:/fraud/2", "models:/fraud/3", "parent", None),
        ("models:/fraud/1", "models:/fraud/2", "parent", None),
        ("dataset:ds_2025_11_01", "models:/fraud/3", "data", "train"),
        ("dataset:ds_2025_11_01", "models:/fraud/2", "data", "train"),
        (f"dataset:{DS}", "models:/fraud/1", "data", "train"),
        (f"commit:{C2}", "models:/fraud/3", "code", None),
        (f"commit:{C2}", "models:/fraud/2", "code", None),
        (f"commit:{C1}", "models:/fraud/1", "code", None),
        ("features:fs@2", "models:/fraud/2", "features", None),
        ("features:fs@1", "models:/fraud/1", "features", None),
        ("run:run-1", "models:/fraud/1", "run", None),
        ("experiment:exp-1", "models:/fraud/1", "experiment", None),
        (f"environment:{LOCK}", "models:/fraud/1", "environment", None),
    }
    kinds = {n.id: n.kind for n in graph.nodes}
    assert kinds[f"commit:{C1}"] == "commit" and kinds[f"environment:{LOCK}"] == "environment"
    recorded = {(e.source, e.target): dict(e.attrs) for e in graph.edges}
    assert recorded[(f"dataset:{DS}", "models:/fraud/1")] == {"sha256": "a" * 64}
    assert recorded[(f"commit:{C1}", "models:/fraud/1")] == {
        "repo": "git@example.com:risk/fraud.git"
    }
    root = graph.node("models:/fraud/3")
    # The types of Dependent (impact) for the same facts: a boolean, a list of aliases.
    assert root.attrs["deployed"] is True and list(root.attrs["aliases"]) == ["production"]
    assert graph.node("models:/fraud/1").attrs["deployed"] is False
    assert list(graph.node("models:/fraud/1").attrs["aliases"]) == []


def test_a_hash_stays_with_the_version_that_recorded_it(world: World) -> None:
    """fraud 1 records ds_2025_10_01 with a hash, churn 1 records it without one."""
    graph = world.reg.lineage("models:/ranker/1", direction="up")
    assert graph.node(f"dataset:{DS}").attrs == {}
    recorded = {(e.source, e.target): dict(e.attrs) for e in graph.edges}
    assert recorded[(f"dataset:{DS}", "models:/fraud/1")] == {"sha256": "a" * 64}
    assert recorded[(f"dataset:{DS}", "models:/churn/1")] == {}
    from modelbook.lineage_render import to_text

    lines = to_text(graph, str).splitlines()
    assert any(f"data (eval): dataset:{DS}" in ln for ln in lines)
    assert not any("a" * 12 in ln for ln in lines if "(eval)" in ln)
    assert any(f"data (train) sha256={'a' * 64}: dataset:{DS}" in ln for ln in lines)


def test_lineage_depth_stops_the_walk_and_says_so(world: World) -> None:
    one = world.reg.lineage("models:/fraud/3", direction="up", depth=1)
    versions = {n.id for n in one.nodes if n.kind == "version"}
    assert versions == {"models:/fraud/3", "models:/fraud/2"} and one.truncated
    assert ("features:fs@2", "models:/fraud/2", "features", None) in edges(one)
    two = world.reg.lineage("models:/fraud/3", direction="up", depth=2)
    assert not two.truncated and len(two.nodes) > len(one.nodes)
    down = world.reg.lineage("models:/fraud/1", direction="down", depth=1)
    assert {n.id for n in down.nodes} == {"models:/fraud/1", "models:/fraud/2"}
    assert down.truncated


def test_lineage_down_follows_children_across_models(world: World) -> None:
    graph = world.reg.lineage("models:/fraud/1", direction="down")
    assert {n.id for n in graph.nodes} == {
        "models:/fraud/1",
        "models:/fraud/2",
        "models:/fraud/3",
        "models:/ranker/1",
    }
    assert edges(graph) == {
        ("models:/fraud/1", "models:/fraud/2", "parent", None),
        ("models:/fraud/2", "models:/fraud/3", "parent", None),
        ("models:/fraud/2", "models:/ranker/1", "parent", None),
    }
    both = world.reg.lineage("models:/churn/2")
    assert ("models:/churn/1", "models:/churn/2", "parent", None) in edges(both)
    assert ("models:/churn/2", "models:/ranker/1", "parent", None) in edges(both)
    assert (f"dataset:{DS}", "models:/churn/1", "data", "eval") in edges(both)
    # Both ways from churn 2 never walks down from its parent into fraud.
    assert not any(n.id.startswith("models:/fraud") for n in both.nodes)


def test_lineage_bad_input(world: World) -> None:
    reg = world.reg
    for depth in (0, -1, True, 1.5, "2"):
        with pytest.raises(InvalidInput):
            reg.lineage("models:/fraud/1", depth=depth)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        reg.lineage("models:/fraud/1", direction="sideways")
    with pytest.raises(InvalidInput):
        reg.lineage("models:/fraud")
    with pytest.raises(NotFound):
        reg.lineage("models:/fraud/42")
    with pytest.raises(NotFound):
        reg.lineage("models:/nobody@production")


def test_a_parent_cycle_written_behind_the_registry_ends_every_walk(
    world: World, db_uri: str, blob_dir: Path
) -> None:
    """Registration cannot make a cycle (a parent must exist first); a hand-edited
    database can, and no walk may loop on it."""
    engine = sa.create_engine(db_uri)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("DROP TRIGGER versions_frozen ON versions"))
        else:
            conn.execute(sa.text("DROP TRIGGER versions_frozen"))
        ids = {
            (r.name, r.number): r.id
            for r in conn.execute(
                sa.select(t.models.c.name, t.versions.c.number, t.versions.c.id).join(
                    t.models, t.models.c.id == t.versions.c.model_id
                )
            )
        }
        first = ids[("fraud", 1)]
        conn.execute(
            sa.insert(t.lineage).values(
                version_id=first, kind="parent", key="version", value="fraud/3"
            )
        )
        doc = json.loads(
            conn.execute(sa.select(t.versions.c.doc).where(t.versions.c.id == first)).scalar_one()
        )
        doc["lineage"]["parents"] = ["fraud/3"]
        conn.execute(
            sa.update(t.versions).where(t.versions.c.id == first).values(doc=json.dumps(doc))
        )
    engine.dispose()
    with Registry(db_uri, blob_uri=str(blob_dir), actor="tester") as reg:
        up = reg.lineage("models:/fraud/3", direction="up")
        assert {n.id for n in up.nodes if n.kind == "version"} == {
            "models:/fraud/1",
            "models:/fraud/2",
            "models:/fraud/3",
        }
        assert ("models:/fraud/3", "models:/fraud/1", "parent", None) in edges(up)
        down = reg.lineage("models:/fraud/2", direction="down")
        assert {n.id for n in down.nodes} == {
            "models:/fraud/1",
            "models:/fraud/2",
            "models:/fraud/3",
            "models:/ranker/1",
        }
        assert uris(reg.impact("features:fs@2")) == {
            "models:/fraud/1",
            "models:/fraud/2",
            "models:/fraud/3",
            "models:/ranker/1",
        }
        assert uris(reg.impact("models:/fraud/1")) == {
            "models:/fraud/2",
            "models:/fraud/3",
            "models:/ranker/1",
        }


def test_a_version_made_its_own_parent_by_hand_is_not_its_own_dependent(
    world: World, db_uri: str, blob_dir: Path
) -> None:
    """churn 1 named as its own parent in the lineage rows: impact of churn 1 lists
    what descends from it (churn 2, ranker 1), never churn 1 itself."""
    engine = sa.create_engine(db_uri)
    with engine.begin() as conn:
        churn1 = conn.execute(
            sa.select(t.versions.c.id)
            .join(t.models, t.models.c.id == t.versions.c.model_id)
            .where(t.models.c.name == "churn", t.versions.c.number == 1)
        ).scalar_one()
        conn.execute(
            sa.insert(t.lineage).values(
                version_id=churn1, kind="parent", key="version", value="churn/1"
            )
        )
    engine.dispose()
    with Registry(db_uri, blob_uri=str(blob_dir), actor="tester") as reg:
        hit = reg.impact("models:/churn/1")
        assert uris(hit) == {"models:/churn/2", "models:/ranker/1"}
        assert [v.uri for v in hit.versions if v.direct] == ["models:/churn/2"]
        assert uris(reg.impact("models:/churn@production")) == uris(hit)
        # Impact of what churn 1 itself records still lists it, once.
        data = [v.uri for v in reg.impact("dataset:churn_base").versions]
        assert data == ["models:/churn/1", "models:/churn/2", "models:/ranker/1"]


# a generated registry, against a plain Python walk ------------------------------------


def test_generated_registry_matches_a_plain_walk(registry: Registry, tmp_path: Path) -> None:
    rng = random.Random(20251001)
    flow = make_flow(registry, tmp_path)
    datasets = [f"ds_{i}" for i in range(5)]
    commits = [f"{i}" * 40 for i in range(4)]
    made: list[tuple[str, int, set[str], str, list[str]]] = []
    counts: dict[str, int] = {}
    for _ in range(24):
        name = rng.choice(["m_a", "m_b", "m_c", "m_d"])
        data = set(rng.sample(datasets, rng.randint(0, 2)))
        commit = rng.choice(commits)
        parents = [f"{n}/{v}" for n, v, *_ in rng.sample(made, min(len(made), rng.randint(0, 2)))]
        flow.add(
            name,
            data=sorted(data),
            code={"commit": commit},
            parents=[f"models:/{p}" for p in parents],
        )
        counts[name] = counts.get(name, 0) + 1
        made.append((name, counts[name], data, commit, parents))

    def expected(uses: Any) -> set[str]:
        found = {f"{n}/{v}" for n, v, data, commit, _ in made if uses(data, commit)}
        grew = True
        while grew:
            grew = False
            for n, v, _, _, parents in made:
                key = f"{n}/{v}"
                if key not in found and any(p in found for p in parents):
                    found.add(key)
                    grew = True
        return {f"models:/{k}" for k in found}

    for ds in datasets:
        assert uris(registry.impact(f"dataset:{ds}")) == expected(lambda d, c, ds=ds: ds in d)
    for commit in commits:
        assert uris(registry.impact(f"commit:{commit}")) == expected(
            lambda d, c, commit=commit: c == commit
        )
    for name, number, *_ in made:
        key = f"{name}/{number}"
        children = _descendants(made, key)
        assert uris(registry.impact(f"models:/{key}")) == children
        down = registry.lineage(f"models:/{key}", direction="down")
        assert {n.id for n in down.nodes} == children | {f"models:/{key}"}
        up = registry.lineage(f"models:/{key}", direction="up")
        assert {n.id for n in up.nodes if n.kind == "version"} == _ancestors(made, key) | {
            f"models:/{key}"
        }


def _descendants(made: list[Any], key: str) -> set[str]:
    out: set[str] = set()
    frontier = {key}
    while frontier:
        frontier = {f"{n}/{v}" for n, v, _, _, parents in made if frontier & set(parents)} - out
        out |= frontier
    return {f"models:/{k}" for k in out}


def _ancestors(made: list[Any], key: str) -> set[str]:
    parents_of = {f"{n}/{v}": parents for n, v, _, _, parents in made}
    out: set[str] = set()
    frontier = set(parents_of[key])
    while frontier:
        out |= frontier
        frontier = {p for k in frontier for p in parents_of[k]} - out
    return {f"models:/{k}" for k in out}
