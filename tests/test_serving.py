"""Serving: deploy, alias moves under the serving rule, rollback, drills and swaps,
through the Registry API on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from modelbook import InvalidInput, NotFound, Registry
from modelbook.errors import Conflict, GateFailed, PermissionDenied

from .test_release_flow import (
    ADMIN,
    REGISTRANT,
    Flow,
    alias_rows,
    assert_serving_consistent,
    events_of,
    gate,
    make_flow,
    policy,
    stages_of,
    table_counts,
)


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    return make_flow(registry, tmp_path)


def history(flow: Flow, alias: str = "production", name: str = "m") -> list[tuple[Any, Any]]:
    """The moves of one alias, oldest first, as (from, to)."""
    moves = reversed(flow.reg.alias_history(name, alias, limit=1000))
    return [(e.from_version, e.to_version) for e in moves]


def served(flow: Flow, alias: str = "production", name: str = "m") -> int | None:
    return {a.name: a.version for a in flow.reg.aliases(name)}.get(alias)


def snapshot(flow: Flow) -> tuple[Any, ...]:
    """Everything a move could change: the event log, stages, aliases, row counts."""
    reg = flow.reg
    return (
        [(e.id, e.action, e.hash) for e in events_of(reg)],
        stages_of(reg),
        alias_rows(reg),
        table_counts(reg),
    )


# deploy --------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["staging", "candidate", "archived"])
def test_deploy_needs_an_approved_version(flow: Flow, stage: str) -> None:
    v = flow.at_stage(stage)
    before = snapshot(flow)
    with pytest.raises(InvalidInput) as err:
        flow.reg.deploy(v.uri, reason="ship", actor="dan")
    assert f"only a version in 'approved' can be deployed; this one is in {stage!r}" in str(
        err.value
    )
    with pytest.raises(InvalidInput, match="only a version in 'approved'"):
        flow.reg.set_alias("m", "production", v.number, reason="sneak", actor="dan")
    assert snapshot(flow) == before


@pytest.mark.parametrize("who", ["rita", REGISTRANT])
def test_deploy_needs_the_deployer_role(flow: Flow, who: str) -> None:
    v = flow.approved()
    before = snapshot(flow)
    with pytest.raises(PermissionDenied) as err:
        flow.reg.deploy(v.uri, reason="ship", actor=who)
    assert f"modelbook role grant {who} deployer" in str(err.value)
    assert err.value.exit_code == 10
    with pytest.raises(PermissionDenied, match="deployer"):
        flow.reg.set_alias("m", "production", v.number, reason="ship", actor=who)
    assert snapshot(flow) == before
    flow.reg.deploy(v.uri, reason="ship", actor=ADMIN)  # admin holds every role
    assert flow.stage(v.uri) == "deployed"


def test_deploy_records_the_previous_holder_which_returns_to_approved(flow: Flow) -> None:
    reg = flow.reg
    first = flow.approved()
    second = flow.approved()
    moved = reg.deploy(first.uri, reason="launch", actor="dan")
    assert (moved.name, moved.version, moved.updated_by) == ("production", 1, "dan")
    reg.deploy(second.uri, reason="better ctr", actor="dora")
    assert history(flow) == [(None, 1), (1, 2)]
    moves = reg.alias_history("m", "production")
    assert [(e.reason, e.actor) for e in moves] == [("better ctr", "dora"), ("launch", "dan")]
    deploys = [e for e in events_of(reg, "m") if e.action == "version.deploy"]
    assert [(e.version, e.before, e.after, e.reason) for e in deploys] == [
        (1, None, {"alias": "production", "version": 1}, "launch"),
        (
            2,
            {"alias": "production", "version": 1},
            {"alias": "production", "version": 2},
            "better ctr",
        ),
    ]
    assert flow.stage(first.uri) == "approved"
    assert flow.stage(second.uri) == "deployed"
    assert reg.get_version(second.uri).aliases == ("production",)
    # Back to approved means ready: it deploys again with no new review.
    reg.deploy(first.uri, reason="back", actor="dan")
    assert (flow.stage(first.uri), flow.stage(second.uri)) == ("deployed", "approved")
    assert_serving_consistent(reg)
    assert reg.verify_audit().ok


def test_raising_the_risk_tier_sends_versions_back_through_its_gates(flow: Flow) -> None:
    """Versions approved under the low tier (one review, the registrant's own allowed)
    are sent back to the first stage when the tier becomes high, each move an event
    with the reason, so none is deployed on approvals high risk would not count. The
    deployed one keeps serving; lowering the tier moves nothing."""
    reg = flow.reg
    serving = flow.deployed()
    approved = flow.approved()
    candidate = flow.at_stage("candidate")
    staging = flow.add()
    before = reg.set_risk_tier("m", "high", reason="now decides credit", actor=ADMIN)
    assert before == "low"
    assert [flow.stage(v.uri) for v in (serving, approved, candidate, staging)] == [
        "deployed",
        "staging",
        "staging",
        "staging",
    ]
    back = [e for e in events_of(reg, "m") if e.action == "version.stage"][-2:]
    assert [(e.version, e.before, e.after) for e in back] == [
        (approved.number, {"stage": "approved"}, {"stage": "staging"}),
        (candidate.number, {"stage": "candidate"}, {"stage": "staging"}),
    ]
    assert all("raised from low to high" in (e.reason or "") for e in back)
    with pytest.raises(InvalidInput, match="staging"):
        reg.deploy(approved.uri, reason="old approval", actor="dan")
    assert served(flow) == serving.number
    reg.set_risk_tier("m", "low", reason="back", actor=ADMIN)
    assert flow.stage(serving.uri) == "deployed"
    assert_serving_consistent(reg)
    assert reg.verify_audit().ok


def test_one_version_behind_two_serving_aliases(flow: Flow) -> None:
    """Deployed through prod-eu and prod-us, it stays deployed until both moved away."""
    reg = flow.reg
    serving = ("prod-eu", "prod-us")
    reg.set_policy(policy(serving=serving), actor=ADMIN)
    one, two = flow.approved(), flow.approved()
    reg.deploy(one.uri, alias="prod-eu", reason="eu", actor="dan")
    reg.deploy(one.uri, alias="prod-us", reason="us", actor="dan")
    assert reg.get_version(one.uri).aliases == ("prod-eu", "prod-us")
    reg.deploy(two.uri, alias="prod-eu", reason="eu first", actor="dan")
    assert (flow.stage(one.uri), flow.stage(two.uri)) == ("deployed", "deployed")
    assert_serving_consistent(reg, serving)
    reg.deploy(two.uri, alias="prod-us", reason="us too", actor="dan")
    assert (flow.stage(one.uri), flow.stage(two.uri)) == ("approved", "deployed")
    assert_serving_consistent(reg, serving)
    with pytest.raises(InvalidInput, match="'production' is not a serving alias"):
        reg.deploy(one.uri, reason="old name", actor="dan")


def test_alias_set_on_a_serving_alias_is_a_deploy_through_its_gate(flow: Flow) -> None:
    """There is no path around the gates: ``set_alias("production")`` runs the deploy
    rule, its role and its gate."""
    reg = flow.reg
    reg.set_policy(policy(gate("low", "deployed", "metric", rules=["auc >= 0.9"])), actor=ADMIN)
    weak = flow.approved(metrics={"auc": 0.5})
    strong = flow.approved(metrics={"auc": 0.95})
    before = stages_of(reg)
    with pytest.raises(GateFailed, match=r"auc = 0\.5, needs >= 0\.9"):
        reg.set_alias("m", "production", weak.number, reason="sneak", actor="dan")
    assert reg.aliases("m") == [] and stages_of(reg) == before
    assert [e.action for e in events_of(reg, "m")][-1] == "version.evaluate"
    moved = reg.set_alias("m", "production", strong.number, reason="ship", actor="dan")
    assert moved.version == strong.number
    assert flow.stage(strong.uri) == "deployed"
    assert [e.action for e in events_of(reg, "m")][-3:] == [
        "alias.set",
        "version.stage",
        "version.deploy",
    ]


def test_non_serving_aliases_move_freely_and_change_no_stage(flow: Flow) -> None:
    reg = flow.reg
    v = flow.add()
    reg.set_alias("m", "champion", v.number, reason="try", actor=REGISTRANT)
    assert flow.stage(v.uri) == "staging"
    with pytest.raises(InvalidInput, match="'champion' is not a serving alias"):
        reg.deploy(v.uri, alias="champion", reason="x", actor="dan")
    reg.delete_alias("m", "champion", reason="done", actor=REGISTRANT)
    assert flow.stage(v.uri) == "staging"


@pytest.mark.parametrize("alias", ["Production", "PRODUCTION", "producTion"])
def test_an_alias_that_differs_from_a_serving_one_only_by_case_is_refused(
    flow: Flow, alias: str
) -> None:
    """``Production`` is not the serving alias ``production``: it would look like one
    and point at a staging version without a gate."""
    reg = flow.reg
    v = flow.add()
    with pytest.raises(InvalidInput, match="differs from the serving alias 'production' only"):
        reg.set_alias("m", alias, v.number, reason="looks served", actor=REGISTRANT)
    assert reg.aliases("m") == []
    assert flow.stage(v.uri) == "staging"


def test_deleting_a_serving_alias_returns_its_version_to_approved(flow: Flow) -> None:
    reg = flow.reg
    v = flow.deployed()
    with pytest.raises(PermissionDenied, match="deployer"):
        reg.delete_alias("m", "production", reason="pull", actor=REGISTRANT)
    assert flow.stage(v.uri) == "deployed"
    reg.delete_alias("m", "production", reason="pull it", actor="dan")
    assert flow.stage(v.uri) == "approved"
    assert reg.aliases("m") == []
    assert history(flow) == [(None, 1), (1, None)]
    assert_serving_consistent(reg)
    reg.deploy(v.uri, reason="again", actor="dan")
    assert flow.stage(v.uri) == "deployed"


def test_a_deprecated_version_cannot_be_deployed(flow: Flow) -> None:
    reg = flow.reg
    v = flow.approved()
    out = reg.deprecate(v.uri, note="leaks labels", actor="dan")
    assert out.deprecated
    with pytest.raises(Conflict, match="already deprecated"):
        reg.deprecate(v.uri, note="again")
    before = snapshot(flow)
    with pytest.raises(InvalidInput, match="deprecated and cannot be deployed"):
        reg.deploy(v.uri, reason="ship", actor="dan")
    with pytest.raises(InvalidInput, match="deprecated"):
        reg.set_alias("m", "production", v.number, reason="ship", actor="dan")
    assert snapshot(flow) == before


def test_deploy_with_a_stale_expectation_is_a_conflict(flow: Flow) -> None:
    reg = flow.reg
    flow.deployed()
    new = flow.approved()
    before = snapshot(flow)
    with pytest.raises(Conflict, match="points at version 1; expected it to point at version 7"):
        reg.deploy(new.uri, reason="ship", expect=7, actor="dan")
    assert snapshot(flow) == before
    reg.deploy(new.uri, reason="ship", expect=1, actor="dan")
    assert served(flow) == new.number


# rollback ----------------------------------------------------------------------------------


def deploy_in_turn(flow: Flow, count: int) -> list[Any]:
    """``count`` approved versions, each deployed to production in turn."""
    versions = []
    for _ in range(count):
        v = flow.approved()
        flow.reg.deploy(v.uri, reason=f"ship {v.number}", actor="dan")
        versions.append(v)
    return versions


def test_rollback_moves_back_to_the_last_known_good_version(flow: Flow) -> None:
    reg = flow.reg
    deploy_in_turn(flow, 3)
    plan = reg.rollback("m", reason_code="kpi_drop", note="ctr fell 12% at 14:05", actor="dora")
    assert (plan.from_version, plan.to_version, plan.dry_run) == (3, 2, False)
    assert "most recent earlier holder of @production" in plan.why
    assert "none was marked healthy" in plan.why
    assert served(flow) == 2
    bad = reg.get_version("models:/m/3")
    assert (bad.stage.value, bad.deprecated) == ("approved", True)
    incidents = [c for c in reg.annotations("models:/m/3").comments if c.kind == "incident"]
    assert [(c.text, c.actor) for c in incidents] == [("ctr fell 12% at 14:05", "dora")]
    assert flow.stage("models:/m/2") == "deployed"
    last = events_of(reg, "m")[-1]
    assert (last.action, last.reason, last.version) == ("version.rollback", "kpi_drop", 2)
    assert last.before == {"alias": "production", "version": 3}
    assert last.after["why"] == plan.why and last.after["note"] == "ctr fell 12% at 14:05"
    assert history(flow)[-1] == (3, 2)
    # The bad version is never a rollback target nor deployable again.
    with pytest.raises(InvalidInput, match="deprecated"):
        reg.deploy("models:/m/3", reason="retry", actor="dan")
    assert reg.rollback("m", reason_code="again", actor="dan").to_version == 1
    assert_serving_consistent(reg)
    assert reg.verify_audit().ok


def test_rollback_prefers_a_version_marked_healthy_and_says_so(flow: Flow) -> None:
    reg = flow.reg
    first = flow.approved()
    reg.deploy(first.uri, reason="ship", actor="dan")
    health = reg.mark_healthy(first.uri, signal="7 days within SLO", actor="dan")
    assert health.signal == "7 days within SLO"
    deploy_in_turn(flow, 2)
    with pytest.raises(InvalidInput, match="only a deployed version"):
        reg.mark_healthy("models:/m/2", signal="x", actor="dan")
    with pytest.raises(PermissionDenied):
        reg.mark_healthy("models:/m/3", signal="x", actor=REGISTRANT)
    plan = reg.rollback("m", reason_code="latency", actor="dan")
    assert (plan.from_version, plan.to_version) == (3, 1)
    assert "was marked healthy ('7 days within SLO')" in plan.why
    assert served(flow) == 1


def test_rollback_skips_deprecated_and_unready_holders_and_names_them(flow: Flow) -> None:
    reg = flow.reg
    deploy_in_turn(flow, 4)
    reg.deprecate("models:/m/3", note="bias found")
    reg.archive("models:/m/2", note="retired")
    plan = reg.rollback("m", reason_code="kpi_drop", actor="dan")
    assert plan.to_version == 1
    assert "skipped 3 (deprecated), 2 (archived)" in plan.why


def test_rollback_to_a_named_version(flow: Flow) -> None:
    reg = flow.reg
    deploy_in_turn(flow, 3)
    plan = reg.rollback("m", reason_code="kpi_drop", to=1, actor="dan")
    assert (plan.to_version, plan.why) == (1, "version 1 was named with --to")
    assert served(flow) == 1
    assert flow.stage("models:/m/2") == "approved"
    new = flow.add()
    with pytest.raises(InvalidInput, match="never served models:/m@production"):
        reg.rollback("m", reason_code="x", to=new.number, actor="dan")
    with pytest.raises(InvalidInput, match="already points at models:/m/1"):
        reg.rollback("m", reason_code="x", to=1, actor="dan")
    with pytest.raises(InvalidInput, match="and deprecated"):
        reg.rollback("m", reason_code="x", to=3, actor="dan")
    with pytest.raises(NotFound):
        reg.rollback("m", reason_code="x", to=42, actor="dan")


def test_rollback_to_a_version_that_never_served_is_refused_deploy_it_instead(
    flow: Flow,
) -> None:
    """A rollback skips the deploy gate because its target passed it once: a version
    that never served the alias (approved, but never deployed) is refused."""
    reg = flow.reg
    deploy_in_turn(flow, 2)
    fresh = flow.approved()
    with pytest.raises(InvalidInput, match="never served"):
        reg.rollback("m", reason_code="x", to=fresh.number, actor="dan")
    assert served(flow) == 2


def test_a_rejection_after_approval_sends_the_version_back(flow: Flow) -> None:
    reg = flow.reg
    v = flow.approved()
    reg.reject(v.uri, comment="security hole, do not ship", actor="rita")
    assert flow.stage(v.uri) == "candidate"
    with pytest.raises(InvalidInput, match="only a version in 'approved'"):
        reg.deploy(v.uri, reason="ship", actor="dan")


def test_a_dry_run_changes_nothing_and_plans_what_the_rollback_does(flow: Flow) -> None:
    reg = flow.reg
    deploy_in_turn(flow, 3)
    reg.mark_healthy("models:/m/3", signal="fine until today", actor="dan")
    before = snapshot(flow)
    plan = reg.rollback("m", reason_code="kpi_drop", note="n", dry_run=True, actor="dan")
    assert plan.dry_run and (plan.from_version, plan.to_version) == (3, 2)
    assert snapshot(flow) == before
    assert reg.annotations("models:/m/3").comments == ()
    done = reg.rollback("m", reason_code="kpi_drop", note="n", actor="dan")
    assert (done.to_version, done.why) == (plan.to_version, plan.why)
    assert snapshot(flow) != before


def test_no_known_good_target_is_not_found_and_moves_nothing(flow: Flow) -> None:
    reg = flow.reg
    with pytest.raises(NotFound, match="model 'm' not found"):
        reg.rollback("m", reason_code="kpi_drop", actor="dan")
    flow.approved()
    with pytest.raises(NotFound, match="nothing to roll back"):
        reg.rollback("m", reason_code="kpi_drop", actor="dan")
    flow.reg.deploy("models:/m/1", reason="first", actor="dan")
    before = snapshot(flow)
    with pytest.raises(NotFound) as err:
        reg.rollback("m", reason_code="kpi_drop", actor="dan")
    assert "no known-good version to roll models:/m@production back to" in str(err.value)
    assert "--to VERSION" in str(err.value)
    with pytest.raises(NotFound, match="no known-good"):
        reg.rollback("m", reason_code="kpi_drop", dry_run=True, actor="dan")
    assert snapshot(flow) == before
    # A drill finds the same: no target, a failed drill (recorded on version 1).
    report = reg.drill("m", actor="dan")
    assert (report.to_version, report.ready) == (None, False)
    assert "no known-good version" in report.why


def test_rollback_needs_a_deployer_and_a_reason_code(flow: Flow) -> None:
    reg = flow.reg
    deploy_in_turn(flow, 2)
    before = snapshot(flow)
    with pytest.raises(PermissionDenied, match="modelbook role grant rita deployer"):
        reg.rollback("m", reason_code="kpi_drop", actor="rita")
    for code in ("", "not a code!"):
        with pytest.raises(InvalidInput, match="reason code"):
            reg.rollback("m", reason_code=code, actor="dan")
    with pytest.raises(InvalidInput, match="'canary' is not a serving alias"):
        reg.rollback("m", alias="canary", reason_code="kpi_drop", actor="dan")
    assert snapshot(flow) == before


def test_a_rollback_is_one_transaction(flow: Flow, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure half way (after the alias moved, before the bad version is marked)
    leaves no trace: alias, stages, annotations and the event log are as before."""
    reg = flow.reg
    deploy_in_turn(flow, 2)
    before = snapshot(flow)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(reg._release, "mark_deprecated", broken)
    with pytest.raises(RuntimeError, match="disk went away"):
        reg.rollback("m", reason_code="kpi_drop", note="incident 7", actor="dan")
    assert snapshot(flow) == before
    monkeypatch.undo()
    assert reg.rollback("m", reason_code="kpi_drop", actor="dan").to_version == 1
    assert reg.verify_audit().ok


def test_a_concurrent_move_makes_rollback_a_conflict(flow: Flow) -> None:
    reg = flow.reg
    deploy_in_turn(flow, 3)
    with pytest.raises(Conflict, match="expected it to point at version 2"):
        reg.rollback("m", reason_code="kpi_drop", expect=2, actor="dan")
    assert served(flow) == 3


def test_the_second_of_two_rollbacks_at_once_is_a_conflict_even_with_nothing_left(
    flow: Flow,
) -> None:
    """Both operators saw version 2 serving; the first rolls back to 1 and deprecates
    2. The second is told the alias moved (exit 5), not that there is no known-good
    version left (exit 3), dry run or not."""
    reg = flow.reg
    deploy_in_turn(flow, 2)
    assert reg.rollback("m", reason_code="kpi_drop", expect=2, actor="dan").to_version == 1
    for dry_run in (True, False):
        with pytest.raises(Conflict, match="points at version 1; expected it to point at"):
            reg.rollback("m", reason_code="kpi_drop", expect=2, dry_run=dry_run, actor="dan")
    assert served(flow) == 1


# drills ----------------------------------------------------------------------------------


def test_a_drill_proves_the_target_ready_and_is_recorded(flow: Flow) -> None:
    reg = flow.reg
    deploy_in_turn(flow, 2)
    stages, aliases = stages_of(reg), alias_rows(reg)
    report = reg.drill("m", actor="dan")
    assert (report.from_version, report.to_version, report.ready) == (2, 1, True)
    assert report.problems == ()
    assert any("sha256 verified" in c for c in report.checks)
    assert (stages_of(reg), alias_rows(reg)) == (stages, aliases)
    drills = reg.annotations("models:/m/1").drills
    assert [(d.alias, d.ready, d.actor) for d in drills] == [("production", True, "dan")]
    last = events_of(reg, "m")[-1]
    assert (last.action, last.version, last.actor) == ("version.drill", 1, "dan")
    with pytest.raises(PermissionDenied, match="deployer"):
        reg.drill("m", actor="rita")


def test_a_drill_on_a_corrupt_target_reports_not_ready_and_moves_nothing(
    flow: Flow, blob_dir: Path
) -> None:
    reg = flow.reg
    first, _second = deploy_in_turn(flow, 2)
    sha = first.artifacts[0].sha256
    blob = next(p for p in blob_dir.rglob(sha) if p.is_file())
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[0] ^= 0xFF
    blob.write_bytes(bytes(data))
    before = (stages_of(reg), alias_rows(reg))
    report = reg.drill("m", actor="dan")
    assert not report.ready
    assert report.to_version == 1
    assert [p for p in report.problems if first.artifacts[0].path in p]
    assert (stages_of(reg), alias_rows(reg)) == before
    recorded = reg.annotations(first.uri).drills[-1]
    assert not recorded.ready
    assert any(first.artifacts[0].path in c and "sha256 verified" not in c for c in recorded.checks)


# swaps -----------------------------------------------------------------------------------


def test_swapping_champion_and_challenger_is_one_move(flow: Flow) -> None:
    reg = flow.reg
    a, b = flow.add(), flow.add()
    reg.set_alias("m", "champion", a.number, reason="first", actor=REGISTRANT)
    reg.set_alias("m", "challenger", b.number, reason="second", actor=REGISTRANT)
    count = len(events_of(reg, "m"))
    out = reg.swap_aliases("m", "champion", "challenger", reason="b wins the A/B", actor=REGISTRANT)
    assert {x.name: x.version for x in out} == {"champion": b.number, "challenger": a.number}
    assert history(flow, "champion") == [(None, 1), (1, 2)]
    assert history(flow, "challenger") == [(None, 2), (2, 1)]
    new = events_of(reg, "m")[count:]
    assert [e.action for e in new] == ["alias.set", "alias.set", "alias.swap"]
    assert (new[-1].before, new[-1].after) == (
        {"champion": 1, "challenger": 2},
        {"champion": 2, "challenger": 1},
    )
    assert (flow.stage(a.uri), flow.stage(b.uri)) == ("staging", "staging")
    with pytest.raises(InvalidInput, match="two different aliases"):
        reg.swap_aliases("m", "champion", "champion", reason="x")
    with pytest.raises(NotFound, match="models:/m@shadow not found"):
        reg.swap_aliases("m", "champion", "shadow", reason="x")


def test_swapping_into_a_serving_alias_is_a_deploy(flow: Flow) -> None:
    reg = flow.reg
    live = flow.deployed()
    challenger = flow.approved()
    reg.set_alias("m", "challenger", challenger.number, reason="A/B", actor=REGISTRANT)
    with pytest.raises(PermissionDenied, match="deployer"):
        reg.swap_aliases("m", "production", "challenger", reason="promote", actor=REGISTRANT)
    reg.swap_aliases("m", "production", "challenger", reason="promote", actor="dan")
    assert served(flow) == challenger.number
    assert served(flow, "challenger") == live.number
    assert (flow.stage(live.uri), flow.stage(challenger.uri)) == ("approved", "deployed")
    assert_serving_consistent(reg)

    staged = flow.add()
    reg.set_alias("m", "challenger", staged.number, reason="try", actor=REGISTRANT)
    before = snapshot(flow)
    with pytest.raises(InvalidInput, match="only a version in 'approved'"):
        reg.swap_aliases("m", "challenger", "production", reason="oops", actor="dan")
    assert snapshot(flow) == before


def test_a_swap_into_a_serving_alias_passes_the_deploy_gate(flow: Flow) -> None:
    reg = flow.reg
    reg.set_policy(policy(gate("low", "deployed", "metric", rules=["auc >= 0.9"])), actor=ADMIN)
    flow.deployed(metrics={"auc": 0.95})
    weak = flow.approved(metrics={"auc": 0.5})
    reg.set_alias("m", "challenger", weak.number, reason="A/B", actor=REGISTRANT)
    stages, aliases = stages_of(reg), alias_rows(reg)
    with pytest.raises(GateFailed, match=r"auc = 0\.5, needs >= 0\.9"):
        reg.swap_aliases("m", "production", "challenger", reason="promote", actor="dan")
    assert (stages_of(reg), alias_rows(reg)) == (stages, aliases)
    assert reg.annotations(weak.uri).evaluations[-1].target_stage == "deployed"
    assert_serving_consistent(reg)


def test_a_swap_cannot_deploy_a_deprecated_version(flow: Flow) -> None:
    reg = flow.reg
    flow.deployed()
    bad = flow.approved()
    reg.set_alias("m", "challenger", bad.number, reason="A/B", actor=REGISTRANT)
    reg.deprecate(bad.uri, note="leaks labels")
    before = snapshot(flow)
    with pytest.raises(InvalidInput, match="deprecated"):
        reg.swap_aliases("m", "production", "challenger", reason="promote", actor="dan")
    assert snapshot(flow) == before


def test_swapping_two_aliases_on_one_version_moves_nothing(flow: Flow) -> None:
    """Like setting an alias to the version it already names: no move is recorded, so
    the history never holds a move from a version to itself."""
    reg = flow.reg
    v = flow.deployed()
    reg.set_alias("m", "champion", v.number, reason="same", actor=REGISTRANT)
    before = snapshot(flow)
    out = reg.swap_aliases("m", "champion", "production", reason="no-op", actor="dan")
    assert {a.name: a.version for a in out} == {"champion": 1, "production": 1}
    assert snapshot(flow) == before
    with pytest.raises(PermissionDenied):
        reg.swap_aliases("m", "champion", "production", reason="no-op", actor=REGISTRANT)


def test_rollback_and_drill_move_only_serving_aliases(flow: Flow) -> None:
    """Rollback moves a serving alias back (docs/release-flow.md); on ``champion`` it
    would make its target ``deployed`` with no serving alias pointing at it."""
    reg = flow.reg
    first, second = flow.approved(), flow.approved()
    reg.set_alias("m", "champion", first.number, reason="a", actor=REGISTRANT)
    reg.set_alias("m", "champion", second.number, reason="b", actor=REGISTRANT)
    before = snapshot(flow)
    for call in (
        lambda: reg.rollback("m", alias="champion", reason_code="oops", actor="dan"),
        lambda: reg.rollback("m", alias="champion", reason_code="oops", dry_run=True),
        lambda: reg.rollback("m", alias="champion", reason_code="oops", to=1, actor="dan"),
        lambda: reg.drill("m", alias="champion", actor="dan"),
    ):
        with pytest.raises(InvalidInput, match="'champion' is not a serving alias"):
            call()
    assert snapshot(flow) == before
    assert_serving_consistent(reg)


def test_only_a_deployed_version_is_marked_healthy(flow: Flow) -> None:
    """A version that is not deployed is refused, even when a non-serving alias
    points at it."""
    reg = flow.reg
    v = flow.approved()
    reg.set_alias("m", "challenger", v.number, reason="A/B", actor=REGISTRANT)
    with pytest.raises(InvalidInput, match="only a deployed version can be marked healthy"):
        reg.mark_healthy(v.uri, signal="fine in the A/B", actor="dan")
    assert reg.annotations(v.uri).health == ()
    reg.deploy(v.uri, reason="ship", actor="dan")
    assert reg.mark_healthy(v.uri, signal="fine", actor="dan").signal == "fine"


def test_removing_the_serving_alias_does_not_switch_off_compare(flow: Flow) -> None:
    """With production removed, compare still measures against the version it served
    last: removing the alias is no way around the gate."""
    reg = flow.reg
    reg.set_policy(policy(gate("low", "deployed", "compare", metrics=["auc"])), actor=ADMIN)
    good = flow.approved(metrics={"auc": 0.9})
    reg.deploy(good.uri, reason="ship", actor="dan")
    worse = flow.approved(metrics={"auc": 0.5})
    reg.delete_alias("m", "production", reason="bypass", actor="dan")
    with pytest.raises(GateFailed, match="auc"):
        reg.deploy(worse.uri, reason="worse", actor="dan")


def test_the_events_of_one_deploy_or_rollback_share_one_time(flow: Flow) -> None:
    """A deploy writes its evaluation, stage changes, alias move and deploy event as
    one moment: a --since cut can never split it."""
    reg = flow.reg
    deploy_in_turn(flow, 2)
    reg.rollback("m", reason_code="kpi_drop", actor="dan")
    events = reg.events(model="m", limit=1000).items
    for action in ("version.deploy", "version.rollback"):
        last = next(e for e in events if e.action == action)
        same = [e for e in events if e.at == last.at]
        assert len(same) >= 3, [(e.action, e.at) for e in events[:8]]
    ordered = sorted(events, key=lambda e: e.id)
    bad = [(a.action, a.at, b.action, b.at) for a, b in itertools.pairwise(ordered) if a.at > b.at]
    assert not bad, bad
