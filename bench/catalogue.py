"""What bench/gen_metadata.py loads into a registry and bench/search_scale.py searches:
models, versions and their metadata, deterministic for a size and a seed (standard
library only, so that MLflow's side of the benchmark can load the same registry)."""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

# Registrations start here and are spread over two years.
START = datetime(2024, 11, 1, tzinfo=UTC)
START_US = int(START.timestamp()) * 1_000_000
SPAN_US = 730 * 86_400 * 1_000_000
ARTIFACT_POOL = 64
ARTIFACT_NAME = "model.pkl"
ACTORS = (*(f"ci-{k}" for k in range(8)), "alice", "bob", "chen", "dana")
REGIONS = (("eu", 50), ("us", 30), ("apac", 15), ("latam", 5))
FRAMEWORKS = (("sklearn", "1.5.2", 55), ("xgboost", "2.1.1", 25), ("torch", "2.4.1", 15))
FRAMEWORKS += (("lightgbm", "4.5.0", 5),)
FRAMEWORK_VERSIONS = {f[0]: f[1] for f in FRAMEWORKS}
TASKS = ("fraud", "churn", "ranking", "forecast", "credit", "pricing", "search", "ads")
TIERS = (("low", 70), ("medium", 25), ("high", 5))
TEAMS = 25


def _h(*parts: object) -> int:
    return int.from_bytes(
        hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    )


@functools.lru_cache(maxsize=4096)
def _day_before(days: int) -> date:
    """The date one day before ``days`` days after START."""
    return (START + timedelta(days=days - 1)).date()


