"""Roles, the policy in force, and garbage collection of blobs: who may change the
registry's rules, and every change an audit event. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from modelbook import InvalidInput, NotFound, Registry
from modelbook.blobs_temp import TEMP_DIR, TEMP_MARKER, temp_name
from modelbook.domain import thaw
from modelbook.errors import GateFailed, PermissionDenied
from modelbook.services.gc import GRACE_SECONDS

from .test_release_flow import (
    ADMIN,
    Flow,
    assert_serving_consistent,
    events_of,
    gate,
    make_flow,
    policy,
    table_counts,
)


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    return make_flow(registry, tmp_path)


def registry_events(reg: Registry) -> list[tuple[str, str, object, object, str | None]]:
    return [
        (e.action, e.actor, e.before, e.after, e.reason)
        for e in events_of(reg)
        if e.chain == "registry"
    ]


def held(reg: Registry) -> set[tuple[str, str]]:
    return {(g.actor, g.role) for g in reg.roles()}


# roles -----------------------------------------------------------------------------


def test_grant_revoke_and_list(flow: Flow) -> None:
    reg = flow.reg
    assert held(reg) == {
        (ADMIN, "admin"),
        ("rita", "reviewer"),
        ("ron", "reviewer"),
        ("dan", "deployer"),
        ("dora", "deployer"),
    }
    count = len(events_of(reg))
    reg.grant_role("rita", "reviewer", actor=ADMIN)  # already held: nothing new
    assert len(events_of(reg)) == count
    reg.grant_role("rita", "deployer", actor=ADMIN)
    assert ("rita", "deployer") in held(reg)
    reg.revoke_role("rita", "deployer", actor=ADMIN)
    assert ("rita", "deployer") not in held(reg)
    assert registry_events(reg)[-2:] == [
        ("role.grant", ADMIN, None, {"actor": "rita", "role": "deployer"}, None),
        ("role.revoke", ADMIN, {"actor": "rita", "role": "deployer"}, None, None),
    ]
    with pytest.raises(NotFound, match="'rita' does not hold the role 'deployer'"):
        reg.revoke_role("rita", "deployer", actor=ADMIN)
    with pytest.raises(InvalidInput, match="unknown role 'owner': choose one of viewer, "):
        reg.grant_role("rita", "owner", actor=ADMIN)
    with pytest.raises(InvalidInput, match="name to grant a role to"):
        reg.grant_role("bad\x1bname", "viewer", actor=ADMIN)
    for who in ("rita", "dan"):
        with pytest.raises(PermissionDenied, match="admin"):
            reg.grant_role("eve", "deployer", actor=who)
        with pytest.raises(PermissionDenied, match="admin"):
            reg.revoke_role("ron", "reviewer", actor=who)
    assert ("eve", "deployer") not in held(reg) and ("ron", "reviewer") in held(reg)


def test_a_revoked_role_stops_working_at_once(flow: Flow) -> None:
    reg = flow.reg
    v = flow.approved()
    reg.revoke_role("dan", "deployer", actor=ADMIN)
    with pytest.raises(PermissionDenied, match="modelbook role grant dan deployer"):
        reg.deploy(v.uri, reason="ship", actor="dan")
    reg.deploy(v.uri, reason="ship", actor="dora")


def test_an_approval_counts_with_the_role_held_when_it_was_given(flow: Flow) -> None:
    """Revoking a reviewer later does not withdraw the approvals they gave."""
    reg = flow.reg
    v = flow.add()
    reg.approve(v.uri, actor="rita")  # recorded while staging
    reg.revoke_role("rita", "reviewer", actor=ADMIN)
    with pytest.raises(PermissionDenied):
        reg.approve(flow.add().uri, actor="rita")
    reg.promote(v.uri, to="candidate")
    assert reg.promote(v.uri, to="approved").stages == ("approved",)


def test_the_last_admin_cannot_be_revoked(flow: Flow) -> None:
    reg = flow.reg
    with pytest.raises(InvalidInput, match="'tester' is the last admin"):
        reg.revoke_role(ADMIN, "admin", actor=ADMIN)
    assert (ADMIN, "admin") in held(reg)
    reg.grant_role("ada", "admin", actor=ADMIN)
    reg.revoke_role(ADMIN, "admin", actor="ada")
    with pytest.raises(InvalidInput, match="'ada' is the last admin"):
        reg.revoke_role("ada", "admin", actor="ada")
    with pytest.raises(PermissionDenied):
        reg.grant_role("x", "viewer", actor=ADMIN)
    reg.grant_role(ADMIN, "admin", actor="ada")


# the policy -------------------------------------------------------------------------


def test_only_an_admin_sets_the_policy_and_each_change_is_an_event(flow: Flow) -> None:
    reg = flow.reg
    assert reg.policy().is_default
    text = policy(gate("low", "candidate", "metric", rules=["auc >= 0.9"]))
    for who in ("rita", "dan", "alice"):
        with pytest.raises(PermissionDenied) as err:
            reg.set_policy(text, actor=who)
        assert f"modelbook role grant {who} admin" in str(err.value)
    assert reg.policy().is_default
    first = reg.set_policy(text, source="ranking.toml", actor=ADMIN)
    assert (first.set_by, first.source, first.format, first.text) == (
        ADMIN,
        "ranking.toml",
        "toml",
        text,
    )
    assert not reg.policy().is_default and reg.policy().sha256 == first.sha256
    second = reg.set_policy(policy(), actor=ADMIN)
    changes = [e for e in registry_events(reg) if e[0] == "policy.set"]
    assert [(before, after["sha256"]) for _, _, before, after, _ in changes] == [  # type: ignore[index]
        ({"sha256": None}, first.sha256),
        ({"sha256": first.sha256}, second.sha256),
    ]
    # The policy in force decides the next gate.
    v = flow.add(metrics={"auc": 0.5})
    assert flow.reg.promote(v.uri, to="candidate").stages == ("candidate",)


def test_a_bad_policy_names_its_lines_and_changes_nothing(flow: Flow) -> None:
    reg = flow.reg
    before = table_counts(reg)
    bad = policy(gate("low", "candidate", "metrc", rules=["auc >= 0.9"]))
    with pytest.raises(InvalidInput) as err:
        reg.set_policy(bad, source="p.toml", actor=ADMIN)
    assert "p.toml line" in str(err.value) and "did you mean 'metric'" in str(err.value)
    assert table_counts(reg) == before
    assert reg.policy().is_default


def test_the_policy_may_be_yaml(flow: Flow) -> None:
    reg = flow.reg
    text = (
        "serving_aliases: [production]\n"
        "tiers:\n"
        "  low:\n"
        "    candidate:\n"
        "      - check: metric\n"
        '        rules: ["auc >= 0.9"]\n'
        "  medium: {}\n"
        "  high: {}\n"
    )
    assert reg.set_policy(text, source="p.yaml", actor=ADMIN).format == "yaml"
    v = flow.add(metrics={"auc": 0.5})
    with pytest.raises(GateFailed, match=r"auc = 0\.5"):
        reg.promote(v.uri, to="candidate")


def test_a_new_policy_keeps_the_serving_rule(flow: Flow) -> None:
    """A policy that drops a serving alias serving a version is refused, naming the
    version, and nothing changes: every deployed version stays served."""
    reg = flow.reg
    flow.deployed()
    before = reg.policy().sha256
    with pytest.raises(InvalidInput, match="is deployed, but no alias"):
        reg.set_policy(policy(serving=["prod-eu"]), actor=ADMIN)
    assert reg.policy().sha256 == before
    assert_serving_consistent(reg, ("production",))


def test_a_new_policy_that_would_serve_an_undeployed_version_is_refused(flow: Flow) -> None:
    reg = flow.reg
    v = flow.add()
    reg.set_alias(v.model, "canary", v.number, reason="shadow traffic")
    with pytest.raises(InvalidInput, match="@canary would serve version"):
        reg.set_policy(policy(serving=["production", "canary"]), actor=ADMIN)


def test_a_new_policy_strands_no_version(flow: Flow) -> None:
    """A policy without a stage some version is in is refused, naming the stage."""
    reg = flow.reg
    v = flow.at_stage("candidate")
    with pytest.raises(InvalidInput, match="stage 'candidate', which the policy drops"):
        reg.set_policy(policy(stages='order = ["dev", "deployed"]'), actor=ADMIN)
    assert reg.archive(v.uri, note="off the path").stage == "archived"


# garbage collection ---------------------------------------------------------------------


def blob_path(blob_dir: Path, sha: str) -> Path:
    return next(p for p in blob_dir.rglob(sha) if p.is_file())


def age(path: Path, seconds: float) -> None:
    """Make a blob look written ``seconds`` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_gc_dry_run_lists_only_old_unreferenced_blobs(flow: Flow, blob_dir: Path) -> None:
    reg = flow.reg
    v = flow.add()
    kept = flow.folder / "orphan-old.bin"
    kept.write_bytes(b"left by a registration that never committed")
    orphan = reg.store_file(kept, "orphan-old.bin")
    recent_file = flow.folder / "orphan-new.bin"
    recent_file.write_bytes(b"stored a minute ago")
    recent = reg.store_file(recent_file, "orphan-new.bin")
    for sha in (orphan.sha256, v.artifacts[0].sha256):
        age(blob_path(blob_dir, sha), GRACE_SECONDS + 3600)
    before = table_counts(reg)
    report = reg.gc(actor="alice")  # a dry run needs no role
    assert not report.applied
    assert report.blobs == (orphan.sha256,)
    assert report.bytes == orphan.size
    assert report.kept_recent == 1
    assert table_counts(reg) == before, "a dry run writes nothing"
    for sha in (orphan.sha256, recent.sha256, v.artifacts[0].sha256):
        assert blob_path(blob_dir, sha).exists()


