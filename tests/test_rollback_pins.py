"""A rollback's dry run and drill refuse, or report, exactly what the rollback itself
refuses: the alias's contract pin, the role, an expectation that no longer holds
(Python API and CLI, on SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelbook import Conflict, InvalidInput, Registry
from modelbook.errors import GateFailed, PermissionDenied
from modelbook.policy import DEFAULT_POLICY_TEXT

from .test_cli import CLI, cli, home  # noqa: F401 - fixtures
from .test_release_flow import ADMIN, DEPLOYERS, REGISTRANT, Flow, make_flow
from .test_serving import snapshot

DAN = DEPLOYERS[0]


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    return make_flow(registry, tmp_path)


def _across_the_pin(flow: Flow) -> int:
    """production pinned to major 2, its earlier holder (the rollback target) of major 1."""
    v1 = flow.deployed()
    flow.reg.pin_alias("m", "production", 1, actor=DAN)
    v2 = flow.approved(semver="2.0.0")
    flow.reg.deploy(v2.uri, reason="ship 2", allow_major=True, actor=DAN)
    return v1.number


def test_a_dry_run_refuses_the_pin_as_the_rollback_does(flow: Flow) -> None:
    target = _across_the_pin(flow)
    before = snapshot(flow)
    with pytest.raises(InvalidInput) as real:
        flow.reg.rollback("m", reason_code="kpi_drop", actor=DAN)
    with pytest.raises(InvalidInput) as dry:
        flow.reg.rollback("m", reason_code="kpi_drop", dry_run=True, actor=DAN)
    assert "pinned to major 2" in str(real.value) and str(dry.value) == str(real.value)
    plan = flow.reg.rollback(
        "m", reason_code="kpi_drop", dry_run=True, allow_major=True, reason="v1 back", actor=DAN
    )
    assert plan.dry_run and plan.to_version == target
    assert plan.pin is not None and "major 2 -> 1 (1.0.0)" in plan.pin
    assert snapshot(flow) == before
    done = flow.reg.rollback(
        "m", reason_code="kpi_drop", allow_major=True, reason="v1 back", actor=DAN
    )
    assert (done.to_version, done.pin) == (plan.to_version, plan.pin)


def test_a_dry_run_refuses_a_role_and_a_moved_alias_as_the_rollback_does(flow: Flow) -> None:
    flow.deployed()
    v2 = flow.deployed()
    with pytest.raises(PermissionDenied) as real:
        flow.reg.rollback("m", reason_code="kpi_drop", actor=REGISTRANT)
    with pytest.raises(PermissionDenied) as dry:
        flow.reg.rollback("m", reason_code="kpi_drop", dry_run=True, actor=REGISTRANT)
    assert str(dry.value) == str(real.value)
    with pytest.raises(Conflict, match="expected it to point at version 1"):
        flow.reg.rollback("m", reason_code="kpi_drop", dry_run=True, expect=1, actor=DAN)
    plan = flow.reg.rollback("m", reason_code="kpi_drop", dry_run=True, expect=v2.number, actor=DAN)
    assert plan.pin is None


def test_a_drill_reports_the_pin_as_a_problem_unless_allowed(flow: Flow) -> None:
    target = _across_the_pin(flow)
    with pytest.raises(InvalidInput) as real:
        flow.reg.rollback("m", reason_code="kpi_drop", actor=DAN)
    report = flow.reg.drill("m", actor=DAN)
    assert report.to_version == target and not report.ready
    assert report.problems == (f"contract pin: {real.value}",)
    allowed = flow.reg.drill("m", allow_major=True, actor=DAN)
    assert allowed.ready and allowed.problems == ()
    assert any("major 2 -> 1 (1.0.0)" in c and "--allow-major" in c for c in allowed.checks)
    drills = flow.reg.annotations(f"models:/m/{target}").drills
    assert [d.ready for d in drills] == [False, True]


def test_the_cli_dry_run_and_drill_say_the_pin(
    cli: CLI,  # noqa: F811
    db_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blobs = tmp_path / "blobs"
    reg = Registry(db_uri, blob_uri=str(blobs), actor="tester")
    try:
        _across_the_pin(make_flow(reg, tmp_path))
    finally:
        reg.close()
    monkeypatch.setenv("MODELBOOK_USER", DAN)
    base = ("--uri", db_uri, "--blob-uri", blobs)
    run = cli(*base, "rollback", "m", "--reason-code", "kpi_drop", "--dry-run")
    assert run.code == 6 and "pinned to major 2" in run.err, run
    run = cli(*base, "rollback", "m", "--reason-code", "kpi_drop", "--dry-run",
              "--allow-major", "--reason", "v1 back")  # fmt: skip
    assert run.code == 0 and "contract pin: crosses the contract pin of @production" in run.out
    run = cli(*base, "rollback", "m", "--drill")
    assert run.code == 9 and "FAIL  contract pin: models:/m@production is pinned" in run.out
    run = cli(*base, "rollback", "m", "--drill", "--allow-major", "--json")
    assert run.code == 0 and run.json()["ready"], run


def test_a_deploy_across_the_pin_is_refused_for_its_first_reason(flow: Flow) -> None:
    """A deploy that would also cross the alias's pin is judged in the usual order: a
    version not approved, deprecated or failing the deployed gate is refused for
    that (the gate's evaluation recorded), not for the pin."""
    flow.deployed()
    flow.reg.pin_alias("m", "production", 1, actor=DAN)
    gate = '\n[[tiers.low.deployed]]\ncheck = "metric"\nrules = ["auc >= 0.99"]\n'
    flow.reg.set_policy(DEFAULT_POLICY_TEXT + gate, actor=ADMIN)
    failing = flow.approved(semver="2.0.0", metrics={"auc": 0.5})
    evaluations = len(flow.reg.evidence(failing.uri))
    with pytest.raises(GateFailed):
        flow.reg.deploy(failing.uri, reason="ship 2", actor=DAN)
    assert len(flow.reg.evidence(failing.uri)) == evaluations + 1
    staged = flow.add(semver="3.0.0")
    with pytest.raises(InvalidInput, match="only a version in 'approved'"):
        flow.reg.deploy(staged.uri, reason="ship 3", actor=DAN)
    flow.reg.deprecate(failing.uri, note="bad", actor=DAN)
    with pytest.raises(InvalidInput, match="deprecated"):
        flow.reg.deploy(failing.uri, reason="ship 2", actor=DAN)
    passing = flow.approved(semver="4.0.0", metrics={"auc": 0.995})
    with pytest.raises(InvalidInput, match="pin"):
        flow.reg.deploy(passing.uri, reason="ship 4", actor=DAN)
    moved = flow.reg.deploy(passing.uri, reason="ship 4", allow_major=True, actor=DAN)
    assert moved.pinned_major == 4
