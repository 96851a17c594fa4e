"""Deprecating, undeprecating and archiving a version need a role: a deployer's for a
version that serves or that a rollback may return to, a contributor's (every local user
in embedded mode) for any other; a deprecation is undone with an audited reason. On
SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from modelbook import Registry
from modelbook.errors import Conflict, InvalidInput, PermissionDenied

from .test_release_flow import Flow, events_of, make_flow


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    return make_flow(registry, tmp_path)


@pytest.mark.parametrize("stage", ["deployed", "approved"])
def test_a_version_that_serves_or_is_a_rollback_target_is_a_deployers_to_retire(
    flow: Flow, stage: str
) -> None:
    reg = flow.reg
    v = flow.at_stage(stage)
    for who in ("bob", "rita"):
        with pytest.raises(PermissionDenied, match="needs the role 'deployer'"):
            reg.deprecate(v.uri, note="oops", actor=who)
        with pytest.raises(PermissionDenied, match="needs the role 'deployer'"):
            reg.archive(v.uri, note="oops", actor=who)
    assert not reg.get_version(v.uri).deprecated
    assert reg.deprecate(v.uri, note="bad calibration", actor="dan").deprecated


@pytest.mark.parametrize("stage", ["staging", "candidate"])
def test_a_version_before_release_is_anyones_to_retire(flow: Flow, stage: str) -> None:
    v = flow.at_stage(stage)
    assert flow.reg.deprecate(v.uri, note="superseded", actor="bob").deprecated


def test_undeprecate_makes_a_version_deployable_again_with_its_event(flow: Flow) -> None:
    reg = flow.reg
    v = flow.approved()
    reg.deprecate(v.uri, note="suspected leak", actor="dan")
    with pytest.raises(InvalidInput, match="deprecated and cannot be deployed"):
        reg.deploy(v.uri, reason="ship", actor="dan")
    with pytest.raises(PermissionDenied, match="needs the role 'deployer'"):
        reg.undeprecate(v.uri, reason="leak ruled out", actor="bob")
    with pytest.raises(InvalidInput, match="reason"):
        reg.undeprecate(v.uri, reason=" ", actor="dan")
    back = reg.undeprecate(v.uri, reason="leak ruled out", actor="dora")
    assert not back.deprecated
    last = events_of(reg, "m")[-1]
    assert (last.action, last.actor, last.before, last.after, last.reason) == (
        "version.undeprecate", "dora", {"deprecated": True}, {"deprecated": False},
        "leak ruled out",
    )  # fmt: skip
    with pytest.raises(Conflict, match="is not deprecated"):
        reg.undeprecate(v.uri, reason="again", actor="dan")
    reg.deploy(v.uri, reason="ship", actor="dan")
    assert reg.verify_audit().ok


def test_a_version_a_rollback_deprecated_can_be_brought_back(flow: Flow) -> None:
    reg = flow.reg
    first = flow.deployed()
    second = flow.deployed()
    reg.rollback("m", reason_code="kpi_drop", actor="dan")
    assert reg.get_version(second.uri).deprecated
    with pytest.raises(PermissionDenied):
        reg.undeprecate(second.uri, reason="false alarm", actor="bob")
    reg.undeprecate(second.uri, reason="false alarm: the dashboard was stale", actor="dan")
    plan = reg.rollback(
        "m", reason_code="kpi_drop", to=str(second.number), dry_run=True, actor="dan"
    )
    assert plan.to_version == second.number
    reg.deploy(second.uri, reason="ship again", actor="dan")
    assert reg.get_version(first.uri).stage.value == "approved"
    assert reg.verify_audit().ok


# archived: one rule for entering and leaving it, whatever the command ----------------------


@pytest.mark.parametrize("stage", ["staging", "candidate", "approved"])
def test_promote_to_archived_is_refused_with_a_pointer_to_archive(flow: Flow, stage: str) -> None:
    """Promote would enter archived without archive's role and note: it points at archive."""
    reg = flow.reg
    v = flow.at_stage(stage)
    before = len(events_of(reg, "m"))
    for who in ("nobody", "dan", "tester"):
        with pytest.raises(InvalidInput, match=r"use `modelbook archive models:/m/\d+ --note"):
            reg.promote(v.uri, to="archived", actor=who)
    assert reg.get_version(v.uri).stage.value == stage
    assert len(events_of(reg, "m")) == before


def test_restoring_an_archived_rollback_target_is_a_deployers_with_a_reason(flow: Flow) -> None:
    """Restoring undoes the archive: the role archiving needed, and a reason."""
    reg = flow.reg
    v = flow.approved()
    with pytest.raises(PermissionDenied, match="needs the role 'deployer'"):
        reg.archive(v.uri, note="pulled", actor="nobody")
    reg.archive(v.uri, note="pulled", actor="dan")
    for who in ("nobody", "bob", "rita"):
        with pytest.raises(PermissionDenied, match="needs the role 'deployer'"):
            reg.promote(v.uri, to="staging", comment="back", actor=who)
    with pytest.raises(InvalidInput, match=r"needs a reason \(--comment TEXT\)"):
        reg.promote(v.uri, to="staging", actor="dan")
    assert reg.get_version(v.uri).stage.value == "archived"
    reg.promote(v.uri, to="staging", comment="the pull was a mistake", actor="dan")
    assert reg.get_version(v.uri).stage.value == "staging"
    last = events_of(reg, "m")[-1]
    assert (last.action, last.actor, last.before, last.after, last.reason) == (
        "version.stage", "dan", {"stage": "archived"}, {"stage": "staging"},
        "the pull was a mistake",
    )  # fmt: skip
    assert reg.verify_audit().ok


def test_a_version_archived_before_release_is_anyones_to_restore(flow: Flow) -> None:
    reg = flow.reg
    v = flow.at_stage("candidate")
    reg.archive(v.uri, note="superseded", actor="bob")
    with pytest.raises(InvalidInput, match="needs a reason"):
        reg.promote(v.uri, to="staging", comment=" ", actor="bob")
    reg.promote(v.uri, to="staging", comment="needed after all", actor="bob")
    assert reg.get_version(v.uri).stage.value == "staging"


def test_an_archived_version_with_no_archive_event_is_a_deployers_to_restore(flow: Flow) -> None:
    """Where no event says which stage it left (a hand-edited row), the stricter role."""
    reg = flow.reg
    v = flow.add()
    with reg.db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE versions SET stage = 'archived' WHERE number = :n "
                "AND model_id = (SELECT id FROM models WHERE name = 'm')"
            ),
            {"n": v.number},
        )
    with pytest.raises(PermissionDenied, match="needs the role 'deployer'"):
        reg.promote(v.uri, to="staging", comment="back", actor="bob")
    reg.promote(v.uri, to="staging", comment="back", actor="dan")
