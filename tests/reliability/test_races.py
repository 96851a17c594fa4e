"""Races: several processes write the same registry at the same moment.

Processes start together at a barrier (each says ``ready``; the test releases
all of them with one ``go`` line each), so the races are real, not staged by
sleeps.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from pathlib import Path

from modelbook import Registry

from .helpers import Figures, Worker, barrier, check_invariants, scale


def test_mixed_registrations_and_alias_moves(
    db_uri: str, blob_dir: Path, work_dir: Path, figures: Figures
) -> None:
    """Writers register versions of two models and move ``champion`` at once, half of
    the moves conditional. Nothing is lost: every number handed out is a version, and
    every move that returned is in the history once, where its ``expect`` said."""
    n_workers, n_ops = scale(4, 8), scale(10, 100)
    models = ["red", "blue"]
    Registry(db_uri, blob_uri=str(blob_dir)).close()  # schema first; openers race elsewhere
    rng = random.Random(11)
    workers = [
        Worker(
            "race_worker.py",
            json.dumps(
                {
                    "mode": "mixed",
                    "uri": db_uri,
                    "blob_uri": str(blob_dir),
                    "worker": i,
                    "seed": rng.randrange(2**31),
                    "ops": n_ops,
                    "models": models,
                    "files_dir": str(work_dir),
                }
            ),
        )
        for i in range(n_workers)
    ]
    try:
        barrier(workers)
        results = [json.loads(line) for w in workers for line in w.finish(timeout=600)]
    finally:
        for w in workers:
            w.close()

    numbers: dict[str, list[int]] = defaultdict(list)
    moves = [r for r in results if r["op"] == "move"]
    for r in results:
        if r["op"] == "register":
            numbers[r["model"]].append(r["number"])
    assert sum(len(v) for v in numbers.values()) == n_workers * n_ops
    errors = Counter(r.get("error") for r in moves if not r["ok"])
    assert set(errors) <= {"Conflict"}, errors
    assert all(r["expect"] is not None for r in moves if not r["ok"])

    reg = Registry(db_uri, blob_uri=str(blob_dir))
    try:
        state = check_invariants(reg, blob_dir)
        for model in models:
            assert sorted(numbers[model]) == state.numbers.get(model, []), model
            history = list(reversed(reg.alias_history(model, "champion", limit=1000)))
            won = {r["reason"]: r for r in moves if r["ok"] and r["model"] == model}
            assert [e.reason for e in history if e.reason in won] == [e.reason for e in history]
            assert len(history) == len(won), f"{model}: {len(history)} events, {len(won)} moves"
            for e in history:
                move = won[e.reason]
                assert e.to_version == move["to"]
                if move["expect"] is not None:  # compare-and-set held when it committed
                    assert (e.from_version or 0) == move["expect"]
            last = history[-1].to_version if history else None
            assert {a.name: a.version for a in reg.aliases(model)}.get("champion") == last
    finally:
        reg.close()
    figures["processes"] = n_workers
    figures["registrations"] = n_workers * n_ops
    figures["alias_moves_committed"] = sum(1 for r in moves if r["ok"])
    figures["conditional_moves_refused"] = errors.get("Conflict", 0)


def test_new_models_are_created_once(
    db_uri: str, blob_dir: Path, work_dir: Path, figures: Figures
) -> None:
    """Processes register the first version of the same brand-new models at once: each
    model is created once and numbered 1..N."""
    n_workers, models = scale(4, 8), [f"new{i}" for i in range(scale(3, 20))]
    Registry(db_uri, blob_uri=str(blob_dir)).close()
    workers = [
        Worker(
            "race_worker.py",
            json.dumps(
                {
                    "mode": "first",
                    "uri": db_uri,
                    "blob_uri": str(blob_dir),
                    "worker": i,
                    "models": models,
                    "files_dir": str(work_dir),
                }
            ),
        )
        for i in range(n_workers)
    ]
    try:
        barrier(workers)
        results = [json.loads(line) for w in workers for line in w.finish()]
    finally:
        for w in workers:
            w.close()
    for model in models:
        got = sorted(r["number"] for r in results if r["model"] == model)
        assert got == list(range(1, n_workers + 1)), model
    figures["processes"] = n_workers
    figures["new_models"] = len(models)
    reg = Registry(db_uri, blob_uri=str(blob_dir))
    try:
        state = check_invariants(reg, blob_dir)  # one model.create event per model
        assert sorted(state.numbers) == sorted(models)
    finally:
        reg.close()


def test_model_created_once_when_two_writers_interleave(
    db_uri: str, blob_dir: Path, work_dir: Path
) -> None:
    """Writer A finds the model absent; before A's transaction, writer B creates it.
    A then registers version 2 into B's model, without recording a second creation.
    (This interleaving is forced in one process, so it happens on every run.)"""
    a = Registry(db_uri, blob_uri=str(blob_dir), actor="a")
    b = Registry(db_uri, blob_uri=str(blob_dir), actor="b")
    fa, fb = work_dir / "a.bin", work_dir / "b.bin"
    fa.write_bytes(b"from a")
    fb.write_bytes(b"from b")
    put_file = a.blobs.put_file

    def b_goes_first(*args: object, **kwargs: object) -> object:
        b.register("fresh", [fb], owners="b", capture_environment=False)
        return put_file(*args, **kwargs)  # type: ignore[arg-type]

    a.blobs.put_file = b_goes_first  # type: ignore[method-assign]
    try:
        v = a.register("fresh", [fa], owners="a", capture_environment=False)
        assert v.number == 2
        assert a.get_model("fresh").owners == ("b",)
        check_invariants(a, blob_dir)
    finally:
        a.close()
        b.close()


def test_conditional_moves_exactly_one_winner(
    db_uri: str, blob_dir: Path, work_dir: Path, figures: Figures
) -> None:
    """N processes try the same compare-and-set at the same instant, round after round:
    creating an alias (expect 0), moving it (expect = where it is), deleting it. Exactly
    one wins each round; the others get Conflict (or NotFound once it is deleted); the
    history holds exactly the winners' moves, chained."""
    n_workers, rounds = scale(4, 8), scale(10, 150)
    reg = Registry(db_uri, blob_uri=str(blob_dir), actor="setup")
    f = work_dir / "m.bin"
    for i in range(n_workers + 1):
        f.write_bytes(f"version {i}".encode())
        reg.register("cas", [f], owners="setup", capture_environment=False)
    workers = [
        Worker(
            "race_worker.py",
            json.dumps(
                {
                    "mode": "cas",
                    "uri": db_uri,
                    "blob_uri": str(blob_dir),
                    "worker": i,
                    "model": "cas",
                }
            ),
        )
        for i in range(n_workers)
    ]
    rng = random.Random(23)
    alias, current = "", 0
    expected_history: dict[str, list[tuple[int | None, int | None]]] = defaultdict(list)
    losers: Counter[str] = Counter()
    try:
        for r in range(rounds):
            if r % 6 == 0:  # a new alias: everyone races to create it
                alias, current = f"a{r}", 0
            op = "delete" if r % 6 == 5 else "set"
            others = [n for n in range(1, n_workers + 2) if n != current]
            rng.shuffle(others)
            for w in workers:
                w.expect("ready")
            for i, w in enumerate(workers):
                w.send(f"go {op} {alias} {current} {others[i] if op == 'set' else 0}")
            outcomes = [json.loads(w.expect("{")) for w in workers]
            winners = [o for o in outcomes if o["ok"]]
            assert len(winners) == 1, f"round {r} ({op} expect {current}): {outcomes}"
            for o in outcomes:
                if not o["ok"]:
                    allowed = {"Conflict", "NotFound"} if op == "delete" else {"Conflict"}
                    assert o["error"] in allowed, o
                    losers[o["error"]] += 1
            target = int(winners[0]["reason"].rsplit(">", 1)[1]) if op == "set" else None
            expected_history[alias].append((current or None, target))
            events = reg.alias_history("cas", alias, limit=1)
            assert events[0].reason == winners[0]["reason"]
            assert (events[0].from_version, events[0].to_version) == (current or None, target)
            current = target or 0
        for w in workers:
            w.expect("ready")
            w.send("stop")
        for w in workers:
            w.finish()
        state = check_invariants(reg, blob_dir)
        assert dict(state.history) == {("cas", a): h for a, h in expected_history.items()}
    finally:
        for w in workers:
            w.close()
        reg.close()
    figures["processes"] = n_workers
    figures["rounds"] = rounds
    figures["losers_refused"] = dict(losers)
