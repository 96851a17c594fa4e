"""Races in the release flow: processes deploy and roll back the same alias at the same
instant, and eight writers run the whole flow on eight models at once.

Workers (``release_worker.py``) wait at a barrier each round: each says ``ready`` and
blocks reading its ``go`` line, which the test writes to all of them at once. After
every round the serving rule holds (every version a serving alias points at is
``deployed``, every ``deployed`` version is served), the alias history is one chain,
and the audit chains verify. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from modelbook import Registry
from tests.test_release_flow import (
    ADMIN,
    DEPLOYERS,
    REVIEWERS,
    Flow,
    assert_serving_consistent,
    make_flow,
)

from .helpers import Figures, Worker, barrier, check_invariants, scale


def settle(reg: Registry, blob_dir: Path, serving: tuple[str, ...] = ("production",)) -> None:
    check_invariants(reg, blob_dir, read=False)
    assert_serving_consistent(reg, serving)
    result = reg.verify_audit()
    assert result.ok, [str(b) for b in result.breaks]


def holder(reg: Registry, alias: str = "production") -> int | None:
    return {a.name: a.version for a in reg.aliases("m")}.get(alias)


def moves(reg: Registry, alias: str = "production") -> list[Any]:
    return list(reversed(reg.alias_history("m", alias, limit=1000)))


def round_workers(db_uri: str, blob_dir: Path) -> list[Worker]:
    return [
        Worker(
            "release_worker.py",
            json.dumps(
                {
                    "mode": "rounds",
                    "uri": db_uri,
                    "blob_uri": str(blob_dir),
                    "actor": actor,
                    "model": "m",
                }
            ),
        )
        for actor in DEPLOYERS
    ]


def play(workers: list[Worker], commands: list[str]) -> list[dict[str, Any]]:
    """One round: release every worker with its command at once; their results."""
    for w in workers:
        w.expect("ready")
    for w, command in zip(workers, commands, strict=True):
        w.send(f"go {command}")
    return [json.loads(w.expect("{")) for w in workers]


def stop(workers: list[Worker]) -> None:
    for w in workers:
        w.expect("ready")
        w.send("stop")
    for w in workers:
        w.finish()


@pytest.fixture
def flow(db_uri: str, blob_dir: Path, work_dir: Path) -> Any:
    reg = Registry(db_uri, blob_uri=str(blob_dir), actor=ADMIN)
    yield make_flow(reg, work_dir)
    reg.close()


def test_two_deployers_of_one_alias_serialize(
    flow: Flow, db_uri: str, blob_dir: Path, figures: Figures
) -> None:
    """Both deploys succeed, one after the other: the alias ends at one of them, the
    other is back in ``approved``, and the history holds both moves, chained."""
    reg = flow.reg
    rounds = scale(3, 30)
    for _ in range(2 * rounds):
        flow.approved()
    workers = round_workers(db_uri, blob_dir)
    try:
        for r in range(rounds):
            a, b = 2 * r + 1, 2 * r + 2
            before = holder(reg)
            results = play(workers, [f"deploy {a} production -", f"deploy {b} production -"])
            assert all(x["ok"] for x in results), results
            last = [(e.from_version, e.to_version) for e in moves(reg)][-2:]
            first, second = last[0][1], last[1][1]
            assert {first, second} == {a, b}
            assert last == [(before, first), (first, second)]
            assert holder(reg) == second
            assert (flow.stage(f"models:/m/{first}"), flow.stage(f"models:/m/{second}")) == (
                "approved",
                "deployed",
            )
            settle(reg, blob_dir)
        stop(workers)
    finally:
        for w in workers:
            w.close()
    figures["rounds"] = rounds
    figures["deploys"] = 2 * rounds


def test_two_conditional_deploys_one_wins(
    flow: Flow, db_uri: str, blob_dir: Path, figures: Figures
) -> None:
    """Both expect the alias where it is: exactly one moves it; the other is a Conflict
    and leaves no trace."""
    reg = flow.reg
    rounds = scale(3, 30)
    for _ in range(2 * rounds):
        flow.approved()
    workers = round_workers(db_uri, blob_dir)
    lost: Counter[str] = Counter()
    try:
        for r in range(rounds):
            a, b = 2 * r + 1, 2 * r + 2
            current = holder(reg) or 0
            count = len(moves(reg))
            results = play(
                workers, [f"deploy {a} production {current}", f"deploy {b} production {current}"]
            )
            won = [x for x in results if x["ok"]]
            assert len(won) == 1, results
            for x in results:
                if not x["ok"]:
                    assert x["error"] == "Conflict", x
                    lost[x["error"]] += 1
            assert len(moves(reg)) == count + 1
            assert holder(reg) == won[0]["to"]
            loser = a + b - won[0]["to"]
            assert flow.stage(f"models:/m/{loser}") == "approved"
            settle(reg, blob_dir)
        stop(workers)
    finally:
        for w in workers:
            w.close()
    figures["rounds"] = rounds
    figures["refused"] = dict(lost)


def test_two_rollbacks_of_one_alias(
    flow: Flow, db_uri: str, blob_dir: Path, figures: Figures
) -> None:
    """Two deployers roll the same alias back at once. Expecting where it is, exactly
    one steps back and the other gets Conflict. Without an expectation each expects
    what it saw when it began: one Conflict, or, when the second began after the first
    committed, a second step back from where the first landed."""
    reg = flow.reg
    rounds = scale(2, 15)
    for _ in range(3 * rounds + 2):
        v = flow.approved()
        reg.deploy(v.uri, reason=f"ship {v.number}", actor="dan")
    workers = round_workers(db_uri, blob_dir)
    outcomes: Counter[str] = Counter()
    total_won = 0
    try:
        for r in range(2 * rounds):
            explicit = r < rounds
            current = holder(reg)
            assert current is not None
            expect = str(current) if explicit else "-"
            results = play(workers, [f"rollback production {expect}"] * 2)
            won = [x for x in results if x["ok"]]
            for x in results:
                if not x["ok"]:
                    assert x["error"] == "Conflict", x
            if explicit or len(won) == 1:
                assert len(won) == 1, results
                assert (won[0]["from_version"], won[0]["to_version"]) == (current, holder(reg))
                outcomes["one won, one conflict"] += 1
            else:
                assert len(won) == 2, results
                first, second = sorted(won, key=lambda x: x["from_version"] != current)
                assert first["from_version"] == current
                assert second["from_version"] == first["to_version"]
                assert holder(reg) == second["to_version"]
                outcomes["both stepped back in turn"] += 1
            for x in won:
                assert reg.get_version(f"models:/m/{x['from_version']}").deprecated
            total_won += len(won)
            rollbacks = [e for e in moves(reg) if e.reason.startswith("rollback (race)")]
            assert len(rollbacks) == total_won
            settle(reg, blob_dir)
        stop(workers)
    finally:
        for w in workers:
            w.close()
    figures["rounds"] = 2 * rounds
    figures["outcomes"] = dict(outcomes)


def test_a_deploy_and_a_rollback_of_one_alias_at_once(
    flow: Flow, db_uri: str, blob_dir: Path, figures: Figures
) -> None:
    """One deployer ships a new version while another rolls back: whatever the order,
    every move that returned is in the history once, and the serving rule holds."""
    reg = flow.reg
    rounds = scale(3, 30)
    for _ in range(2):
        v = flow.approved()
        reg.deploy(v.uri, reason=f"ship {v.number}", actor="dan")
    fresh = [flow.approved().number for _ in range(rounds)]
    workers = round_workers(db_uri, blob_dir)
    outcomes: Counter[str] = Counter()
    try:
        for r in range(rounds):
            results = play(workers, [f"deploy {fresh[r]} production -", "rollback production -"])
            deploy, rollback = results
            assert deploy["ok"], deploy
            if not rollback["ok"]:
                assert rollback["error"] in ("Conflict", "NotFound"), rollback
            history = moves(reg)
            for x in (deploy, rollback):
                if x["ok"]:
                    assert sum(1 for e in history if x["reason"] in e.reason) == 1, x
            outcomes[f"rollback {'ok' if rollback['ok'] else rollback['error']}"] += 1
            settle(reg, blob_dir)
        stop(workers)
    finally:
        for w in workers:
            w.close()
    figures["rounds"] = rounds
    figures["outcomes"] = dict(outcomes)


@pytest.mark.timeout(900)
def test_eight_writers_on_eight_models(
    db_uri: str, blob_dir: Path, work_dir: Path, figures: Figures
) -> None:
    """Eight processes each run the whole release flow on their own model at the same
    time: every operation succeeds, and every chain verifies."""
    n, rounds = 8, scale(2, 10)
    with Registry(db_uri, blob_uri=str(blob_dir), actor=ADMIN) as reg:
        make_flow(reg, work_dir)
    workers = [
        Worker(
            "release_worker.py",
            json.dumps(
                {
                    "mode": "writer",
                    "uri": db_uri,
                    "blob_uri": str(blob_dir),
                    "actor": f"w{i}",
                    "model": f"model{i}",
                    "rounds": rounds,
                    "reviewer": REVIEWERS[i % 2],
                    "deployer": DEPLOYERS[i % 2],
                    "files_dir": str(work_dir),
                }
            ),
        )
        for i in range(n)
    ]
    try:
        barrier(workers)
        results = {
            i: [json.loads(line) for line in w.finish(timeout=600)] for i, w in enumerate(workers)
        }
    finally:
        for w in workers:
            w.close()
    for i, lines in results.items():
        failed = [x for x in lines if not x["ok"]]
        assert not failed, f"writer {i}: {failed}"
        assert Counter(x["op"] for x in lines) == {
            "register": rounds,
            "promote": rounds,
            "approve": rounds,
            "deploy": rounds,
            "observe": rounds,
            "comment": rounds,
            "rollback": 1,
        }
    with Registry(db_uri, blob_uri=str(blob_dir), actor=ADMIN) as reg:
        settle(reg, blob_dir)
        result = reg.verify_audit()
        assert result.chains == n + 1
        for i in range(n):
            production = [a.version for a in reg.aliases(f"model{i}") if a.name == "production"]
            assert production == [rounds - 1], f"model{i}: rolled back from {rounds}"
            assert reg.get_version(f"models:/model{i}/{rounds}").deprecated
    figures["writers"] = n
    figures["operations"] = sum(len(v) for v in results.values())
