"""Crash loop: SIGKILL a registry user at random points, again and again.

A worker process (``crash_worker.py``) registers small and multi-MB files,
moves and deletes aliases and sets tags, reporting every step before it takes
it. Each iteration kills it once, either exactly at a randomly chosen step
(the worker halts there) or a random delay after a randomly chosen step.
After every kill the surviving registry must show exactly the operations that
finished, plus at most the one in flight if the kill landed during its commit,
and every invariant of :func:`check_invariants` must hold. The registry must
then take the next registration with the next number.

The RNG is seeded (``MODELBOOK_CRASH_SEED``); a failure message names the
iteration and seed to replay it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from modelbook import Registry

from .helpers import (
    Figures,
    State,
    Worker,
    check_invariants,
    fresh_pg_schema,
    scale,
    tmp_files,
)

SEED = int(os.environ.get("MODELBOOK_CRASH_SEED", "20261125"))
MODELS = ["alpha", "beta"]
MARKERS_PER_RUN = 140  # a kill point is drawn below this: about 6-10 operations in


@dataclass
class Marker:
    index: int
    name: str
    detail: dict[str, Any]


def parse(lines: list[str]) -> list[Marker]:
    out = []
    for line in lines:
        if not line.startswith("M "):
            continue
        _, index, rest = line.split(" ", 2)
        name, _, payload = rest.partition(" ")
        out.append(Marker(int(index), name, json.loads(payload) if payload else {}))
    return out


@dataclass
class Expected:
    """The registry as the finished operations say it must be."""

    counts: Counter[str] = field(default_factory=Counter)
    manifests: dict[tuple[str, int], list[list[Any]]] = field(default_factory=dict)
    aliases: dict[tuple[str, str], int | None] = field(default_factory=dict)
    history: dict[tuple[str, str], list[tuple[int | None, int | None]]] = field(
        default_factory=dict
    )
    tags: dict[tuple[str, int], dict[str, str]] = field(default_factory=dict)
    frozen: dict[tuple[str, int], str] = field(default_factory=dict)

    def apply(self, op: dict[str, Any]) -> None:
        model = op["model"]
        if op["op"] == "register":
            self.counts[model] += 1
            assert op["number"] == self.counts[model], f"worker got number {op['number']}"
            self.manifests[(model, op["number"])] = op["artifacts"]
            self.tags[(model, op["number"])] = op["tags"]
        elif op["op"] in ("alias", "unalias"):
            key = (model, op["alias"])
            to = op.get("to")
            assert self.aliases.get(key) == op["frm"], f"{key} moved from an unexpected place"
            self.aliases[key] = to
            self.history.setdefault(key, []).append((op["frm"], to))
        elif op["op"] == "tag":
            self.tags[(model, op["number"])] = op["tags"]

    def applied(self, op: dict[str, Any], state: State) -> bool:
        """Did the in-flight operation (killed during its commit) take effect?"""
        model = op["model"]
        if op["op"] == "register":
            return len(state.numbers.get(model, [])) == self.counts[model] + 1
        if op["op"] in ("alias", "unalias"):
            return state.aliases.get((model, op["alias"])) == op.get("to")
        tags = state.tags[(model, op["number"])]
        return tags.get("stage_note") == op["value"]

    def check(self, state: State, note: str) -> None:
        for model in MODELS:
            n = self.counts[model]
            assert state.numbers.get(model, []) == list(range(1, n + 1)), (
                f"{note}: versions of {model} are {state.numbers.get(model)}, expected 1..{n}"
            )
        for (model, number), manifest in self.manifests.items():
            doc = json.loads(state.frozen[(model, number)])
            got = sorted([a["path"], a["size"], a["sha256"]] for a in doc["artifacts"])
            assert got == manifest, f"{note}: manifest of {model}/{number} changed"
        for key, doc in state.frozen.items():
            # Immutability: the frozen record of a version never changes.
            assert self.frozen.setdefault(key, doc) == doc, f"{note}: {key} changed"
        assert state.aliases == {k: v for k, v in self.aliases.items() if v is not None}, note
        assert state.history == {k: v for k, v in self.history.items() if v}, note
        assert state.tags == self.tags, f"{note}: tags differ"


def phase_of(markers: list[Marker]) -> tuple[str, dict[str, Any] | None]:
    """Where the kill landed, from the last markers the worker wrote."""
    begin = None
    for i, m in enumerate(markers):
        if m.name == "op.begin":
            begin = i
        elif m.name == "op.done":
            begin = None
    if not markers or markers[-1].name in ("open", "opened"):
        return "opening the registry", None
    if begin is None:
        return "between operations", None
    op = markers[begin].detail
    kind = op["op"] + ("-large" if op.get("large") else "")
    since = [m.name for m in markers[begin + 1 :]]
    if since and since[-1] == "commit":
        return f"{kind}: during commit", op
    if "tx.begin" in since:
        return f"{kind}: inside the transaction", op
    if any(s in ("blob.chunk", "fsync", "rename") for s in since):
        return f"{kind}: storing blobs", op
    return f"{kind}: before writing", op


def kill_once(cfg: dict[str, Any], rng: random.Random, mode: str) -> list[Marker]:
    worker = Worker("crash_worker.py", json.dumps(cfg))
    try:
        if mode == "point":
            while True:
                line = worker.next_line()
                assert line is not None, f"worker ended early:\n{worker.stderr}"
                if line.startswith("HALT"):
                    break
        else:
            target = rng.randrange(0, MARKERS_PER_RUN)
            delay = rng.uniform(0, 0.03)
            while True:
                line = worker.next_line()
                assert line is not None, f"worker ended early:\n{worker.stderr}"
                if line.startswith(f"M {target} "):
                    break
            time.sleep(delay)  # only places the kill; nothing waits on it
        worker.kill()
        worker.drain()
        assert worker.proc.returncode == -9, f"worker was not killed:\n{worker.stderr}"
        assert "Traceback" not in worker.stderr, worker.stderr
        return parse(worker.seen)
    finally:
        worker.close()


@pytest.mark.timeout(1800)
def test_crash_loop(db_uri: str, blob_dir: Path, work_dir: Path, figures: Figures) -> None:
    """After every SIGKILL: finished operations kept, unfinished ones absent, invariants hold."""
    iterations = scale(6, 100)
    rng = random.Random(SEED)
    reg = Registry(db_uri, blob_uri=str(blob_dir), actor="checker")
    expected = Expected()
    phases: Counter[str] = Counter()
    ops_done = 0
    ambiguous_applied = 0
    checked: set[tuple[str, int]] = set()
    filler = work_dir / "next.bin"
    try:
        for it in range(iterations):
            mode = "point" if it % 2 == 0 else "timed"
            cfg = {
                "uri": db_uri,
                "blob_uri": str(blob_dir),
                "seed": rng.randrange(2**31),
                "halt_at": rng.randrange(2, MARKERS_PER_RUN) if mode == "point" else -1,
                "files_dir": str(work_dir),
                "models": MODELS,
                "weights": [4, 2, 3, 1, 1],
                "large_min": 1_500_000,
                "large_max": 6_000_000,
                "direct": True,
            }
            note = f"iteration {it} (seed {SEED}, worker seed {cfg['seed']}, {mode})"
            markers = kill_once(cfg, rng, mode)
            phase, in_flight = phase_of(markers)
            phases[phase] += 1
            for m in markers:
                if m.name == "op.done":
                    expected.apply(m.detail)
                    ops_done += 1

            state = check_invariants(reg, blob_dir, read=False)
            landed = in_flight is not None and phase.endswith("during commit")
            if landed and expected.applied(in_flight, state):
                ambiguous_applied += 1
                done = dict(in_flight)
                if done["op"] == "register":
                    number = expected.counts[done["model"]] + 1
                    doc = json.loads(state.frozen[(done["model"], number)])
                    done.update(
                        number=number,
                        tags=state.tags[(done["model"], number)],
                        artifacts=sorted(
                            [a["path"], a["size"], a["sha256"]] for a in doc["artifacts"]
                        ),
                    )
                elif done["op"] == "tag":
                    done["tags"] = state.tags[(done["model"], done["number"])]
                expected.apply(done)
            expected.check(state, note)
            for model, number in sorted(set(expected.manifests) - checked):
                for path, _size, sha in expected.manifests[(model, number)]:
                    data = reg.read_artifact(f"models:/{model}/{number}", path)
                    assert hashlib.sha256(data).hexdigest() == sha, note
                checked.add((model, number))

            # The registry keeps working: the next registration takes the next number.
            model = MODELS[it % len(MODELS)]
            filler.write_bytes(f"after kill {it}".encode())
            v = reg.register(model, [filler], owners="checker", capture_environment=False)
            expected.counts[model] += 1
            assert v.number == expected.counts[model], note
            expected.manifests[(model, v.number)] = sorted(
                [a.path, a.size, a.sha256] for a in v.artifacts
            )
            expected.tags[(model, v.number)] = {}

        final = check_invariants(reg, blob_dir)
        expected.check(final, "final")
    finally:
        reg.close()
    figures["iterations"] = iterations
    figures["kills"] = sum(phases.values())
    figures["operations_finished_before_kills"] = ops_done
    figures["in_flight_commits_that_landed"] = ambiguous_applied
    figures["kill_points"] = dict(sorted(phases.items()))
    figures["versions"] = final.versions
    figures["alias_moves"] = sum(len(h) for h in final.history.values())
    figures["leftover_temp_files"] = len(tmp_files(blob_dir))
    assert sum(phases.values()) == iterations


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_crash_while_creating_the_registry(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, figures: Figures
) -> None:
    """A process killed while it creates the schema of a brand-new registry breaks nothing:
    the next opener finishes the job and registers version 1."""
    if kind == "postgresql" and not request.getfixturevalue("postgres_available"):
        pytest.skip("PostgreSQL is not reachable")
    iterations = scale(3, 40)
    rng = random.Random(SEED + 1)
    phases: Counter[str] = Counter()
    for it in range(iterations):
        home = tmp_path / f"r{it}"
        home.mkdir()
        with contextlib.ExitStack() as stack:
            if kind == "sqlite":
                uri = f"sqlite:///{home / 'registry.db'}"
            else:
                uri = stack.enter_context(fresh_pg_schema())
            cfg = {
                "uri": uri,
                "blob_uri": str(home / "blobs"),
                "seed": rng.randrange(2**31),
                # up to ~35 markers are schema creation on a new database
                "halt_at": rng.randrange(1, 40),
                "files_dir": str(home),
                "models": MODELS,
                "weights": [1, 0, 0, 0, 0],
                "large_min": 1_500_000,
                "large_max": 2_000_000,
                "max_ops": 1,
            }
            markers = kill_once(cfg, rng, "point")
            opened = any(m.name == "opened" for m in markers)
            phases["after the schema was created" if opened else "creating the schema"] += 1
            reg = Registry(uri, blob_uri=str(home / "blobs"), actor="checker")
            try:
                before = check_invariants(reg, home / "blobs")
                model_file = home / "after.bin"
                model_file.write_bytes(b"after the crash")
                v = reg.register("alpha", [model_file], owners="checker")
                assert v.number == len(before.numbers.get("alpha", [])) + 1
                check_invariants(reg, home / "blobs")
            finally:
                reg.close()
    figures["iterations"] = iterations
    figures["kill_points"] = dict(phases)
