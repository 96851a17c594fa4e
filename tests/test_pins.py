"""Contract pins: an alias held to one semver MAJOR, enforced on every path that moves
aliases (alias set, swap, deploy, rollback), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelbook import InvalidInput, NotFound, Registry
from modelbook import pins as rules

from .test_release_flow import DEPLOYERS, Flow, make_flow
from .test_serving import snapshot

DAN = DEPLOYERS[0]


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    return make_flow(registry, tmp_path)


def actions(flow: Flow) -> list[str]:
    return [e.action for e in reversed(flow.reg.events(model="m", limit=1000).items)]


def pinned(flow: Flow, alias: str) -> int | None:
    return {a.name: a.pinned_major for a in flow.reg.aliases("m")}.get(alias)


# the pure rule ----------------------------------------------------------------------------


def test_rule_allows_the_same_major_and_no_pin() -> None:
    assert rules.check_move("m", "production", 1, 3, "1.4.0", None) is None
    assert rules.check_move("m", "production", None, 3, "7.0.0", None) is None


def test_rule_refuses_another_major_naming_the_pin_and_the_way_out() -> None:
    with pytest.raises(InvalidInput) as err:
        rules.check_move("m", "production", 1, 3, "2.0.0", None)
    text = str(err.value)
    assert "models:/m@production is pinned to major 1" in text
    assert "version 3 (2.0.0) is major 2" in text
    assert "--allow-major --reason TEXT" in text and "modelbook alias unpin m production" in text


def test_rule_with_an_override_says_what_it_crosses() -> None:
    o = rules.check_move("m", "production", 1, 3, "2.0.0", "new schema")
    assert o == rules.Override("production", 1, 2, "2.0.0", "new schema")


@pytest.mark.parametrize("bad", [-1, True, 1.5, "1", rules.MAX_MAJOR + 1])
def test_rule_refuses_a_bad_major(bad: object) -> None:
    with pytest.raises(InvalidInput, match="--major"):
        rules.valid_major(bad)


def test_rule_refuses_a_pin_the_alias_already_breaks() -> None:
    rules.check_pin("m", "production", 1, "1.2.0")
    with pytest.raises(InvalidInput, match=r"points at 2\.0\.0 \(major 2\)"):
        rules.check_pin("m", "production", 1, "2.0.0")


# alias set ---------------------------------------------------------------------------------


def test_pin_is_recorded_and_listed(flow: Flow) -> None:
    v1 = flow.add()
    flow.reg.set_alias("m", "champion", v1.number, reason="first", actor=DAN)
    got = flow.reg.pin_alias("m", "champion", 1, actor=DAN)
    assert got.pinned_major == 1 and got.version == v1.number
    assert pinned(flow, "champion") == 1
    assert actions(flow)[-1] == "alias.pin"
    pin_event = flow.reg.events(model="m", action="alias.pin").items[0]
    assert pin_event.actor == DAN
    assert pin_event.after == {"alias": "champion", "major": 1}
    # The same pin again changes nothing and records nothing.
    before = snapshot(flow)
    flow.reg.pin_alias("m", "champion", 1, actor=DAN)
    assert snapshot(flow) == before


def test_alias_set_across_the_pin_is_refused_and_nothing_is_written(flow: Flow) -> None:
    v1 = flow.add()
    v2 = flow.add(semver="2.0.0")
    v3 = flow.add()  # 2.1.0
    flow.reg.set_alias("m", "champion", v1.number, reason="first", actor=DAN)
    flow.reg.pin_alias("m", "champion", 1, actor=DAN)
    before = snapshot(flow)
    with pytest.raises(InvalidInput, match="pinned to major 1") as err:
        flow.reg.set_alias("m", "champion", v2.number, reason="try", actor=DAN)
    assert err.value.exit_code == 6
    assert snapshot(flow) == before
    moved = flow.reg.set_alias(
        "m", "champion", v2.number, reason="schema v2", allow_major=True, actor=DAN
    )
    assert moved.version == v2.number and moved.pinned_major == 2
    override = flow.reg.events(model="m", action="alias.override").items[0]
    assert override.reason == "schema v2" and override.actor == DAN
    assert override.before == {"alias": "champion", "version": v1.number, "major": 1}
    assert override.after == {
        "alias": "champion",
        "version": v2.number,
        "semver": "2.0.0",
        "major": 2,
    }
    # The pin followed the alias: the next release of major 2 moves without an override.
    flow.reg.set_alias("m", "champion", v3.number, reason="2.1", actor=DAN)
    assert len(flow.reg.events(model="m", action="alias.override").items) == 1


def test_unpin_lets_the_alias_move_freely(flow: Flow) -> None:
    v1 = flow.add()
    v2 = flow.add(semver="2.0.0")
    flow.reg.set_alias("m", "champion", v1.number, reason="first", actor=DAN)
    flow.reg.pin_alias("m", "champion", 1, actor=DAN)
    flow.reg.unpin_alias("m", "champion", actor=DAN)
    assert pinned(flow, "champion") is None
    assert actions(flow)[-1] == "alias.unpin"
    flow.reg.set_alias("m", "champion", v2.number, reason="free", actor=DAN)
    with pytest.raises(NotFound, match="is not pinned"):
        flow.reg.unpin_alias("m", "champion", actor=DAN)


def test_bad_pins_write_nothing(flow: Flow) -> None:
    v1 = flow.add()
    flow.reg.set_alias("m", "champion", v1.number, reason="first", actor=DAN)
    before = snapshot(flow)
    with pytest.raises(InvalidInput, match="--major"):
        flow.reg.pin_alias("m", "champion", -1, actor=DAN)
    with pytest.raises(NotFound, match="alias models:/m@nope not found"):
        flow.reg.pin_alias("m", "nope", 1, actor=DAN)
    with pytest.raises(NotFound, match="model 'ghost' not found"):
        flow.reg.pin_alias("ghost", "champion", 1, actor=DAN)
    with pytest.raises(InvalidInput, match="pin it to --major 1"):
        flow.reg.pin_alias("m", "champion", 2, actor=DAN)
    with pytest.raises(InvalidInput, match="reason"):
        flow.reg.set_alias("m", "champion", v1.number, reason="", allow_major=True, actor=DAN)
    assert snapshot(flow) == before


# swap --------------------------------------------------------------------------------------


def test_swap_across_a_pin_is_refused_unless_allowed(flow: Flow) -> None:
    v1 = flow.add()
    v2 = flow.add(semver="2.0.0")
    flow.reg.set_alias("m", "champion", v1.number, reason="a", actor=DAN)
    flow.reg.set_alias("m", "challenger", v2.number, reason="b", actor=DAN)
    flow.reg.pin_alias("m", "champion", 1, actor=DAN)
    before = snapshot(flow)
    with pytest.raises(InvalidInput, match="models:/m@champion is pinned to major 1"):
        flow.reg.swap_aliases("m", "champion", "challenger", reason="swap", actor=DAN)
    assert snapshot(flow) == before
    flow.reg.swap_aliases(
        "m", "champion", "challenger", reason="v2 wins", allow_major=True, actor=DAN
    )
    assert {a.name: (a.version, a.pinned_major) for a in flow.reg.aliases("m")} == {
        "champion": (v2.number, 2),
        "challenger": (v1.number, None),
    }
    assert "alias.override" in actions(flow)


# deploy and rollback -----------------------------------------------------------------------


def test_deploy_across_a_pin_is_refused_unless_allowed(flow: Flow) -> None:
    v1 = flow.deployed()
    flow.reg.pin_alias("m", "production", 1, actor=DAN)
    v2 = flow.approved(semver="2.0.0")
    before = snapshot(flow)
    with pytest.raises(InvalidInput, match="models:/m@production is pinned to major 1"):
        flow.reg.deploy(v2.uri, reason="ship 2", actor=DAN)
    with pytest.raises(InvalidInput, match="pinned to major 1"):
        flow.reg.set_alias("m", "production", v2.number, reason="ship 2", actor=DAN)
    assert snapshot(flow) == before
    flow.reg.deploy(v2.uri, reason="ship 2: new contract", allow_major=True, actor=DAN)
    assert flow.stage(v2.uri) == "deployed" and flow.stage(v1.uri) == "approved"
    assert pinned(flow, "production") == 2
    override = flow.reg.events(model="m", action="alias.override").items[0]
    assert override.reason == "ship 2: new contract"


def test_rollback_across_a_pin_is_refused_unless_allowed(flow: Flow) -> None:
    v1 = flow.deployed()
    flow.reg.pin_alias("m", "production", 1, actor=DAN)
    v2 = flow.approved(semver="2.0.0")
    flow.reg.deploy(v2.uri, reason="ship 2", allow_major=True, actor=DAN)
    before = snapshot(flow)
    with pytest.raises(InvalidInput, match=r"pinned to major 2; version 1 \(1\.0\.0\)"):
        flow.reg.rollback("m", reason_code="kpi_drop", actor=DAN)
    with pytest.raises(InvalidInput, match="--reason"):
        flow.reg.rollback("m", reason_code="kpi_drop", allow_major=True, actor=DAN)
    with pytest.raises(InvalidInput, match="give both or neither"):
        flow.reg.rollback("m", reason_code="kpi_drop", reason="why", actor=DAN)
    assert snapshot(flow) == before
    plan = flow.reg.rollback(
        "m", reason_code="kpi_drop", allow_major=True, reason="back to the v1 contract", actor=DAN
    )
    assert plan.to_version == v1.number
    assert pinned(flow, "production") == 1
    overrides = flow.reg.events(model="m", action="alias.override").items
    assert overrides[0].reason == "back to the v1 contract"
    assert flow.reg.verify_audit().ok
