"""A generated registry for the query tests: every field of the query language takes
several values, some versions lack each one, and some values repeat, on SQLite and
PostgreSQL. Import ``world_fixture`` into a test module to use ``world`` (built once
per module)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelbook import DataRef, Registry, Version

from .conftest import pg_uri, temporary_pg_schema
from .query_oracle import Facts

# Full git commit ids and image digests: registration refuses anything else.
COMMITS = ["c1" * 20, "c2" * 20, "c3" * 20]
DIGESTS = ["sha256:" + "aa" * 32, "sha256:" + "bb" * 32]

MODELS = {
    "fraud": {"owners": ["alice", "bob"], "task": "classification", "risk_tier": "low"},
    "churn": {"owners": ["carol"], "task": None, "risk_tier": "medium"},
    "rank_v2": {"owners": ["alice"], "task": "ranking", "risk_tier": "high"},
}
TAG_VALUES = {"team": ["a", "b"], "region": ["eu", "us", "north america", "it's"]}
METRIC_VALUES = [0.5, 0.7, 0.85, 0.9]
SNAPSHOTS = ["ds_2025_10_01", "ds_b", "ds_c"]
# A snapshot's hash is its last character 64 times; lock files hash to one of LOCKS.
LOCKS = ["a1" * 32, "a2" * 32]
REVIEWERS = ("rita", "sam")


@dataclass
class World:
    registry: Registry
    versions: list[Version]  # newest registration first
    facts: dict[tuple[str, int], Facts]

    def refresh(self) -> None:
        """Read every version again (stages, aliases and deprecation change)."""
        fresh = []
        for v in self.versions:
            fresh.append(self.registry.get_version(v.uri))
        self.versions = fresh


def build(registry: Registry, folder: Path, count: int = 30, seed: int = 7) -> World:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for who in REVIEWERS:
        registry.grant_role(who, "reviewer", actor="tester")
    names = list(MODELS)
    made: list[Version] = []
    for i in range(count):
        name = names[i % len(names)]
        f = folder / f"v{i}.bin"
        f.write_bytes(f"version {i}".encode())
        tags = {k: rng.choice(vals) for k, vals in TAG_VALUES.items() if rng.random() < 0.8}
        metrics: dict[str, float] = {"auc": rng.choice(METRIC_VALUES)}
        if rng.random() < 0.6:
            metrics["auc@test"] = rng.choice(METRIC_VALUES)
        if rng.random() < 0.5:
            metrics["auc{region=eu}"] = rng.choice(METRIC_VALUES)
        if rng.random() < 0.3:
            del metrics["auc"]
            metrics["loss"] = rng.choice(METRIC_VALUES)
        snapshots = rng.sample(SNAPSHOTS, rng.randint(0, 2))
        data = [
            DataRef(snapshot=s, sha256=s[-1] * 64) if rng.random() < 0.5 else DataRef(snapshot=s)
            for s in snapshots
        ]
        earlier = [v for v in made if v.model == name]
        frameworks = {k: v for k, v in (("torch", "2.1"), ("sklearn", "1.4")) if rng.random() < 0.6}
        environment = {
            "python": rng.choice(["3.11.4", "3.12.1"]),
            "frameworks": frameworks,
            "image_digest": rng.choice([None, *DIGESTS]),
        }
        if rng.random() < 0.5:
            environment["lockfile"] = {"path": "uv.lock", "sha256": rng.choice(LOCKS)}
        made.append(
            registry.register(
                name,
                [f],
                **MODELS[name],  # type: ignore[arg-type]
                tags=tags,
                metrics=metrics,
                params={"lr": rng.choice(["0.1", "0.01"])} if rng.random() < 0.7 else None,
                code={"repo": "git@x:ml.git", "commit": rng.choice(COMMITS)}
                if rng.random() < 0.7
                else None,
                data=data or None,
                features=rng.choice([None, "fs@1", "fs@2", "fs"]),
                run_id=rng.choice([None, "run-1", "run-2"]),
                experiment_id=rng.choice([None, "exp-1"]),
                parents=[earlier[-1].uri] if earlier and rng.random() < 0.5 else [],
                environment=environment,
                capture_environment=False,
            )
        )
    approved: dict[tuple[str, int], set[str]] = {}
    for v in made[::4]:
        registry.approve(v.uri, actor="rita")
        approved.setdefault((v.model, v.number), set()).add("rita")
    for v in made[1::6]:
        registry.approve(v.uri, actor="sam")
        approved.setdefault((v.model, v.number), set()).add("sam")
    # An approval withdrawn by its reviewer's later rejection does not stand.
    withdrawn = made[8]
    registry.reject(withdrawn.uri, comment="found a leak", actor="rita")
    approved[withdrawn.model, withdrawn.number].discard("rita")
    registry.set_alias("fraud", "champion", made[0].number, reason="best")
    registry.set_alias("churn", "champion", made[1].number, reason="best")
    registry.set_alias("churn", "challenger", made[4].number, reason="try")
    for v in (made[2], made[5]):
        registry.deprecate(v.uri, note="bad")
    models = {n: registry.get_model(n) for n in MODELS}
    facts = {
        (v.model, v.number): Facts(models[v.model], approved.get((v.model, v.number), set()))
        for v in made
    }
    world = World(registry, list(reversed(made)), facts)
    world.refresh()
    return world


@pytest.fixture(
    name="world",
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def world_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The generated registry, once per module and database."""
    folder = tmp_path_factory.mktemp("world")
    if request.param == "sqlite":
        with _opened(f"sqlite:///{folder / 'registry.db'}", folder) as w:
            yield w
        return
    if not request.getfixturevalue("postgres_available"):
        pytest.skip("PostgreSQL is not reachable")
    with temporary_pg_schema("q") as schema, _opened(pg_uri(schema), folder) as w:
        yield w


class _opened:
    def __init__(self, uri: str, folder: Path) -> None:
        self.registry = Registry(uri, blob_uri=str(folder / "blobs"), actor="tester")
        self.folder = folder

    def __enter__(self) -> World:
        return build(self.registry, self.folder / "files")

    def __exit__(self, *_: object) -> None:
        self.registry.close()
