"""A large audit log is verified on two cores: the same answer as one process, always."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from modelbook import Registry
from modelbook.services import audit_partition as partition

from .test_audit_log import chain_rows, drop_append_only_trigger, sql
from .test_release_flow import Flow, make_flow


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    """History on four chains (models ``a``, ``m``, ``z`` and the registry)."""
    flow = make_flow(registry, tmp_path)
    flow.deployed("m")
    flow.deployed("m")
    flow.add("a")
    flow.add("z")
    flow.reg.comment("models:/z/1", "on the far side of the boundary")
    return flow


def both_ways(reg: Registry, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """verify_audit() in one process, then split between two."""
    monkeypatch.setenv("MODELBOOK_VERIFY_PROCESSES", "1")
    one = reg.verify_audit()
    monkeypatch.delenv("MODELBOOK_VERIFY_PROCESSES")
    monkeypatch.setattr(partition, "MIN_EVENTS", 0)
    started: list[str] = []
    real_start = partition.start

    def start(uri: str, through: int, first: str) -> Any:
        started.append(first)
        return real_start(uri, through, first)

    monkeypatch.setattr(partition, "start", start)
    two = reg.verify_audit()
    assert started, "the log was not split"
    return one, two


def spy_on_answers(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The answers the second process's replays come back as, collected as verify uses them."""
    answers: list[Any] = []
    real_finish = partition.finish

    def finish(*args: Any) -> Any:
        answers.append(real_finish(*args))
        return answers[-1]

    monkeypatch.setattr(partition, "finish", finish)
    return answers


def test_the_boundary_gives_each_side_about_half_the_events() -> None:
    heads = [("model:a", 10, "h"), ("model:m", 40, "h"), ("model:z", 45, "h"), ("registry", 5, "h")]
    assert partition.MIN_EVENTS > 100
    assert partition.boundary(heads, 100) is None  # too small to be worth a process
    partition_min = partition.MIN_EVENTS
    try:
        partition.MIN_EVENTS = 0
        assert partition.boundary(heads, 100) == "model:z"
        # Work of this process besides walking (the live state): it walks fewer events.
        assert partition.boundary(heads, 100, extra=lambda: 80) == "model:m"
        # One chain holding most events: the rest go to the second process.
        assert partition.boundary([("a", 90, "h"), ("b", 10, "h")], 100) == "b"
        assert partition.boundary([("a", 100, "h")], 100) is None
    finally:
        partition.MIN_EVENTS = partition_min