def test_gc_apply_removes_them_and_records_it(flow: Flow, blob_dir: Path) -> None:
    reg = flow.reg
    v = flow.add()
    path = flow.folder / "orphan.bin"
    path.write_bytes(b"orphan" * 100)
    orphan = reg.store_file(path, "orphan.bin")
    recent_path = flow.folder / "recent.bin"
    recent_path.write_bytes(b"recent")
    recent = reg.store_file(recent_path, "recent.bin")
    for sha in (orphan.sha256, v.artifacts[0].sha256):
        age(blob_path(blob_dir, sha), GRACE_SECONDS * 3)
    with pytest.raises(PermissionDenied, match="modelbook role grant dan admin"):
        reg.gc(apply=True, actor="dan")
    assert blob_path(blob_dir, orphan.sha256).exists()
    report = reg.gc(apply=True, actor=ADMIN)
    assert report.applied and report.blobs == (orphan.sha256,) and report.bytes == 600
    assert not list(blob_dir.rglob(orphan.sha256))
    assert blob_path(blob_dir, recent.sha256).exists()
    # A referenced blob is never removed, however old.
    assert reg.read_artifact(v.uri, v.artifacts[0].path)
    assert reg.verify().ok
    last = events_of(reg)[-1]
    assert (last.action, last.actor, last.chain) == ("blobs.gc", ADMIN, "registry")
    assert thaw(last.after) == {
        "removed": [orphan.sha256],
        "bytes": 600,
        "temporaries": 0,
        "temporary_bytes": 0,
    }
    assert reg.gc(actor=ADMIN).blobs == ()
    assert reg.verify_audit().ok


