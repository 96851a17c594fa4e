"""Which known-good version a rollback chooses when some have damaged files, on SQLite and
PostgreSQL: without ``--to`` a damaged candidate is skipped for the next, newest first, and
the choice says which and why; ``verify`` rehashes the files; the command line prints the
skipped versions and a refusal's hint on its one error line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from modelbook.domain import Version
from modelbook.errors import GateFailed
from modelbook.services.rollback_target import Skipped

from .test_cli_release import CLI, good, production, setup_people_and_two_deploys, ship
from .test_release_flow import Flow, assert_serving_consistent, events_of
from .test_rollback_guards import blob_of, flow, new_file, run, ship_in_turn, snapshot

__all__ = ["flow", "new_file", "run"]


def damage(blob_dir: Path, v: Version, how: str) -> str:
    """Damage the one file of ``v``; the problem a rollback reports for it."""
    blob = blob_of(blob_dir, v)
    path, size = v.artifacts[0].path, v.artifacts[0].size
    if how == "removed":
        blob.unlink()
        return f"artifact {path}: missing"
    if how == "truncated":
        blob.write_bytes(b"x")
        return f"artifact {path}: size 1 bytes, expected {size}"
    # Same size, other bytes: only a rehash sees it.
    blob.write_bytes(bytes(size))
    return f"artifact {path}: content hashes to "


@pytest.mark.parametrize("how", ["removed", "truncated"])
def test_a_rollback_skips_a_damaged_known_good_version_for_the_next(
    flow: Flow, blob_dir: Path, how: str
) -> None:
    reg = flow.reg
    first, second, third = ship_in_turn(flow, 3)
    problem = damage(blob_dir, second, how)
    plan = reg.rollback("m", reason_code="kpi_drop", dry_run=True, actor="dan")
    assert (plan.to_version, plan.skipped) == (first.number, (Skipped(2, (problem,)),))
    done = reg.rollback("m", reason_code="kpi_drop", actor="dan")
    assert (done.from_version, done.to_version, done.forced) == (3, 1, ())
    assert done.skipped == (Skipped(2, (problem,)),)
    assert "skipped 2 (files not as registered)" in done.why
    last = events_of(reg, "m")[-1]
    assert last.action == "version.rollback"
    assert last.after["skipped"] == ({"version": 2, "problems": (problem,)},)
    assert last.after["why"] == done.why
    assert reg.get_version(third.uri).deprecated
    assert not reg.get_version(second.uri).deprecated
    assert_serving_consistent(reg)
    assert reg.verify_audit().ok


def test_a_healthy_candidate_with_damaged_files_gives_way_to_the_next(
    flow: Flow, blob_dir: Path
) -> None:
    reg = flow.reg
    first, second, third = ship_in_turn(flow, 3)
    # Version 1 ran healthy: preferred to the more recent version 2 while it can serve.
    reg.deploy(first.uri, reason="again", actor="dan")
    reg.mark_healthy(first.uri, signal="a week clean", actor="dan")
    reg.deploy(third.uri, reason="forward", actor="dan")
    problem = damage(blob_dir, first, "removed")
    plan = reg.rollback("m", reason_code="kpi_drop", dry_run=True, actor="dan")
    assert (plan.to_version, plan.skipped) == (second.number, (Skipped(1, (problem,)),))


def test_with_no_servable_candidate_the_rollback_names_each_and_changes_nothing(
    flow: Flow, blob_dir: Path
) -> None:
    reg = flow.reg
    first, second, _ = ship_in_turn(flow, 3)
    problems = {v.number: damage(blob_dir, v, "removed") for v in (first, second)}
    before = snapshot(reg)
    for dry_run in (True, False):
        with pytest.raises(GateFailed) as err:
            reg.rollback("m", reason_code="kpi_drop", dry_run=dry_run, actor="dan")
        assert err.value.exit_code == 9
        assert err.value.items == tuple(
            f"models:/m/{n} cannot serve: {problems[n]}" for n in (2, 1)
        )
        assert "roll back to models:/m/2 anyway with --force" in str(err.value.hint)
    assert snapshot(reg) == before
    forced = reg.rollback("m", reason_code="kpi_drop", force=True, actor="dan")
    assert (forced.to_version, forced.forced) == (2, (problems[2],))


def test_a_damaged_target_named_with_to_is_refused_not_replaced(flow: Flow, blob_dir: Path) -> None:
    reg = flow.reg
    _, second, _ = ship_in_turn(flow, 3)
    damage(blob_dir, second, "removed")
    before = snapshot(reg)
    with pytest.raises(GateFailed, match="models:/m/2 cannot serve"):
        reg.rollback("m", reason_code="kpi_drop", to=2, actor="dan")
    assert snapshot(reg) == before


def test_verify_rehashes_the_files_and_skips_or_refuses_a_mismatch(
    flow: Flow, blob_dir: Path
) -> None:
    reg = flow.reg
    first, second, _ = ship_in_turn(flow, 3)
    problem = damage(blob_dir, second, "rewritten")
    # The default size check cannot see a rewrite of the same size.
    assert reg.rollback("m", reason_code="x", dry_run=True, actor="dan").to_version == 2
    before = snapshot(reg)
    with pytest.raises(GateFailed) as err:
        reg.rollback("m", reason_code="x", to=2, verify=True, actor="dan")
    assert err.value.items[0].startswith(problem)
    assert snapshot(reg) == before
    plan = reg.rollback("m", reason_code="x", verify=True, actor="dan")
    assert (plan.to_version, plan.verified) == (first.number, True)
    (skipped,) = plan.skipped
    assert skipped.version == 2 and skipped.problems[0].startswith(problem)
    assert events_of(reg, "m")[-1].after["verified"] is True


# the command line -------------------------------------------------------------------------


def test_the_command_line_says_which_version_it_skipped_and_why(
    run: CLI, new_file: Callable[[], Path], tmp_path: Path
) -> None:
    cli = run
    setup_people_and_two_deploys(cli, new_file, tmp_path)
    assert ship(cli, good(cli, new_file()), "ship 3").code == 0
    shas = cli("show", "ctr/2", "--json").json()["artifacts"]
    for p in (tmp_path / "blobs").rglob(shas[0]["sha256"]):
        p.chmod(0o644)
        p.unlink()
    done = cli("rollback", "ctr", "--reason-code", "kpi_drop", "--verify", user="dan")
    assert done.code == 0, done
    assert "back from version 3 to version 1 (kpi_drop)" in done.out
    assert "skipped version 2: artifact model.bin: missing" in done.out.splitlines()
    assert "verified: every file of version 1 hashes as registered" in done.out
    assert production(cli) == 1


def test_a_refused_rollback_prints_its_hint_on_the_error_line_without_a_literal_newline(
    run: CLI, new_file: Callable[[], Path], tmp_path: Path
) -> None:
    cli = run
    setup_people_and_two_deploys(cli, new_file, tmp_path)
    for p in (tmp_path / "blobs").rglob("*"):
        if p.is_file():
            p.unlink()
    for args in (["--to", "1"], ["--dry-run"], []):
        refused = cli("rollback", "ctr", "--reason-code", "kpi_drop", *args, user="dan")
        assert refused.code == 9, refused
        (error,) = refused.err.splitlines()
        assert "\\n" not in error, error
        assert "cannot serve: artifact model.bin: missing; " in error or (
            "not as registered; nothing was moved or deprecated; artifact model.bin: missing; "
            in error
        )
        assert error.endswith("(recorded with the rollback)"), error
    assert production(cli) == 2