def _weighted(rng: random.Random, choices: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
    cum = _CUM.get(choices)
    if cum is None:
        cum = _CUM[choices] = list(itertools.accumulate(ch[-1] for ch in choices))
    return rng.choices(choices, cum_weights=cum)[0]


_CUM: dict[tuple[tuple[Any, ...], ...], list[int]] = {}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    team: str
    task: str
    risk_tier: str
    repo: str
    framework: str
    framework_version: str
    features: str
    experiment: str
    dataset: str
    auc_base: float


@dataclass(frozen=True)
class VersionSpec:
    """One registration: model index, number, time (us), actor, artifact, metadata."""

    g: int
    model: int
    number: int
    at: int
    actor: str
    artifact: int
    metadata: dict[str, Any]


class Catalogue:
    """The registry's content for ``versions`` versions and a ``seed``."""

    def __init__(self, versions: int, seed: int = 0) -> None:
        self.versions, self.seed = versions, seed
        n_models = min(5000, max(20, versions // 100))
        rng = random.Random(f"models/{seed}")
        self.models = [self._model(i, rng) for i in range(n_models)]
        # Zipf-like sizes: weight 1/(rank+3)^0.9; every model gets at least one version.
        cum = list(itertools.accumulate(1 / (r + 3) ** 0.9 for r in range(n_models)))
        pick = random.Random(f"order/{seed}")
        owner = list(range(n_models)) + [
            bisect.bisect_left(cum, pick.random() * cum[-1]) for _ in range(versions - n_models)
        ]
        if versions < n_models:
            owner = owner[:versions]
        # The first registration of every model comes early, the rest interleaved.
        head, tail = owner[:n_models], owner[n_models:]
        self.order = head + tail
        counts = [0] * n_models
        self.numbers = []
        for m in self.order:
            counts[m] += 1
            self.numbers.append(counts[m])
        self.counts = counts
        self.step_us = max(1, SPAN_US // max(1, versions))

    def _model(self, i: int, rng: random.Random) -> ModelSpec:
        task = TASKS[i % len(TASKS)]
        fw = _weighted(rng, FRAMEWORKS)
        return ModelSpec(
            name=f"{task}-{['scorer', 'ranker', 'model', 'forecaster'][i % 4]}-{i:04d}",
            team=f"team-{min(TEAMS - 1, int(rng.paretovariate(1.2)) - 1):02d}",
            task=task,
            risk_tier=_weighted(rng, TIERS)[0],
            repo=f"git@git.example.com:ml/{task}-{i:04d}.git",
            framework=fw[0],
            framework_version=fw[1],
            features=f"fs-{task}-{i % 40:02d}",
            experiment=f"exp-{i:04d}",
            dataset=f"{task}-events",
            auc_base=0.6 + (_h("auc", i) % 300) / 1000,
        )

    def model_kwargs(self, i: int) -> dict[str, Any]:
        """``Registry.create_model`` arguments of model ``i`` (its name apart)."""
        m = self.models[i]
        return {
            "owners": [m.team, f"{m.team}-lead"],
            "task": m.task,
            "risk_tier": m.risk_tier,
            "description": f"{m.task} model of {m.team}",
            "tags": {"team": m.team, "domain": m.task},
        }

    def model_created_at(self, i: int) -> int:
        return START_US - (len(self.models) - i) * 1_000_000

    def version(self, g: int) -> VersionSpec:
        i, n = self.order[g], self.numbers[g]
        m = self.models[i]
        rng = random.Random(_h("v", self.seed, g))
        at = START_US + g * self.step_us + rng.randrange(self.step_us)
        day = _day_before((at - START_US) // 86_400_000_000)
        region = _weighted(rng, REGIONS)[0]
        fw = m.framework if rng.random() < 0.9 else _weighted(rng, FRAMEWORKS)[0]
        tags = {"team": m.team, "region": region, "framework": fw, "dataset": m.dataset}
        if rng.random() < 0.03:
            tags["experimental"] = "true"
        auc = round(min(0.999, max(0.5, m.auc_base + rng.gauss(0, 0.03))), 4)
        metrics = {
            "auc@test": auc,
            "auc@test{region=eu}": round(auc - rng.uniform(0, 0.04), 4),
            "auc@test{region=us}": round(auc - rng.uniform(0, 0.04), 4),
            "loss@test": round(1 - auc + rng.uniform(0, 0.02), 4),
            "accuracy@val": round(auc - 0.05 + rng.uniform(-0.02, 0.02), 4),
        }
        data = [{"snapshot": f"ds_{day:%Y_%m_%d}", "role": "train"}]
        if rng.random() < 0.25:
            data.append({"snapshot": f"holdout_{day:%Y_%m}", "role": "eval"})
        metadata: dict[str, Any] = {
            "tags": tags,
            "metrics": metrics,
            "params": {
                "learning_rate": rng.choice(("0.01", "0.03", "0.05", "0.1", "0.3")),
                "max_depth": str(rng.randrange(3, 13)),
                "n_estimators": str(100 * rng.randrange(1, 11)),
            },
            "seed": rng.randrange(1 << 31),
            "hardware": rng.choice(("cpu-8", "cpu-32", "t4", "a10g")),
            "duration_seconds": round(rng.uniform(30, 7200), 1),
            "code": {"repo": m.repo, "commit": f"{_h('commit', i, n // 3):016x}" * 2 + "0" * 8},
            "data": data,
            "features": f"{m.features}@{1 + n // 20}" if rng.random() < 0.6 else None,
            "run_id": f"run-{_h('run', self.seed, g):016x}",
            "experiment_id": m.experiment,
            "parents": [f"models:/{m.name}/{n - 1}"] if n > 1 and rng.random() < 0.3 else [],
            "environment": {
                "python": "3.11.7",
                "platform": "linux-x86_64",
                "frameworks": {fw: FRAMEWORK_VERSIONS[fw]},
            },
        }
        return VersionSpec(
            g, i, n, at, rng.choice(ACTORS), _h("art", self.seed, g) % ARTIFACT_POOL, metadata
        )

    @staticmethod
    def register_kwargs(spec: VersionSpec) -> dict[str, Any]:
        """``Registry.register`` keyword arguments of a version (not its paths; ``data``
        as mappings of ``DataRef`` fields)."""
        return {**spec.metadata, "capture_environment": False}