def test_gc_spares_a_blob_stored_again_by_a_registration_in_flight(
    flow: Flow, blob_dir: Path
) -> None:
    """An orphan from a failed registration is old; a new registration stores the same
    file (its time is refreshed) and commits after gc ran: the version is whole."""
    reg = flow.reg
    path = flow.folder / "weights.bin"
    path.write_bytes(os.urandom(2048))
    first = reg.store_file(path, "weights.bin")
    age(blob_path(blob_dir, first.sha256), GRACE_SECONDS * 2)
    assert reg.gc(actor=ADMIN).blobs == (first.sha256,)
    again = reg.store_file(path, "weights.bin")  # phase one of the new registration
    assert again.sha256 == first.sha256
    assert reg.gc(apply=True, actor=ADMIN).blobs == ()
    v = reg.commit_version("m", [again], owners="team", actor="alice", capture_environment=False)
    assert reg.read_artifact(v.uri, "weights.bin") == path.read_bytes()
    assert reg.verify().ok


def test_gc_lists_and_removes_temporaries_a_killed_registration_left(
    flow: Flow, blob_dir: Path
) -> None:
    """A registration killed mid-write leaves its temporary file: gc counts it and its bytes,
    a dry run only lists it, --apply removes it; a temporary written within the grace (a
    registration still in progress) is neither listed nor removed."""
    reg = flow.reg
    v = flow.add()  # the store's first write: it made and marked its temporary folder
    tmp = blob_dir / TEMP_DIR
    assert (tmp / TEMP_MARKER).is_file()
    abandoned = tmp / temp_name()
    abandoned.write_bytes(os.urandom(3000))
    age(abandoned, GRACE_SECONDS + 60)
    in_progress = tmp / temp_name()
    in_progress.write_bytes(b"a registration still writing")
    age(in_progress, GRACE_SECONDS - 600)
    foreign = tmp / "notes.part"  # not a name the store writes: never its business
    foreign.write_bytes(b"the user's own")
    age(foreign, GRACE_SECONDS * 3)
    before = table_counts(reg)

    report = reg.gc(actor="alice")
    assert not report.applied and report.blobs == ()
    assert report.temporaries == (str(abandoned),)
    assert report.temporary_bytes == 3000
    assert abandoned.exists() and in_progress.exists()
    assert table_counts(reg) == before, "a dry run writes nothing"

    with pytest.raises(PermissionDenied):
        reg.gc(apply=True, actor="dan")
    assert abandoned.exists()
    report = reg.gc(apply=True, actor=ADMIN)
    assert report.applied and report.temporaries == (str(abandoned),)
    assert report.temporary_bytes == 3000
    assert not abandoned.exists()
    assert in_progress.read_bytes() == b"a registration still writing"
    assert foreign.exists() and (tmp / TEMP_MARKER).is_file()
    last = events_of(reg)[-1]
    assert last.action == "blobs.gc"
    assert thaw(last.after) == {
        "removed": [],
        "bytes": 0,
        "temporaries": 1,
        "temporary_bytes": 3000,
    }
    again = reg.gc(actor=ADMIN)
    assert (again.temporaries, again.temporary_bytes) == ((), 0)
    assert reg.read_artifact(v.uri, v.artifacts[0].path)
    assert reg.verify().ok and reg.verify_audit().ok


