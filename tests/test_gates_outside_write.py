"""Gates are evaluated before the write that records them: a slow or hanging check holds
no lock, and a change made while the checks ran is seen before anything moves.

Each test runs on SQLite and on PostgreSQL. The other writer is a second registry on
the same database with a short busy timeout, as another process would be: a write
that had to wait for the gate would fail "busy" within seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelbook import Registry
from modelbook.errors import Conflict, GateFailed
from modelbook.services.gates import ATTEMPTS, Gates

from . import gate_plugins
from .test_release_flow import (
    ADMIN,
    DEPLOYERS,
    REGISTRANT,
    REVIEWERS,
    Flow,
    gate,
    make_flow,
    policy,
)


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    return make_flow(registry, tmp_path)


@pytest.fixture
def other(
    db_uri: str, blob_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flow]:
    """Another writer on the same registry, giving up after two seconds of waiting."""
    monkeypatch.setenv("MODELBOOK_BUSY_TIMEOUT_MS", "2000")
    reg = Registry(db_uri, blob_uri=str(blob_dir), actor="bob")
    folder = tmp_path / "other-files"
    folder.mkdir()
    yield Flow(reg, folder, made=1000)
    reg.close()


@pytest.fixture(autouse=True)
def plugins() -> Iterator[None]:
    gate_plugins.ENTERED.clear()
    gate_plugins.RELEASE.clear()
    gate_plugins.HOOKS.clear()
    gate_plugins.CALLS.clear()
    yield
    gate_plugins.RELEASE.set()
    gate_plugins.HOOKS.clear()


def custom(function: str, stage: str = "candidate", **args: object) -> str:
    return gate("low", stage, "custom", function=f"tests.gate_plugins:{function}", args=args)


def in_thread(fn: Any) -> tuple[threading.Thread, list[Any]]:
    """Run ``fn`` in a thread; the list gets what it returned or raised."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def test_a_hanging_custom_check_makes_no_other_writer_wait(flow: Flow, other: Flow) -> None:
    flow.reg.set_policy(policy(custom("waits")), actor=ADMIN)
    v = flow.add("m")
    sibling = flow.add("m")
    thread, out = in_thread(lambda: flow.reg.promote(v.uri, to="candidate", actor=REGISTRANT))
    try:
        assert gate_plugins.ENTERED.wait(timeout=60), "the gate never ran"
        # While the check hangs: another model registered, another version of the same
        # model tagged, each within the other writer's two seconds.
        registered = other.add("elsewhere")
        assert registered.number == 1
        assert other.reg.set_tags(sibling.uri, {"team": "ads"}) == {"team": "ads"}
        assert thread.is_alive() and flow.stage(v.uri) == "staging"
    finally:
        gate_plugins.RELEASE.set()
        thread.join(timeout=60)
    assert not isinstance(out[0], BaseException), out[0]
    assert out[0].stages == ("candidate",)
    assert flow.stage(v.uri) == "candidate"


def test_a_deploy_gate_that_hangs_makes_no_other_writer_wait(flow: Flow, other: Flow) -> None:
    v = flow.approved("m")
    flow.reg.set_policy(policy(custom("waits", stage="deployed")), actor=ADMIN)
    thread, out = in_thread(lambda: flow.reg.deploy(v.uri, reason="ship", actor=DEPLOYERS[0]))
    try:
        assert gate_plugins.ENTERED.wait(timeout=60), "the gate never ran"
        assert other.reg.set_tags(v.uri, {"note": "while deploying"}) == {"note": "while deploying"}
        other.add("elsewhere")
    finally:
        gate_plugins.RELEASE.set()
        thread.join(timeout=60)
    assert not isinstance(out[0], BaseException), out[0]
    assert flow.stage(v.uri) == "deployed"


def test_a_rejection_recorded_while_the_gate_ran_is_judged_before_the_move(
    flow: Flow, other: Flow
) -> None:
    flow.reg.set_policy(
        policy(gate("low", "candidate", "approvals", count=1), custom("runs_hooks")),
        actor=ADMIN,
    )
    v = flow.add("m")
    flow.reg.approve(v.uri, actor=REVIEWERS[0])
    # While the first evaluation runs (it sees one approval and passes), ron rejects.
    gate_plugins.HOOKS.append(
        lambda: other.reg.reject(v.uri, comment="leaks labels", actor=REVIEWERS[1])
    )
    with pytest.raises(GateFailed) as err:
        flow.reg.promote(v.uri, to="candidate", actor=REGISTRANT)
    assert "approvals" in str(err.value)
    assert flow.stage(v.uri) == "staging"
    # Evaluated twice, the second time with the rejection; only that one is recorded.
    assert len(gate_plugins.CALLS) == 2 and set(gate_plugins.CALLS) == {v.number}
    notes = flow.reg.annotations(v.uri)
    assert [r.actor for r in notes.rejections] == [REVIEWERS[1]]
    (evaluation,) = notes.evaluations
    by_check = {r.check: r for r in evaluation.records}
    assert not by_check["approvals"].passed
    assert by_check["tests.gate_plugins:runs_hooks"].passed


def test_a_state_that_keeps_changing_is_a_conflict_and_writes_nothing(
    flow: Flow, other: Flow
) -> None:
    flow.reg.set_policy(policy(custom("runs_hooks", every=True)), actor=ADMIN)
    v = flow.add("m")
    seen = iter(range(100))
    gate_plugins.HOOKS.append(lambda: other.reg.set_tags(v.uri, {"n": next(seen)}))
    with pytest.raises(Conflict) as err:
        flow.reg.promote(v.uri, to="candidate", actor=REGISTRANT)
    assert "changed while they ran" in str(err.value)
    assert "nothing was written" in str(err.value)
    assert len(gate_plugins.CALLS) == ATTEMPTS
    assert flow.stage(v.uri) == "staging"
    assert flow.reg.annotations(v.uri).evaluations == ()


def test_a_version_archived_while_its_gate_ran_is_not_promoted(flow: Flow, other: Flow) -> None:
    flow.reg.set_policy(policy(custom("runs_hooks")), actor=ADMIN)
    v = flow.add("m")
    gate_plugins.HOOKS.append(lambda: other.reg.archive(v.uri, note="withdrawn"))
    with pytest.raises(Exception) as err:
        flow.reg.promote(v.uri, to="candidate", actor=REGISTRANT)
    assert "archived" in str(err.value)
    assert flow.stage(v.uri) == "archived"
    assert flow.reg.annotations(v.uri).evaluations == ()


def test_a_move_with_no_gate_is_never_refused_for_another_writers_move(
    flow: Flow, other: Flow, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unconditional move of an alias that serves nothing wins as any write does:
    another writer moving the same alias at the same moment is no Conflict. (Planned
    in a read and written apart, each such move used to be evaluated again until it
    failed with exit 5.)"""
    first, second, third = flow.add("m"), flow.add("m"), flow.add("m")
    flow.reg.set_alias("m", "champion", first.number, reason="start", actor=REGISTRANT)
    original = Gates.judge
    moves = iter([second.number, first.number] * 5)

    def judge_while_another_moves(self: Gates, asks: Any, actor: str) -> Any:
        other.reg.set_alias("m", "champion", next(moves), reason="other", actor="bob")
        return original(self, asks, actor)

    monkeypatch.setattr(Gates, "judge", judge_while_another_moves)
    alias = flow.reg.set_alias("m", "champion", third.number, reason="mine", actor=REGISTRANT)
    assert alias.version == third.number
    assert flow.reg.resolve("models:/m@champion").number == third.number
    assert flow.reg.alias_history("m", "champion")[0].reason == "mine"
