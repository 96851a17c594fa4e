"""A rollback target that still serves another serving alias, on SQLite and PostgreSQL.

With two serving aliases (``production`` and ``prod-eu``), version 3 served production
before and still serves prod-eu. Rolling production back goes to version 3, the version
still taking traffic elsewhere, not past it to an older, colder one; version 3 stays
``deployed``, and it returns to ``approved`` only when no serving alias points at it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from modelbook.domain import Version

from .test_cli_release import CLI, POLICY, good, setup_people, write
from .test_release_flow import ADMIN, Flow, assert_serving_consistent, events_of, policy
from .test_rollback_guards import flow, new_file, run

__all__ = ["flow", "new_file", "run"]

SERVING = ("production", "prod-eu")


def three_then_two(flow: Flow) -> tuple[Version, Version, Version]:
    """Production held 1, then 3, and holds 2 now; prod-eu holds 3."""
    reg = flow.reg
    reg.set_policy(policy(serving=SERVING), actor=ADMIN)
    first, second, third = flow.approved(), flow.approved(), flow.approved()
    reg.deploy(first.uri, reason="ship 1", actor="dan")
    reg.deploy(third.uri, reason="ship 3", actor="dan")
    reg.deploy(third.uri, alias="prod-eu", reason="ship 3 in the EU", actor="dan")
    reg.deploy(second.uri, reason="ship 2", actor="dan")
    assert {a.name: a.version for a in reg.aliases("m")} == {"production": 2, "prod-eu": 3}
    assert flow.stage(third.uri) == "deployed" and flow.stage(first.uri) == "approved"
    return first, second, third


def test_a_rollback_goes_to_the_version_that_serves_another_serving_alias(flow: Flow) -> None:
    reg = flow.reg
    first, second, third = three_then_two(flow)
    plan = reg.rollback("m", reason_code="x", dry_run=True, actor="dan")
    assert (plan.from_version, plan.to_version, plan.skipped) == (2, 3, ())
    assert plan.why == (
        "version 3 is the most recent earlier holder of @production that is deployed "
        "(serving @prod-eu) and not deprecated (none was marked healthy)"
    )
    report = reg.drill("m", actor="dan")
    assert (report.to_version, report.ready, report.problems) == (3, True, ())
    assert "stage 'deployed' (serving @prod-eu), not deprecated" in report.checks
    done = reg.rollback("m", reason_code="x", actor="dan")
    assert (done.to_version, done.why) == (3, plan.why)
    assert {a.name: a.version for a in reg.aliases("m")} == {"production": 3, "prod-eu": 3}
    assert (flow.stage(third.uri), flow.stage(second.uri)) == ("deployed", "approved")
    assert reg.get_version(second.uri).deprecated
    last = events_of(reg, "m")[-1]
    assert (last.action, last.version, last.after["why"]) == ("version.rollback", 3, plan.why)
    # The target was deployed already: the rollback wrote no stage event for it.
    assert not any(
        e.action == "version.stage" and e.version == 3 and e.after["stage"] == "deployed"
        for e in events_of(reg, "m")[-6:]
    )
    assert_serving_consistent(reg, SERVING)
    assert reg.verify_audit().ok

    # Production moves on: version 3 still serves prod-eu, so it stays deployed ...
    fourth = flow.approved()
    reg.deploy(fourth.uri, reason="ship 4", actor="dan")
    assert flow.stage(third.uri) == "deployed"
    assert_serving_consistent(reg, SERVING)
    # ... until the last serving alias leaves it: then it is approved again.
    reg.deploy(first.uri, alias="prod-eu", reason="1 in the EU", actor="dan")
    assert flow.stage(third.uri) == "approved"
    assert_serving_consistent(reg, SERVING)
    assert reg.verify_audit().ok


def test_to_names_a_version_that_serves_another_serving_alias(flow: Flow) -> None:
    reg = flow.reg
    three_then_two(flow)
    done = reg.rollback("m", reason_code="x", to=3, actor="dan")
    assert (done.from_version, done.to_version) == (2, 3)
    assert_serving_consistent(reg, SERVING)
    assert reg.verify_audit().ok


def test_a_deprecated_version_serving_another_alias_is_still_skipped(flow: Flow) -> None:
    reg = flow.reg
    _, _, third = three_then_two(flow)
    reg.deprecate(third.uri, note="bad in the EU too", actor="dan")
    plan = reg.rollback("m", reason_code="x", dry_run=True, actor="dan")
    assert plan.to_version == 1
    assert "skipped 3 (deprecated)" in plan.why


def test_the_command_line_rolls_back_to_the_version_serving_another_region(
    run: CLI, new_file: Callable[[], Path], tmp_path: Path
) -> None:
    cli = run
    made = [good(cli, new_file()) for _ in range(3)]
    setup_people(cli, tmp_path)
    two = POLICY.replace('["production"]', '["production", "prod-eu"]', 1)
    assert cli("policy", "set", write(tmp_path / "two.toml", two)).code == 0
    for n in made:
        assert cli("promote", f"ctr/{n}", "--to", "candidate").code == 0
        assert cli("approve", f"ctr/{n}", user="rita").code == 0
    for n, alias in ((1, "production"), (3, "production"), (3, "prod-eu"), (2, "production")):
        moved = cli("deploy", f"ctr/{n}", "--alias", alias, "--reason", "r", user="dan")
        assert moved.code == 0, moved
    done = cli("rollback", "ctr", "--reason-code", "x", user="dan")
    assert done.code == 0, done
    assert "back from version 2 to version 3 (x)" in done.out
    assert "deployed (serving @prod-eu) and not deprecated" in done.out
    assert "skipped" not in done.out