def test_a_clean_log_verifies_the_same_on_two_processes(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = both_ways(flow.reg, monkeypatch)
    assert one.ok and two.ok
    assert one == two


def test_tampering_on_both_sides_of_the_boundary_is_found_the_same(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edited event before the boundary, a deleted one after it, a forged
    annotation and a deleted one: two processes report exactly what one does."""
    reg = flow.reg
    drop_append_only_trigger(reg)
    first = chain_rows(reg, "model:a")[1]
    sql(reg, "UPDATE events SET actor = 'mallory' WHERE id = :id", id=first.id)
    last = chain_rows(reg, "model:z")[2]
    sql(reg, "DELETE FROM events WHERE id = :id", id=last.id)
    sql(reg, "DELETE FROM annotations WHERE id = (SELECT min(id) FROM annotations)")
    one, two = both_ways(reg, monkeypatch)
    assert {b.chain for b in one.breaks} == {"model:a", "model:z"}
    assert one.record_problems
    assert one == two


def test_live_state_tampering_on_both_sides_of_the_boundary_is_found_the_same(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state each process replays from its chains, compared with the live tables
    once: edits on both sides, and of the registry chain's roles, are named alike."""
    reg = flow.reg
    sql(reg, "UPDATE models SET risk_tier = 'high' WHERE name = 'a'")
    sql(
        reg,
        "UPDATE versions SET stage = 'approved' "
        "WHERE model_id = (SELECT id FROM models WHERE name = 'z')",
    )
    sql(
        reg,
        "INSERT INTO roles (actor, role, granted_by, granted_at) "
        "VALUES ('eve', 'admin', 'tester', 1)",
    )
    one, two = both_ways(reg, monkeypatch)
    assert not one.breaks and len(one.record_problems) == 3, one.record_problems
    assert one == two


def test_alias_rows_edited_on_both_sides_of_the_boundary_are_found_the_same(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Who last moved an alias and when travel with the second process's replay: a row
    reattributed on one side and one backdated on the other are named alike."""
    reg = flow.reg
    reg.set_alias("z", "champion", 1, reason="far side", actor="alice")
    sql(reg, "UPDATE aliases SET updated_by = 'mallory' WHERE name = 'production'")
    sql(reg, "UPDATE aliases SET updated_at = 1 WHERE name = 'champion'")
    answers = spy_on_answers(monkeypatch)
    one, two = both_ways(reg, monkeypatch)
    assert answers and answers[-1] is not None, "the second process's answer was not used"
    assert "model:z" in answers[-1].stored and "model:m" not in answers[-1].stored
    assert not one.breaks and len(one.record_problems) == 2, one.record_problems
    production, champion = one.record_problems
    assert production.startswith('models:/m@production: the alias was last set by "mallory"')
    assert champion.startswith('models:/z@champion: the alias was last set by "alice" at 1970-')
    assert one == two


def test_the_state_of_chains_broken_at_their_heads_is_not_compared_on_either_side(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chain whose last event is gone breaks only at its head, which is checked after
    the walks: its edited state is left out alike on both sides of the boundary."""
    reg = flow.reg
    drop_append_only_trigger(reg)
    for model in ("a", "z"):
        last = chain_rows(reg, f"model:{model}")[-1]
        sql(reg, "DELETE FROM events WHERE id = :id", id=last.id)
        sql(reg, "UPDATE models SET risk_tier = 'high' WHERE name = :m", m=model)
    one, two = both_ways(reg, monkeypatch)
    assert {b.chain for b in one.breaks} == {"model:a", "model:z"}
    assert not any("risk tier" in p for p in one.record_problems), one.record_problems
    assert one == two


def test_a_second_process_that_fails_changes_nothing(
    flow: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the second process dies, this one verifies its chains itself."""
    reg = flow.reg
    drop_append_only_trigger(reg)
    target = chain_rows(reg, "model:z")[1]
    sql(reg, "UPDATE events SET actor = 'mallory' WHERE id = :id", id=target.id)
    monkeypatch.setenv("MODELBOOK_VERIFY_PROCESSES", "1")
    expected = reg.verify_audit()
    monkeypatch.delenv("MODELBOOK_VERIFY_PROCESSES")
    monkeypatch.setattr(partition, "MIN_EVENTS", 0)

    def dies(uri: str, through: int, first: str) -> Any:
        return subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.stdin.read(); sys.exit(3)"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    monkeypatch.setattr(partition, "start", dies)
    assert reg.verify_audit() == expected
    assert not expected.ok and expected.breaks[0].event_id == target.id


# the second process runs this modelbook, and only its answer is used ---------------------------


PLANTED = """
import pathlib
pathlib.Path({marker!r}).write_text("ran")
"""


def plant_modelbook(folder: Path, marker: Path) -> None:
    """A ``modelbook`` package in ``folder`` whose every module leaves ``marker`` behind,
    and whose verifier answers that nothing is wrong; and a ``json`` module beside it
    that does the same (a module of the standard library found on the path first)."""
    services = folder / "modelbook" / "services"
    services.mkdir(parents=True)
    code = PLANTED.format(marker=str(marker))
    (folder / "json.py").write_text(code + "from _json import *\n")
    (folder / "modelbook" / "__init__.py").write_text(code)
    (services / "__init__.py").write_text(code)
    (services / "audit_partition.py").write_text(
        code
        + "import sys\n"
        + "def serve(request):\n    sys.stdout.write('{}')\n"
        + "def main():\n    serve(None)\n"
        + "if __name__ == '__main__':\n    main()\n"
    )


def test_a_modelbook_planted_in_the_working_directory_is_not_run(
    flow: Flow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The auditor runs `audit verify` in a folder holding a package named modelbook
    (a checkout of someone else's repository, say): the second process still runs the
    modelbook the auditor runs, and finds the tampering on its side of the boundary."""
    reg = flow.reg
    drop_append_only_trigger(reg)
    target = chain_rows(reg, "model:z")[1]
    sql(reg, "UPDATE events SET actor = 'mallory' WHERE id = :id", id=target.id)
    here = tmp_path / "checkout"
    marker = tmp_path / "planted-module-ran"
    plant_modelbook(here, marker)
    monkeypatch.chdir(here)
    monkeypatch.setenv("PYTHONPATH", str(here))
    answers = spy_on_answers(monkeypatch)
    one, two = both_ways(reg, monkeypatch)
    assert not marker.exists()
    assert answers and answers[0] is not None, "the second process's answer was not used"
    assert one == two
    assert [(b.chain, b.event_id) for b in two.breaks] == [("model:z", target.id)]


def answering(text: str) -> Any:
    """A ``start`` whose process answers ``text``, whatever it is asked."""

    def start(uri: str, through: int, first: str) -> Any:
        return subprocess.Popen(
            [sys.executable, "-c", f"import sys; sys.stdin.read(); sys.stdout.write({text!r})"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    return start


def honest_answer(reg: Registry, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the real second process answers for this registry."""
    answers: list[Any] = []
    real_finish = partition.finish

    def finish(*args: Any) -> Any:
        answers.append(real_finish(*args))
        return answers[-1]

    with monkeypatch.context() as m:
        m.setattr(partition, "MIN_EVENTS", 0)
        m.setattr(partition, "finish", finish)
        reg.verify_audit()
    [found] = answers
    assert found is not None
    return dict(found.model_dump(mode="json"))


def wrong_answers(honest: dict[str, Any]) -> dict[str, Any]:
    """Answers a second process must not be believed for, by name."""
    some_chain = next(iter(honest["stored"]))
    return {
        "not JSON": "verified",
        "not an object": "[]",
        "an empty object": "{}",
        "a field missing": {k: v for k, v in honest.items() if k != "records"},
        "a field too many": {**honest, "ok": True},
        "a count as text": {**honest, "events": str(honest["events"])},
        "a hash that is no hash": {
            **honest,
            "last": {**honest["last"], some_chain: [1, "not a hash", 1]},
        },
        # Well-formed, but not what was asked: nothing found, or fewer events.
        "nothing at all": {
            "events": 0,
            "last": {},
            "broken": [],
            "stored": {},
            "records": [],
            "more_records": [],
            "state": {"chains": [], "roles": [], "policy": None, "unreadable": [], "gaps": []},
        },
        "an event fewer": {**honest, "events": honest["events"] - 1},
        "a chain of this side": {
            **honest,
            "last": {**honest["last"], "model:a": [1, "0" * 64, 1]},
            "stored": {**honest["stored"], "model:a": [1, "0" * 64]},
        },
        "a break of a chain it did not walk": {
            **honest,
            "broken": [["model:nowhere", 1, None, "made up"]],
        },
        "state of a model of this side": {
            **honest,
            "state": {
                **honest["state"],
                "chains": [
                    *honest["state"]["chains"],
                    ["model:a", None, None, None, [], [["production", [1, 1, "dan", 1]]], []],
                ],
            },
        },
        "state without its fields": {**honest, "state": {}},
    }


def test_an_answer_that_is_not_one_is_refused(flow: Flow, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the second process answers that is malformed or cannot be what it was
    asked, this process verifies that half itself: the tampering there is still found."""
    reg = flow.reg
    honest = honest_answer(reg, monkeypatch)
    drop_append_only_trigger(reg)
    target = chain_rows(reg, "model:z")[1]
    sql(reg, "UPDATE events SET actor = 'mallory' WHERE id = :id", id=target.id)
    monkeypatch.setenv("MODELBOOK_VERIFY_PROCESSES", "1")
    expected = reg.verify_audit()
    assert [b.event_id for b in expected.breaks] == [target.id]
    monkeypatch.delenv("MODELBOOK_VERIFY_PROCESSES")
    monkeypatch.setattr(partition, "MIN_EVENTS", 0)
    assert "model:a" not in honest["stored"]  # this process's side
    for name, answer in wrong_answers(honest).items():
        text = answer if isinstance(answer, str) else json.dumps(answer)
        monkeypatch.setattr(partition, "start", answering(text))
        assert reg.verify_audit() == expected, name


def test_the_second_process_is_started_isolated() -> None:
    """Python's -I: no working directory, script directory, PYTHONPATH or user
    site-packages on its path."""
    cmd = partition.command()
    assert cmd[0] == sys.executable and cmd[1] == "-I"
    assert "-m" not in cmd
