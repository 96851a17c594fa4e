"""A drill that finds no rollback target at all, on SQLite and PostgreSQL: the worst
failure a drill can find, so it fails (not ready, exit 9) and is recorded, on the version
the alias serves, with what it skipped and why; a real rollback with no target still
refuses (NotFound, exit 3) and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from modelbook.errors import NotFound

from .test_cli_release import CLI, good, production, setup_people_and_two_deploys, ship
from .test_release_flow import Flow, assert_serving_consistent, events_of
from .test_rollback_guards import flow, new_file, run, ship_in_turn, snapshot

__all__ = ["flow", "new_file", "run"]

NONE_KNOWN_GOOD = "rollback target: none, no earlier holder of @production is a known-good version"


def test_a_drill_with_every_earlier_holder_deprecated_fails_and_is_recorded(flow: Flow) -> None:
    reg = flow.reg
    first, second, third = ship_in_turn(flow, 3)
    for v in (first, second):
        reg.deprecate(v.uri, note="bad", actor="dan")
    before = snapshot(reg)
    report = reg.drill("m", actor="dan")
    assert (report.from_version, report.to_version, report.ready) == (3, None, False)
    assert report.checks == ()
    assert report.problems == (
        NONE_KNOWN_GOOD,
        "skipped version 2: deprecated",
        "skipped version 1: deprecated",
    )
    assert report.why.startswith(
        "no known-good version to roll models:/m@production back to: earlier holders "
        "2 (deprecated), 1 (deprecated); name one with --to VERSION"
    )
    # Recorded on the version that serves, as a failed drill with its event.
    (drill,) = reg.annotations(third.uri).drills
    assert (drill.alias, drill.ready, drill.actor, drill.checks) == (
        "production",
        False,
        "dan",
        report.problems,
    )
    last = events_of(reg, "m")[-1]
    assert (last.action, last.version, last.actor) == ("version.drill", 3, "dan")
    assert last.after["ready"] is False
    assert tuple(last.after["checks"]) == report.problems
    # Nothing else changed: the alias, the stages and deprecations are as they were.
    after = snapshot(reg)
    assert (after[1], after[2]) == (before[1], before[2])
    assert_serving_consistent(reg)
    assert reg.verify_audit().ok
    # A real rollback with no target still refuses and writes nothing.
    for dry_run in (True, False):
        with pytest.raises(NotFound, match="no known-good version") as err:
            reg.rollback("m", reason_code="x", dry_run=dry_run, actor="dan")
        assert err.value.exit_code == 3
    assert snapshot(reg) == after


def test_a_drill_with_no_earlier_holder_and_with_an_archived_one_fails(flow: Flow) -> None:
    reg = flow.reg
    (first,) = ship_in_turn(flow, 1)
    report = reg.drill("m", actor="dan")
    assert (report.to_version, report.ready) == (None, False)
    assert report.problems == (
        "rollback target: none, @production has no earlier holder to roll back to",
    )
    second = flow.approved()
    reg.deploy(second.uri, reason="ship 2", actor="dan")
    reg.archive(first.uri, note="retired", actor="dan")
    report = reg.drill("m", actor="dan")
    assert (report.from_version, report.to_version) == (2, None)
    assert report.problems == (NONE_KNOWN_GOOD, "skipped version 1: archived")
    assert [d.ready for d in reg.annotations(second.uri).drills] == [False]


def test_a_drill_with_nothing_deployed_is_still_not_found(flow: Flow) -> None:
    reg = flow.reg
    with pytest.raises(NotFound, match="model 'm' not found"):
        reg.drill("m", actor="dan")
    flow.approved()
    before = snapshot(reg)
    with pytest.raises(NotFound, match="nothing to roll back"):
        reg.drill("m", actor="dan")
    assert snapshot(reg) == before


def test_the_command_line_drill_with_no_target_exits_9_and_says_why(
    run: CLI, new_file: Callable[[], Path], tmp_path: Path
) -> None:
    cli = run
    setup_people_and_two_deploys(cli, new_file, tmp_path)
    assert ship(cli, good(cli, new_file()), "ship 3").code == 0
    for n in (1, 2):
        assert cli("deprecate", f"ctr/{n}", "--note", "bad", user="dan").code == 0
    drill = cli("rollback", "ctr", "--drill", user="dan")
    assert drill.code == 9, drill
    lines = drill.out.splitlines()
    assert lines[0] == "rollback drill of models:/ctr@production: now version 3, no target"
    assert lines[1].startswith("why no target: no known-good version to roll models:/ctr@")
    assert lines[2:] == [
        "  FAIL  " + NONE_KNOWN_GOOD,
        "  FAIL  skipped version 2: deprecated",
        "  FAIL  skipped version 1: deprecated",
        "NOT READY (3 problem(s)); the drill is recorded on models:/ctr/3",
    ]
    as_json = cli("rollback", "ctr", "--drill", "--json", user="dan")
    assert as_json.code == 9, as_json
    report = json.loads(as_json.out)
    assert (report["from_version"], report["to_version"], report["ready"]) == (3, None, False)
    drills = cli("show", "ctr/3", "--json").json()["annotations"]["drills"]
    assert [(d["alias"], d["ready"]) for d in drills] == [("production", False)] * 2
    assert "rollback drill of @production: NOT ready" in cli("show", "ctr/3").out
    # The rollback itself keeps its exit 3 and moves nothing.
    refused = cli("rollback", "ctr", "--reason-code", "x", user="dan")
    assert refused.code == 3 and "no known-good version" in refused.err
    assert production(cli) == 3