def test_gc_never_removes_a_temporary_being_written(flow: Flow, blob_dir: Path) -> None:
    """A temporary written to again after it was listed (its writer is alive) is kept."""
    reg = flow.reg
    flow.add()
    stalled = blob_dir / TEMP_DIR / temp_name()
    stalled.write_bytes(b"first chunk")
    age(stalled, GRACE_SECONDS + 60)
    assert reg.gc(actor=ADMIN).temporaries == (str(stalled),)
    with stalled.open("ab") as out:
        out.write(b", then the next")
    assert reg.gc(apply=True, actor=ADMIN).temporaries == ()
    assert stalled.read_bytes() == b"first chunk, then the next"


def test_only_an_admin_changes_a_risk_tier_and_it_is_an_event(flow: Flow) -> None:
    reg = flow.reg
    v = flow.add()
    with pytest.raises(PermissionDenied):
        reg.set_risk_tier(v.model, "low", reason="not mine to change", actor="rita")
    assert reg.set_risk_tier(v.model, "high", reason="credit decisions", actor=ADMIN) == "low"
    assert reg.get_model(v.model).risk_tier == "high"
    event = reg.events(model=v.model, action="model.risk_tier").items[0]
    assert (event.before, event.after, event.reason) == (
        {"risk_tier": "low"},
        {"risk_tier": "high"},
        "credit decisions",
    )
    with pytest.raises(InvalidInput, match="cannot make it"):
        flow.add(v.model, tier="low")
