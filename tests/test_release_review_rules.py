"""Rules of the release flow that no command may quietly skip, on SQLite and PostgreSQL:
a rejection of a version that served, gates the flow never runs, separation of duties
for sign-offs, the alias a healthy mark names, several observations at once, and the
wording of slice gaps and damaged rollback targets.

The people are those of ``tests/test_release_flow.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelbook import Registry
from modelbook.domain import Metric
from modelbook.errors import InvalidInput, NotFound, PermissionDenied

from .test_cli_release import CLI, cli  # noqa: F401
from .test_release_flow import ADMIN, REGISTRANT, Flow, gate, make_flow, policy, table_counts


def production(reg: Registry) -> int | None:
    return {a.name: a.version for a in reg.aliases("m")}["production"]


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    return make_flow(registry, tmp_path)


# 1. a rejection of a version that served ------------------------------------------------


def test_rejecting_a_rollback_target_keeps_it_approved_and_out_of_rollback_until_answered(
    flow: Flow,
) -> None:
    reg = flow.reg
    v1 = flow.deployed()
    v2 = flow.deployed()
    assert flow.stage(v1.uri) == "approved"
    reg.reject(v1.uri, actor="ron", comment="leaks PII in the EU slice")
    # Still approved: taking a rollback target out of rollback is the deployer's call.
    assert flow.stage(v1.uri) == "approved"
    with pytest.raises(NotFound, match=r"1 \(rejected\)"):
        reg.rollback("m", reason_code="kpi_drop", actor="dan")
    with pytest.raises(InvalidInput, match="rejected by ron"):
        reg.rollback("m", reason_code="kpi_drop", to=1, actor="dan")
    with pytest.raises(InvalidInput, match=r"rejected by ron.*cannot be deployed"):
        reg.deploy(v1.uri, reason="again", actor="dan")
    assert production(reg) == v2.number
    # An approval after reading it answers it: v1 is a rollback target again.
    reg.approve(v1.uri, actor="rita", comment="fixed upstream; the EU slice is clean")
    plan = reg.rollback("m", reason_code="kpi_drop", actor="dan")
    assert plan.to_version == v1.number


def test_rejecting_a_deployed_version_is_recorded_and_blocks_its_return(flow: Flow) -> None:
    reg = flow.reg
    v1 = flow.deployed()
    reg.reject(v1.uri, actor="ron", comment="a finding after deploy")
    # The alias does not move and the version stays deployed; the finding is on record.
    assert flow.stage(v1.uri) == "deployed"
    assert production(reg) == v1.number
    assert [r.actor for r in reg.annotations(v1.uri).rejections] == ["ron"]
    flow.deployed()
    assert flow.stage(v1.uri) == "approved"
    with pytest.raises(NotFound, match=r"1 \(rejected\)"):
        reg.rollback("m", reason_code="kpi_drop", actor="dan")


def test_rejecting_an_approved_version_that_never_served_still_sends_it_back(
    flow: Flow,
) -> None:
    v = flow.approved()
    flow.reg.reject(v.uri, actor="ron", comment="not yet")
    assert flow.stage(v.uri) == "candidate"


# 2. and 5. policy rules that would never hold a version ----------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (gate("low", "staging", "approvals", count=1), "'staging' is the first stage"),
        (gate("low", "archived", "approvals", count=1), "enters 'archived' by archive"),
        (
            gate("high", "approved", "approvals", count=1, separation_of_duties=False),
            "separation_of_duties cannot be false for high risk",
        ),
        (
            gate("high", "approved", "attestation", name="pii_review", separation_of_duties=False),
            "separation_of_duties cannot be false for high risk",
        ),
    ],
)
def test_a_policy_rule_that_would_never_run_is_refused_at_its_line(
    flow: Flow, text: str, words: str
) -> None:
    reg = flow.reg
    before = reg.policy().sha256
    source = policy(text)
    with pytest.raises(InvalidInput) as info:
        reg.set_policy(source, actor=ADMIN)
    message = info.value.message
    assert words in message, message
    key = "separation_of_duties" if "separation" in words else "[[tiers."
    line = 1 + next(i for i, t in enumerate(source.splitlines()) if t.startswith(key))
    assert f"line {line}:" in message, message
    assert reg.policy().sha256 == before


def test_the_registrant_of_a_high_risk_version_cannot_sign_it_off(flow: Flow) -> None:
    reg = flow.reg
    reg.grant_role(REGISTRANT, "reviewer", actor=ADMIN)
    v = flow.add(tier="high")
    counts = table_counts(reg)
    with pytest.raises(PermissionDenied, match="separation of duties"):
        reg.attest(v.uri, "pii_review", actor=REGISTRANT)
    assert table_counts(reg) == counts
    reg.attest(v.uri, "pii_review", actor="rita")


# 3. the alias a healthy mark names -----------------------------------------------------


def test_mark_healthy_names_only_the_serving_alias_that_points_at_the_version(
    flow: Flow,
) -> None:
    reg = flow.reg
    v1 = flow.deployed()
    reg.set_alias("m", "champion", v1.number, reason="best so far", actor=REGISTRANT)
    v2 = flow.approved()
    reg.set_alias("m", "challenger", v2.number, reason="next", actor=REGISTRANT)
    counts = table_counts(reg)
    for alias, words in (
        ("x" * 5000, "invalid alias"),
        ("bad alias", "invalid alias"),
        ("canary", "not found"),
        ("champion", "not a serving alias"),
    ):
        with pytest.raises(InvalidInput, match=words):
            reg.mark_healthy(v1.uri, signal="p99 fine", alias=alias, actor="dan")
    assert table_counts(reg) == counts
    reg.mark_healthy(v1.uri, signal="p99 fine", alias="production", actor="dan")
    assert reg.annotations(v1.uri).health[-1].alias == "production"


def test_mark_healthy_refuses_an_alias_that_serves_another_version(flow: Flow) -> None:
    reg = flow.reg
    reg.set_policy(policy(serving=("production", "canary")), actor=ADMIN)
    v1 = flow.deployed()
    flow.deployed(alias="canary")
    with pytest.raises(InvalidInput, match="points at version 2"):
        reg.mark_healthy(v1.uri, signal="ok", alias="canary", actor="dan")


# 4. several observations at once ----------------------------------------------------------


def test_several_metrics_are_observed_together_and_one_given_twice_writes_none(
    flow: Flow,
) -> None:
    reg = flow.reg
    v = flow.add()
    a = Metric(name="a", value=1.0, split="online")
    b = Metric(name="b", value=2.0, split="online")
    done = reg.observe_all(v.uri, [a, b], actor="dan")
    assert [(o.metric, o.value) for o in done] == [("a@online", 1.0), ("b@online", 2.0)]
    counts = table_counts(reg)
    again = Metric(name="a", value=3.0, split="online")
    with pytest.raises(InvalidInput, match="given twice"):
        reg.observe_all(v.uri, [a, b, again], actor="dan")
    assert table_counts(reg) == counts
    assert len(reg.annotations(v.uri).observations) == 2


def test_observe_on_the_command_line_records_every_metric(
    cli: CLI,  # noqa: F811
    tmp_path: Path,
) -> None:
    assert cli("role", "grant", "alice", "admin", "--first-admin").code == 0
    path = tmp_path / "model.bin"
    path.write_bytes(b"1")
    reg = cli(
        "register", "ctr", path, "--owner", "t", "--risk", "low", "--no-capture", "--json"
    )  # fmt: skip
    assert reg.code == 0, reg.err
    run = cli("observe", "models:/ctr/1", "--metric", "a@online=1", "--metric", "b@online=2")
    assert run.code == 0, run.err
    assert "a@online" in run.out and "b@online" in run.out
    twice = cli("observe", "models:/ctr/1", "--metric", "a@online=1", "--metric", "a@online=2")
    assert twice.code == 6, twice.err
    shown = cli("show", "models:/ctr/1", "--json").json()
    assert [o["metric"] for o in shown["annotations"]["observations"]] == [
        "a@online",
        "b@online",
    ]


# 6. wording ------------------------------------------------------------------------------


def test_slice_gap_of_slices_that_all_agree_names_no_slice_twice() -> None:
    from .test_checks import make_version, run

    tied = {"auc@test{region=eu}": 0.95, "auc@test{region=us}": 0.95}
    r = run("slice_gap", make_version(metrics=tied), metric="auc@test", max_gap=0.05)
    assert r.passed
    assert "all 2 slices agree (0.95)" in r.message, r.message
    assert "between" not in r.message


def test_a_damaged_rollback_target_counts_its_files_in_agreement(
    flow: Flow, blob_dir: Path
) -> None:
    from modelbook.errors import GateFailed

    from .test_rollback_candidates import damage
    from .test_rollback_guards import ship_in_turn

    _, second, _ = ship_in_turn(flow, 3)
    damage(blob_dir, second, "removed")
    with pytest.raises(GateFailed) as named:
        flow.reg.rollback("m", reason_code="kpi_drop", to=2, actor="dan")
    assert "1 of its files is not as registered" in str(named.value), str(named.value)
