"""A large audit log is verified on two cores: the same answer as one process, always."""

from __future__ import annotations

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


def test_the_boundary_gives_each_side_about_half_the_events() -> None:
    heads = [("model:a", 10, "h"), ("model:m", 40, "h"), ("model:z", 45, "h"), ("registry", 5, "h")]
    assert partition.MIN_EVENTS > 100
    assert partition.boundary(heads, 100) is None  # too small to be worth a process
    partition_min = partition.MIN_EVENTS
    try:
        partition.MIN_EVENTS = 0
        assert partition.boundary(heads, 100) == "model:z"
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
