"""What an older modelbook stored before today's limits: a policy whose ``expr`` check is
over its budget, and check results of any size. Gates, ``policy show``/``set`` and every
output keep working, and bounded.

Each test runs on SQLite and on PostgreSQL; the rows are written to the store directly,
as the older modelbook wrote them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from modelbook import Registry
from modelbook.errors import GateFailed
from modelbook.limits import MAX_CHECK_EVIDENCE, MAX_CHECK_MESSAGE, MAX_EXPR_COST
from modelbook.store import schema as t

from .test_cli_release import CLI, cli, files, good, setup_people  # noqa: F401 - fixtures
from .test_gate_limits import nested_maps
from .test_release_flow import (
    ADMIN,
    OPEN,
    REGISTRANT,
    Flow,
    gate,
    make_flow,
    policy,
    store_policy,
)


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    return make_flow(registry, tmp_path)


def test_a_stored_expr_over_its_budget_fails_its_gate_naming_the_budget_and_the_fix(
    flow: Flow,
) -> None:
    text = policy(gate("low", "candidate", "expr", expression=nested_maps(6)))
    store_policy(flow.reg, text)
    v = flow.add()
    with pytest.raises(GateFailed) as err:
        flow.reg.promote(v.uri, to="candidate", actor=REGISTRANT)
    message = str(err.value)
    assert f"over the budget of {MAX_EXPR_COST} operations" in message
    assert "MAX_EXPR_COST" in message
    assert "modelbook policy set" in message
    (record,) = flow.reg.evidence(v.uri)
    assert not record.passed and record.evidence["budget"] == MAX_EXPR_COST
    assert flow.stage(v.uri) == "staging"
    # policy show still reads it; policy set replaces it, and the gate then opens.
    assert flow.reg.policy().text == text
    flow.reg.set_policy(OPEN, actor=ADMIN)
    assert flow.reg.promote(v.uri, to="candidate", actor=REGISTRANT).stages == ("candidate",)


@pytest.mark.parametrize("days", [1e9, 1e300])
def test_a_stored_sign_off_age_past_the_clock_fails_its_gate_naming_the_bound(
    flow: Flow, days: float
) -> None:
    """Stored before max_age_days was bounded: the policy loads, the check fails naming
    the bound and the fix (it raised OverflowError in every gate, exit 1)."""
    text = policy(gate("low", "approved", "attestation", name="pii_review", max_age_days=days))
    store_policy(flow.reg, text)
    v = flow.add()
    flow.reg.promote(v.uri, to="candidate", actor=REGISTRANT)
    flow.reg.attest(v.uri, "pii_review", actor="rita")
    with pytest.raises(GateFailed) as err:
        flow.reg.promote(v.uri, to="approved", actor=REGISTRANT)
    message = str(err.value)
    assert f"max_age_days = {days:g} in the policy is more than the 36525 days" in message
    assert "at most 36525 (modelbook policy set FILE)" in message
    assert flow.reg.policy().text == text
    assert flow.stage(v.uri) == "candidate"


def test_a_stored_slice_count_past_the_bound_still_loads_and_fails_as_it_did(
    flow: Flow,
) -> None:
    text = policy(
        gate("low", "candidate", "slice_gap", metric="auc@test", max_gap=0.1, min_slices=10**6)
    )
    store_policy(flow.reg, text)
    v = flow.add()
    with pytest.raises(GateFailed, match="the check needs at least 1000000"):
        flow.reg.promote(v.uri, to="candidate", actor=REGISTRANT)


@pytest.mark.parametrize("expression", ["!" * 500 + "true", "(" * 1000 + "true" + ")" * 1000])
def test_a_stored_expression_nested_too_deep_fails_its_gate_naming_the_limit(
    flow: Flow, expression: str
) -> None:
    """Stored before the nesting limit: the policy loads, and the check fails naming
    the limit and the fix, never with a RecursionError."""
    store_policy(flow.reg, policy(gate("low", "candidate", "expr", expression=expression)))
    v = flow.add()
    with pytest.raises(GateFailed) as err:
        flow.reg.promote(v.uri, to="candidate", actor=REGISTRANT)
    message = str(err.value)
    assert "expression nested too deep" in message and "the limit is 20" in message
    assert "stored before that limit was checked" in message
    assert "modelbook policy set FILE" in message
    assert "RecursionError" not in message
    flow.reg.set_policy(OPEN, actor=ADMIN)
    assert flow.reg.promote(v.uri, to="candidate", actor=REGISTRANT).stages == ("candidate",)


def test_policy_show_and_set_work_over_a_stored_expr_over_its_budget(
    cli: CLI,  # noqa: F811 - fixture
    tmp_path: Path,
    files: Callable[[], Path],  # noqa: F811 - fixture
) -> None:
    assert cli("role", "grant", "alice", "admin", "--first-admin").code == 0
    text = policy(gate("low", "candidate", "expr", expression=nested_maps(6)))
    reg = Registry(actor="alice")
    try:
        store_policy(reg, text)
    finally:
        reg.close()
    number = good(cli, files())
    refused = cli("promote", f"models:/ctr/{number}", "--to", "candidate")
    assert refused.code == 9, refused.err
    assert "MAX_EXPR_COST" in refused.err and "modelbook policy set" in refused.err
    shown = cli("policy", "show")
    assert shown.code == 0 and "a0" in shown.out
    path = tmp_path / "open.toml"
    path.write_text(OPEN, encoding="utf-8")
    assert cli("policy", "set", path).code == 0
    assert cli("promote", f"models:/ctr/{number}", "--to", "candidate").code == 0


def test_huge_stored_evidence_is_shown_as_a_bounded_excerpt(
    cli: CLI,  # noqa: F811 - fixture
    tmp_path: Path,
    files: Callable[[], Path],  # noqa: F811 - fixture
) -> None:
    setup_people(cli, tmp_path)
    number = good(cli, files())
    uri = f"models:/ctr/{number}"
    assert cli("promote", uri, "--to", "candidate").code == 0
    message, hint, blob = "m" * 300_000, "h" * 300_000, "e" * 2_000_000
    reg = Registry(actor="alice")
    try:
        with reg.db.engine.begin() as conn:
            row = conn.execute(
                sa.select(t.notes.c.id, t.notes.c.body).where(t.notes.c.kind == "evaluation")
            ).first()
            assert row is not None
            body = json.loads(row.body)
            body["records"][0].update(message=message, hint=hint, evidence={"blob": blob})
            conn.execute(
                t.notes.update().where(t.notes.c.id == row.id).values(body=json.dumps(body))
            )
        report = reg.report(uri)
    finally:
        reg.close()
    text = cli("evidence", uri)
    assert text.code == 0
    assert len(text.out) < 4 * MAX_CHECK_MESSAGE
    assert f"{300_000 - MAX_CHECK_MESSAGE:,} more characters left out" in text.out
    shown = cli("evidence", uri, "--json").json()
    first = shown["checks"][0]
    assert len(json.dumps(shown)) < 2 * MAX_CHECK_EVIDENCE + 4 * MAX_CHECK_MESSAGE
    assert first["message"].endswith(f"({300_000 - MAX_CHECK_MESSAGE:,} more characters left out)")
    assert first["evidence"]["bytes"] == len(json.dumps({"blob": blob}))
    assert first["evidence"]["omitted_bytes"] > 1_900_000
    assert first["evidence"]["excerpt"].startswith('{"blob": "eee')
    assert blob not in report and len(report) < 200_000
    assert "more characters left out" in report
