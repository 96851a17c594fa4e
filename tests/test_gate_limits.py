"""What a policy's own code may do to a gate, on SQLite and on PostgreSQL: an ``expr``
check has a budget of operations, a custom check that exits or reports too much is a
failed check, and each error says what to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from modelbook import InvalidInput, Registry
from modelbook.errors import GateFailed
from modelbook.limits import MAX_CHECK_EVIDENCE, MAX_CHECK_MESSAGE, MAX_EXPR_COST

from .test_cli_release import CLI, cli, files, good  # noqa: F401 - fixtures
from .test_release_flow import (
    ADMIN,
    OPEN,
    REGISTRANT,
    Flow,
    gate,
    grant_people,
    make_flow,
    policy,
    promote_refused,
)


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    return make_flow(registry, tmp_path)


TEN = "[" + ", ".join(str(i) for i in range(1, 11)) + "]"


def nested_maps(depth: int, over: str = TEN) -> str:
    """``size(L.map(a0, L.map(a1, ... L))) > 0``: ``depth`` comprehensions, each over ``over``."""
    body = TEN
    for level in range(depth):
        body = f"{over}.map(a{level}, {body})"
    return f"size({body}) > 0"


# expr: a budget of operations ------------------------------------------------------------


def test_an_expression_too_costly_for_any_version_is_refused_when_the_policy_is_set(
    flow: Flow,
) -> None:
    """Six nested map() over ten-element lists: a million steps, whatever the version."""
    with pytest.raises(InvalidInput) as err:
        flow.reg.set_policy(
            policy(gate("low", "candidate", "expr", expression=nested_maps(6))), actor=ADMIN
        )
    message = str(err.value)
    assert "line 8: tiers.low.candidate[0].expression" in message
    assert f"budget of {MAX_EXPR_COST}" in message
    # Nothing was set: the open policy still lets a version through.
    flow.reg.set_policy(OPEN, actor=ADMIN)
    v = flow.add()
    assert flow.reg.promote(v.uri, to="candidate", actor=REGISTRANT).stages == ("candidate",)


DEEP = [
    ("!" * 2000 + "true", "2000 brackets and unary operators"),
    ("!" * 500 + "true", "500 brackets and unary operators"),
    ("-" * 1000 + "1 > 0", "1000 brackets and unary operators"),
    ("size(" + "[" * 1000 + "]" * 1000 + ") > 0", "1001 brackets and unary operators"),
    ("(" * 1000 + "true" + ")" * 1000, "1000 brackets and unary operators"),
    ("!" * 21 + "false", "21 brackets and unary operators"),
    ("+".join(["1"] * 1500) + " > 0", "3011 levels once parsed, the limit is 256"),
    ("&&".join(["true"] * 300), "310 levels once parsed, the limit is 256"),
]


@pytest.mark.parametrize(("expression", "said"), DEEP)
def test_an_expression_nested_too_deep_is_refused_when_the_policy_is_set(
    cli: CLI,  # noqa: F811 - fixture
    tmp_path: Path,
    expression: str,
    said: str,
) -> None:
    """cel-python recurses once per level: past Python's limit the policy was refused
    with exit 1 (an unexpected RecursionError), or accepted and failed in every gate."""
    text = policy(gate("low", "candidate", "expr", expression=expression))
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    assert cli("role", "grant", "alice", "admin", "--first-admin").code == 0
    run = cli("policy", "set", path)
    assert run.code == 6, run
    assert "unexpected" not in run.err
    assert run.err.startswith(
        "error: policy.toml line 8: tiers.low.candidate[0].expression: expression nested too deep: "
    )
    assert said in run.err
    assert "limit is" in run.err and len(run.err.splitlines()) == 1


@pytest.mark.parametrize(
    "expression",
    [
        "!" * 20 + "true",
        "(" * 20 + "true" + ")" * 20,
        "&&".join(["true"] * 240),
        '"((((((((((((((((((((((((" != "!!!!!!!!!!!!!!!!!!!!!!!!!"',
    ],
)
def test_an_expression_within_the_nesting_limit_is_evaluated(flow: Flow, expression: str) -> None:
    flow.reg.set_policy(
        policy(gate("low", "candidate", "expr", expression=expression)), actor=ADMIN
    )
    v = flow.add()
    assert flow.reg.promote(v.uri, to="candidate", actor=REGISTRANT).stages == ("candidate",)


def test_an_expression_that_spends_its_budget_fails_its_check_and_is_stopped(
    flow: Flow,
) -> None:
    """Over lists computed at evaluation (``L + []``), the cost shows only when it runs:
    the evaluation stops when the budget is spent, and the check fails naming it."""
    computed = f"({TEN} + [])"
    flow.reg.set_policy(
        policy(gate("low", "candidate", "expr", expression=nested_maps(4, computed))),
        actor=ADMIN,
    )
    v = flow.add()
    message = promote_refused(flow, v.uri)
    assert f"spent its budget of {MAX_EXPR_COST} operations" in message
    record = flow.reg.evidence(v.uri)[-1]
    assert record.evidence["budget"] == MAX_EXPR_COST and not record.passed


def test_each_kind_of_expression_error_gets_its_own_hint(flow: Flow) -> None:
    flow.reg.set_policy(
        policy(
            gate("low", "candidate", "expr", expression="1 / 0 == 1"),
            gate("low", "candidate", "expr", expression='version.metrics["auc@test"] > 0.5'),
            gate("low", "candidate", "expr", expression="version.number < 2.0"),
            gate("low", "candidate", "expr", expression="nothing_by_that_name"),
        ),
        actor=ADMIN,
    )
    v = flow.add()
    promote_refused(flow, v.uri)
    hints = [r.hint or "" for r in flow.reg.evidence(v.uri)]
    assert "divisor" in hints[0] and "has()" not in hints[0]
    assert "has()" in hints[1]
    assert "1.0, not 1" in hints[2]
    assert "names an expression sees" in hints[3]
    # celpy names the unknown name, without dumping every value it was given.
    message = flow.reg.evidence(v.uri)[3].message
    assert "nothing_by_that_name" in message and len(message) < 300


# custom: what user code may do ------------------------------------------------------------


def custom(function: str, **args: object) -> str:
    return policy(gate("low", "candidate", "custom", function=function, args=args))


def test_sys_exit_in_a_custom_check_is_a_failed_check(flow: Flow) -> None:
    flow.reg.set_policy(custom("tests.gate_plugins:exits"), actor=ADMIN)
    v = flow.add()
    message = promote_refused(flow, v.uri)
    assert "raised SystemExit: 0" in message
    assert not flow.reg.evidence(v.uri)[-1].passed


def test_ctrl_c_in_a_custom_check_still_stops_the_command(flow: Flow) -> None:
    flow.reg.set_policy(custom("tests.gate_plugins:interrupted"), actor=ADMIN)
    v = flow.add()
    with pytest.raises(KeyboardInterrupt):
        flow.reg.promote(v.uri, to="candidate", actor=REGISTRANT)
    assert flow.stage(v.uri) == "staging"
    assert flow.reg.evidence(v.uri) == ()


def test_a_path_to_something_not_callable_says_so(flow: Flow) -> None:
    flow.reg.set_policy(custom("tests.gate_plugins:NOT_A_FUNCTION"), actor=ADMIN)
    v = flow.add()
    message = promote_refused(flow, v.uri)
    assert "is an int, not a function" in message
    assert "install" not in message and "point tests.gate_plugins:NOT_A_FUNCTION at a" in message


def test_evidence_that_is_not_json_is_a_failed_check(flow: Flow) -> None:
    flow.reg.set_policy(custom("tests.gate_plugins:unstorable"), actor=ADMIN)
    v = flow.add()
    message = promote_refused(flow, v.uri)
    assert "cannot be kept: its evidence is not JSON" in message


@pytest.mark.parametrize(
    ("args", "limit"),
    [
        ({"message": MAX_CHECK_MESSAGE + 1}, "MAX_CHECK_MESSAGE"),
        ({"evidence": MAX_CHECK_EVIDENCE}, "MAX_CHECK_EVIDENCE"),
    ],
)
def test_a_result_over_its_limits_is_refused_not_stored(
    flow: Flow, args: dict[str, int], limit: str
) -> None:
    """The check passed, but what it reported is too large to keep: it fails, and what
    is stored and printed is the short refusal, not the report."""
    flow.reg.set_policy(custom("tests.gate_plugins:verbose", **args), actor=ADMIN)
    v = flow.add()
    message = promote_refused(flow, v.uri)
    assert limit in message and len(message) < 1000
    record = flow.reg.evidence(v.uri)[-1]
    assert not record.passed and record.evidence == {} and len(record.message) < 1000


def test_a_result_within_its_limits_is_kept_whole(flow: Flow) -> None:
    flow.reg.set_policy(
        custom("tests.gate_plugins:verbose", message=MAX_CHECK_MESSAGE, evidence=60_000),
        actor=ADMIN,
    )
    v = flow.add()
    assert flow.reg.promote(v.uri, to="candidate", actor=REGISTRANT).stages == ("candidate",)
    record = flow.reg.evidence(v.uri)[-1]
    assert len(record.message) == MAX_CHECK_MESSAGE and len(record.evidence["blob"]) == 60_000


def test_a_check_that_exits_makes_promote_exit_9_not_0(
    registry: Registry,
    cli: CLI,  # noqa: F811 - fixture
    files: Callable[[], Path],  # noqa: F811 - fixture
) -> None:
    """``promote --auto && deploy`` in CI must not deploy when a check calls sys.exit(0)."""
    grant_people(registry)
    registry.set_policy(custom("tests.gate_plugins:exits"), actor=ADMIN)
    number = good(cli, files())
    run = cli("promote", f"ctr/{number}", "--auto")
    assert run.code == GateFailed.exit_code == 9, run
    assert "SystemExit" in run.out + run.err
