"""What a rollback checks before it moves a serving alias, through the Registry API on
SQLite and PostgreSQL: the target's files (present, with their recorded sizes; ``force``
goes past them and is recorded), and who may move or remove a serving alias (the
``deployed`` gate's ``actor`` checks, on every path).

The people are those of ``tests/test_release_flow.py``; ``eve`` is one more deployer whom
the policy's ``actor`` check does not name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelbook import Registry
from modelbook.domain import Version
from modelbook.errors import GateFailed

from .test_cli_release import CLI, production, runner, setup_people_and_two_deploys
from .test_release_flow import (
    ADMIN,
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


def ship_in_turn(flow: Flow, count: int) -> list[Version]:
    """``count`` versions deployed one after the other by dan; the last one serves."""
    made = []
    for _ in range(count):
        v = flow.approved()
        flow.reg.deploy(v.uri, reason=f"ship {v.number}", actor="dan")
        made.append(v)
    return made


def snapshot(reg: Registry) -> tuple[Any, ...]:
    """Everything a rollback could change: events, stages and deprecations, aliases, rows."""
    return (
        [(e.id, e.hash) for e in events_of(reg)],
        stages_of(reg),
        alias_rows(reg),
        table_counts(reg),
    )


def blob_of(blob_dir: Path, v: Version) -> Path:
    sha = v.artifacts[0].sha256
    found = next(p for p in blob_dir.rglob(sha) if p.is_file())
    found.chmod(0o644)
    return found


# the target's files ------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["overwritten", "removed"])
def test_a_rollback_to_a_target_whose_files_are_damaged_is_refused_and_changes_nothing(
    flow: Flow, blob_dir: Path, damage: str
) -> None:
    reg = flow.reg
    first, second = ship_in_turn(flow, 2)
    blob = blob_of(blob_dir, first)
    if damage == "overwritten":
        blob.write_bytes(b"not the model")
    else:
        blob.unlink()
    assert not reg.drill("m", actor="dan").ready
    before = snapshot(reg)
    for dry_run in (True, False):
        with pytest.raises(GateFailed) as err:
            reg.rollback("m", reason_code="kpi_drop", dry_run=dry_run, actor="dan")
        message = str(err.value)
        assert err.value.exit_code == 9
        assert f"{first.uri} cannot serve" in message
        assert f"artifact {first.artifacts[0].path}: " in message
        size = first.artifacts[0].size
        assert ("missing" if damage == "removed" else f"expected {size}") in message
        assert "--force" in message and "--to VERSION" in message
    with pytest.raises(GateFailed):
        reg.rollback("m", reason_code="kpi_drop", to=first.number, actor="dan")
    # Nothing moved and, above all, the serving version is not deprecated: it may still be
    # deployed again or rolled back to.
    assert snapshot(reg) == before
    current = reg.get_version(second.uri)
    assert (current.stage.value, current.deprecated) == ("deployed", False)


def test_a_forced_rollback_goes_past_the_files_and_records_why(flow: Flow, blob_dir: Path) -> None:
    reg = flow.reg
    first, second = ship_in_turn(flow, 2)
    blob_of(blob_dir, first).unlink()
    problem = f"artifact {first.artifacts[0].path}: missing"
    plan = reg.rollback("m", reason_code="kpi_drop", dry_run=True, force=True, actor="dan")
    assert (plan.to_version, plan.forced) == (first.number, (problem,))
    done = reg.rollback("m", reason_code="kpi_drop", force=True, actor="dan")
    assert (done.to_version, done.forced, done.dry_run) == (first.number, (problem,), False)
    last = events_of(reg, "m")[-1]
    assert (last.action, last.reason) == ("version.rollback", "kpi_drop")
    assert list(last.after["forced"]) == [problem]
    move = reg.alias_history("m", "production", limit=1)[0]
    assert "forced past: " + problem in move.reason
    assert reg.get_version(second.uri).deprecated
    assert_serving_consistent(reg)
    assert reg.verify_audit().ok


def test_a_rollback_to_a_sound_target_records_nothing_forced(flow: Flow) -> None:
    reg = flow.reg
    ship_in_turn(flow, 2)
    plan = reg.rollback("m", reason_code="kpi_drop", force=True, actor="dan")
    assert plan.forced == ()
    assert "forced" not in events_of(reg, "m")[-1].after


# who may move a serving alias -------------------------------------------------------------


# The metric rule fails every version here: a rollback does not re-run the evidence checks
# its target passed when it was deployed, so that it stays one command in an incident.
ONLY_DAN = policy(
    gate("low", "deployed", "actor", principals=["dan"]),
    gate("low", "deployed", "metric", rules=["auc@test >= 0.9"]),
)


@pytest.fixture
def guarded(flow: Flow) -> Flow:
    """Versions 1, 2 and 3 shipped by dan in turn under a policy that lets only dan deploy;
    eve is a deployer too."""
    ship_in_turn(flow, 3)
    flow.reg.set_policy(ONLY_DAN, actor=ADMIN)
    flow.reg.grant_role("eve", "deployer", actor=ADMIN)
    return flow


@pytest.mark.parametrize("to", [None, 1])
@pytest.mark.parametrize("dry_run", [True, False])
def test_a_rollback_obeys_the_deployed_gates_actor_check(
    guarded: Flow, to: int | None, dry_run: bool
) -> None:
    reg = guarded.reg
    before = snapshot(reg)
    with pytest.raises(GateFailed) as err:
        reg.rollback("m", reason_code="x", to=to, dry_run=dry_run, actor="eve")
    assert "eve may not roll back to models:/m/" in str(err.value)
    assert "only dan may" in str(err.value)
    assert snapshot(reg) == before
    assert not reg.get_version("models:/m/3").deprecated
    target = 2 if to is None else 1
    with pytest.raises(GateFailed, match="auc@test"):
        reg.deploy(f"models:/m/{target}", reason="again", actor="dan")
    plan = reg.rollback("m", reason_code="x", to=to, dry_run=dry_run, actor="dan")
    assert plan.to_version == target


def test_removing_a_serving_alias_obeys_the_deployed_gates_actor_check(guarded: Flow) -> None:
    reg = guarded.reg
    before = snapshot(reg)
    with pytest.raises(GateFailed, match="eve may not remove models:/m@production"):
        reg.delete_alias("m", "production", reason="pull", actor="eve")
    assert snapshot(reg) == before
    # Moving it by set or swap was already refused by the same check.
    with pytest.raises(GateFailed):
        reg.set_alias("m", "production", 2, reason="sneak", actor="eve")
    reg.delete_alias("m", "production", reason="pull", actor="dan")
    assert guarded.stage("models:/m/3") == "approved"
    assert_serving_consistent(reg)


def test_a_registrant_denied_by_the_deployed_gate_cannot_roll_back_to_their_version(
    flow: Flow,
) -> None:
    reg = flow.reg
    ship_in_turn(flow, 2)
    reg.set_policy(
        policy(gate("low", "deployed", "actor", roles=["deployer"], deny_registrant=True)),
        actor=ADMIN,
    )
    reg.grant_role("alice", "deployer", actor=ADMIN)  # alice registered every version
    with pytest.raises(GateFailed, match="alice registered version 1"):
        reg.rollback("m", reason_code="x", actor="alice")
    assert reg.rollback("m", reason_code="x", actor="dan").to_version == 1


# the command line -------------------------------------------------------------------------


@pytest.fixture
def run(
    db_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> CLI:
    """One command in-process against the test's database, as ``user``."""
    monkeypatch.setenv("MODELBOOK_URI", db_uri)
    monkeypatch.setenv("MODELBOOK_BLOB_URI", str(tmp_path / "blobs"))
    monkeypatch.setenv("MODELBOOK_HOME", str(tmp_path / "home"))
    return runner(monkeypatch, capsys)


