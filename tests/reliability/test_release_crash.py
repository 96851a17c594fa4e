"""Crash loop over the release flow: SIGKILL a deployer at random points, again and again.

A worker (``release_worker.py``, mode ``crash``) promotes, approves, deploys to two
serving aliases, rolls back, swaps aliases, moves ``champion`` and marks versions
healthy, reporting every step before it takes it, and after each operation the
aliases and stages it then reads. Each iteration kills it once, exactly at a random
step (the worker halts there) or a random delay after one. After every kill:

- the registry shows what the last finished operation left, unless the kill landed
  after the in-flight operation's commit began (then that operation may have landed);
- the serving rule holds: every version a serving alias points at is ``deployed`` and
  every ``deployed`` version is served; alias histories chain; every audit chain
  verifies, with every invariant of the crash loop (:func:`check_invariants`);
- the registry keeps working: a new version is approved and deployed.

The RNG is seeded (``MODELBOOK_CRASH_SEED``); a failure names the iteration and seed.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from modelbook import Registry
from tests.test_release_flow import ADMIN, assert_serving_consistent, gate, make_flow, policy

from .helpers import Figures, Worker, check_invariants, scale
from .test_crash_loop import Marker, parse

SEED = int(os.environ.get("MODELBOOK_CRASH_SEED", "20261130"))
SERVING = ("production", "canary")
CRASH_POLICY = policy(gate("low", "approved", "approvals", count=1), serving=SERVING)
MARKERS_PER_RUN = 300  # a kill point is drawn below this: about 6-12 operations in
WEIGHTS = {
    "register": 2,
    "promote": 2,
    "approve": 2,
    "deploy": 3,
    "rollback": 2,
    "swap": 1,
    "champion": 1,
    "healthy": 1,
}


def snapshot(reg: Registry, model: str = "m") -> dict[str, Any]:
    """The state the worker reports after each operation, read the same way."""
    versions = reg.versions(model, limit=1000).items
    return {
        "aliases": {a.name: a.version for a in reg.aliases(model)},
        "stages": {str(v.number): v.stage.value for v in versions},
        "deprecated": sorted(v.number for v in versions if v.deprecated),
    }


def phase_of(markers: list[Marker]) -> tuple[str, dict[str, Any] | None, bool]:
    """Where the kill landed; the operation in flight; whether its commit had begun."""
    begin = None
    for i, m in enumerate(markers):
        if m.name == "op.begin":
            begin = i
        elif m.name == "op.done":
            begin = None
    if not markers or markers[-1].name in ("open", "opened"):
        return "opening the registry", None, False
    if begin is None:
        return "between operations", None, False
    op = markers[begin].detail
    since = [m.name for m in markers[begin + 1 :]]
    if "commit" in since:
        where = "during commit" if since[-1] == "commit" else "after commit"
        return f"{op['op']}: {where}", op, True
    if "tx.begin" in since:
        return f"{op['op']}: inside the transaction", op, False
    return f"{op['op']}: before writing", op, False


def kill_once(cfg: dict[str, Any], rng: random.Random, mode: str) -> list[Marker]:
    worker = Worker("release_worker.py", json.dumps(cfg))
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


def settle(reg: Registry, blob_dir: Path, note: str) -> None:
    check_invariants(reg, blob_dir, read=False)
    assert_serving_consistent(reg, SERVING)
    audit = reg.verify_audit()
    assert audit.ok, f"{note}: {[str(b) for b in audit.breaks]}"


@pytest.mark.timeout(1800)
def test_release_crash_loop(db_uri: str, blob_dir: Path, work_dir: Path, figures: Figures) -> None:
    iterations = scale(6, 200)
    rng = random.Random(SEED)
    reg = Registry(db_uri, blob_uri=str(blob_dir), actor=ADMIN)
    flow = make_flow(reg, work_dir)
    files = work_dir / "worker"
    files.mkdir()
    phases: Counter[str] = Counter()
    ops: Counter[str] = Counter()
    landed = 0
    try:
        reg.set_policy(CRASH_POLICY, actor=ADMIN)
        for alias in SERVING:
            v = flow.approved()
            reg.deploy(v.uri, alias=alias, reason="start", actor="dan")
        settle(reg, blob_dir, "start")
        expected = snapshot(reg)
        for it in range(iterations):
            mode = "point" if it % 2 == 0 else "timed"
            cfg = {
                "mode": "crash",
                "uri": db_uri,
                "blob_uri": str(blob_dir),
                "actor": "crasher",
                "model": "m",
                "seed": rng.randrange(2**31),
                "halt_at": rng.randrange(2, MARKERS_PER_RUN) if mode == "point" else -1,
                "files_dir": str(files),
                "serving": list(SERVING),
                "deployer": "dan",
                "reviewer": "rita",
                "weights": WEIGHTS,
            }
            note = f"iteration {it} (seed {SEED}, worker seed {cfg['seed']}, {mode})"
            markers = kill_once(cfg, rng, mode)
            phase, _in_flight, committed = phase_of(markers)
            phases[phase] += 1
            done = [m.detail for m in markers if m.name == "op.done"]
            ops.update(f"{d['op']} {'ok' if d['ok'] else d['error']}" for d in done)
            if done:
                expected = done[-1]["state"]
            actual = snapshot(reg)
            if committed:
                landed += actual != expected
            else:
                assert actual == expected, f"{note}: killed {phase}, yet the registry changed"
            settle(reg, blob_dir, note)

            # The registry keeps working: a new version goes all the way to canary.
            v = flow.approved()
            reg.deploy(v.uri, alias="canary", reason=f"after kill {it}", actor="dora")
            assert reg.get_version("models:/m@canary").number == v.number, note
            settle(reg, blob_dir, note)
            expected = snapshot(reg)
        final = check_invariants(reg, blob_dir)
    finally:
        reg.close()
    figures["iterations"] = iterations
    figures["kills"] = sum(phases.values())
    figures["kill_points"] = dict(sorted(phases.items()))
    figures["operations_finished_before_kills"] = dict(sorted(ops.items()))
    figures["in_flight_commits_that_landed"] = landed
    figures["versions"] = final.versions
    figures["alias_moves"] = sum(len(h) for h in final.history.values())
    assert sum(phases.values()) == iterations