@pytest.fixture
def new_file(tmp_path: Path) -> Callable[[], Path]:
    made = [0]

    def make() -> Path:
        made[0] += 1
        path = tmp_path / "src" / f"v{made[0]}" / "model.bin"
        path.parent.mkdir(parents=True)
        path.write_bytes(b"model %d" % made[0])
        return path

    return make


def test_the_command_line_refuses_a_damaged_target_with_9_until_forced(
    run: CLI, new_file: Callable[[], Path], tmp_path: Path
) -> None:
    cli = run
    setup_people_and_two_deploys(cli, new_file, tmp_path)
    for p in (tmp_path / "blobs").rglob("*"):
        if p.is_file():
            p.unlink()
    for extra in (["--dry-run"], []):
        refused = cli("rollback", "ctr", "--reason-code", "kpi_drop", *extra, user="dan")
        assert refused.code == 9, refused
        assert "models:/ctr/1 cannot serve" in refused.err and "--force" in refused.err
    assert cli("deploy", "ctr/2", "--reason", "still here", user="dan").code == 0
    forced = cli("rollback", "ctr", "--reason-code", "kpi_drop", "--force", user="dan")
    assert forced.code == 0, forced
    assert "forced past: artifact model.bin: missing" in forced.out
    data = cli("rollback", "ctr", "--reason-code", "x", "--to", "2", "--dry-run", "--json",
               user="dan")  # fmt: skip
    assert data.code == 6  # version 2 was deprecated by the forced rollback
    assert cli("rollback", "ctr", "--drill", "--force", user="dan").code == 2


def test_the_command_line_refuses_removing_production_to_a_deployer_the_policy_excludes(
    run: CLI, new_file: Callable[[], Path], tmp_path: Path
) -> None:
    cli = run
    setup_people_and_two_deploys(cli, new_file, tmp_path)
    only_dan = tmp_path / "only-dan.toml"
    only_dan.write_text(policy(gate("low", "deployed", "actor", principals=["dan"])))
    assert cli("policy", "set", only_dan).code == 0
    assert cli("role", "grant", "eve", "deployer").code == 0
    for args in (
        ("alias", "rm", "ctr", "production", "--reason", "pull"),
        ("rollback", "ctr", "--reason-code", "x"),
        ("rollback", "ctr", "--reason-code", "x", "--to", "1"),
    ):
        refused = cli(*args, user="eve")
        assert refused.code == 9, (args, refused)
        assert "eve may not" in refused.err and "only dan may" in refused.err
    assert production(cli) == 2
    assert cli("alias", "rm", "ctr", "production", "--reason", "pull", user="dan").code == 0
