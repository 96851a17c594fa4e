"""Built-in gate checks: each one passing, failing with a hint, and the gate around them."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from modelbook import InvalidInput, validation
from modelbook.annotations import Approval, Attestation, Observation, Rejection
from modelbook.checks import CheckContext, CheckResult, CheckSpec, evaluate_gate, get_check
from modelbook.checks.metric import parse_rule
from modelbook.domain import (
    Artifact,
    CodeRef,
    DataRef,
    Lineage,
    LockfileRef,
    Model,
    Version,
    thaw,
)
from modelbook.errors import GateFailed

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def make_version(
    number: int = 3,
    *,
    metrics: dict[str, float] | None = None,
    created_by: str = "alice",
    **fields: Any,
) -> Version:
    return Version(
        model="credit",
        number=number,
        semver=f"1.{number}.0",
        artifacts=fields.pop("artifacts", ()),
        created_by=created_by,
        created_at=NOW - timedelta(days=1),
        metrics=tuple(validation.metric(k, v) for k, v in (metrics or {}).items()),
        **fields,
    )


def make_ctx(tier: str = "low", **fields: Any) -> CheckContext:
    model = Model(
        name="credit",
        owners=("risk-team",),
        risk_tier=tier,  # type: ignore[arg-type]
        created_at=NOW - timedelta(days=30),
        created_by="alice",
    )
    fields.setdefault("target_stage", "approved")
    fields.setdefault("now", NOW)
    fields.setdefault("actor", "carol")
    return CheckContext(model=model, **fields)


def spec(check: str, /, *, required: bool = True, **params: Any) -> CheckSpec:
    definition = get_check(check)
    return CheckSpec(check, definition.params.model_validate(params), required, definition)


def run(
    check: str, version: Version, ctx: CheckContext | None = None, /, **params: Any
) -> CheckResult:
    return spec(check, **params).run(version, ctx or make_ctx())


def at(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def approval(actor: str, hours_ago: float, *roles: str) -> Approval:
    return Approval(actor=actor, roles=roles or ("reviewer",), at=at(hours_ago))


def rejection(actor: str, hours_ago: float, comment: str | None = None) -> Rejection:
    return Rejection(actor=actor, comment=comment, at=at(hours_ago))


def observation(metric: str, value: float, hours_ago: float = 1) -> Observation:
    return Observation(metric=metric, value=value, actor="monitor", at=at(hours_ago))


# metric ----------------------------------------------------------------------------


def test_metric_threshold_met() -> None:
    r = run("metric", make_version(metrics={"auc@test": 0.9}), rules=["auc@test >= 0.85"])
    assert r.passed
    assert "auc@test = 0.9" in r.message
    assert thaw(r.evidence["rules"]) == [
        {"rule": "auc@test >= 0.85", "passed": True, "values": {"auc@test": 0.9}}
    ]


def test_metric_threshold_missed_says_by_how_much() -> None:
    r = run("metric", make_version(metrics={"auc@test": 0.81}), rules=["auc@test >= 0.85"])
    assert not r.passed
    assert "auc@test = 0.81, needs >= 0.85" in r.message
    assert r.hint is not None and "auc@test" in r.hint


def test_missing_metric_says_which_to_register() -> None:
    r = run("metric", make_version(metrics={"auc@val": 0.9}), rules=["auc@test >= 0.85"])
    assert not r.passed
    assert "'auc@test' is not registered on version 3" in r.message
    assert r.hint is not None and "--metric 'auc@test=VALUE'" in r.hint


@pytest.mark.parametrize(
    ("op", "threshold", "ok"),
    [
        (">", 0.5, True),
        (">", 0.8, False),
        (">=", 0.8, True),
        ("<", 0.9, True),
        ("<", 0.8, False),
        ("<=", 0.8, True),
        ("==", 0.8, True),
        ("==", 0.81, False),
        ("!=", 0.81, True),
        ("!=", 0.8, False),
    ],
)
def test_metric_operators(op: str, threshold: float, ok: bool) -> None:
    r = run("metric", make_version(metrics={"auc": 0.8}), rules=[f"auc {op} {threshold}"])
    assert r.passed is ok


def test_metric_on_one_slice() -> None:
    v = make_version(metrics={"auc@test{region=eu}": 0.82, "auc@test{region=us}": 0.7})
    assert run("metric", v, rules=["auc@test{region=eu} >= 0.8"]).passed
    assert not run("metric", v, rules=["auc@test{region=us} >= 0.8"]).passed


def test_metric_on_every_slice_names_the_failing_ones() -> None:
    v = make_version(
        metrics={
            "auc@test": 0.9,
            "auc@test{region=eu}": 0.85,
            "auc@test{region=us}": 0.75,
            "auc@test{device=mobile}": 0.79,
        }
    )
    r = run("metric", v, rules=["auc@test{*} >= 0.8"])
    assert not r.passed
    assert "auc@test{region=us} = 0.75" in r.message
    assert "auc@test{device=mobile} = 0.79" in r.message
    assert "region=eu" not in r.message
    assert run("metric", v, rules=["auc@test{*} >= 0.7"]).passed


def test_metric_on_every_slice_needs_at_least_one_slice() -> None:
    r = run("metric", make_version(metrics={"auc@test": 0.9}), rules=["auc@test{*} >= 0.8"])
    assert not r.passed
    assert "no slices" in r.message
    assert r.hint is not None and "auc@test{region=eu}=VALUE" in r.hint


def test_metric_reads_online_observations() -> None:
    ctx = make_ctx(
        observations={3: (observation("ctr@online", 0.02, 5), observation("ctr@online", 0.031, 1))}
    )
    assert run("metric", make_version(), ctx, rules=["ctr@online >= 0.03"]).passed


def test_every_rule_must_hold() -> None:
    v = make_version(metrics={"auc@test": 0.9, "logloss@test": 0.5})
    r = run("metric", v, rules=["auc@test >= 0.85", "logloss@test <= 0.4"])
    assert not r.passed
    assert "logloss@test = 0.5, needs <= 0.4" in r.message
    assert "auc@test" not in r.message


@pytest.mark.parametrize(
    "text",
    [
        "auc",
        "auc >> 0.8",
        "auc >= high",
        "auc >= nan",
        "auc >= inf",
        "@test >= 1",
        "auc{region} >= 1",
        "",
    ],
)
def test_malformed_metric_rules_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_rule(text)
    with pytest.raises(ValidationError):
        get_check("metric").params.model_validate({"rules": [text]})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("auc >= 1e400", "threshold of metric rule 'auc >= 1e400' is too large"),
        ("auc >= inf", "threshold of metric rule 'auc >= inf' must be a finite number"),
        ("auc >= high", "threshold of metric rule 'auc >= high' must be a number"),
    ],
)
def test_a_bad_threshold_is_named_as_the_rule_s(text: str, message: str) -> None:
    """Not as a metric named after the rule's text."""
    with pytest.raises(InvalidInput) as err:
        parse_rule(text)
    assert str(err.value).startswith(message) and 'metric "' not in str(err.value)


def test_metric_rule_slices_are_kept_in_key_order() -> None:
    rule = parse_rule("auc@test{region=eu,device=mobile} > 0.5")
    assert rule.metric == "auc@test{device=mobile,region=eu}"


names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
splits = st.none() | st.from_regex(r"[A-Za-z0-9_]{1,6}", fullmatch=True)
slices = st.just("*") | st.dictionaries(
    names, st.from_regex(r"[a-z0-9]{1,5}", fullmatch=True), max_size=3
)
thresholds = st.floats(allow_nan=False, allow_infinity=False)


@given(names, splits, slices, st.sampled_from([">", ">=", "<", "<=", "==", "!="]), thresholds)
def test_metric_rule_text_round_trips(
    name: str, split: str | None, slice_: Any, op: str, threshold: float
) -> None:
    """Any rule, written out and read back, is the same rule."""
    text = name + (f"@{split}" if split else "")
    if slice_ == "*":
        text += "{*}"
    elif slice_:
        text += "{" + ",".join(f"{k}={v}" for k, v in slice_.items()) + "}"
    rule = parse_rule(f"{text} {op} {threshold!r}")
    assert rule.threshold == threshold and rule.op == op and rule.name == name
    assert rule.every_slice is (slice_ == "*")
    assert parse_rule(str(rule)) == rule


# slice_gap -------------------------------------------------------------------------

REGIONS = {"auc@test{region=eu}": 0.85, "auc@test{region=us}": 0.82, "auc@test{region=apac}": 0.84}


def test_slice_gap_within_limit() -> None:
    r = run("slice_gap", make_version(metrics=REGIONS), metric="auc@test", max_gap=0.05)
    assert r.passed
    assert math.isclose(r.evidence["gap"], 0.03)  # type: ignore[arg-type]
    assert "region=eu" in r.message and "region=us" in r.message


def test_slice_gap_too_wide_names_best_and_worst() -> None:
    r = run("slice_gap", make_version(metrics=REGIONS), metric="auc@test", max_gap=0.02)
    assert not r.passed
    assert "auc@test{region=eu} (0.85)" in r.message
    assert "auc@test{region=us} (0.82)" in r.message
    assert "at most 0.02" in r.message
    assert r.hint


def test_slice_gap_by_one_slice_key() -> None:
    v = make_version(metrics={**REGIONS, "auc@test{device=mobile}": 0.6})
    assert not run("slice_gap", v, metric="auc@test", max_gap=0.05).passed
    assert run("slice_gap", v, metric="auc@test", max_gap=0.05, by="region").passed


def test_slice_gap_needs_slices() -> None:
    r = run(
        "slice_gap",
        make_version(metrics={"auc@test{region=eu}": 0.8}),
        metric="auc@test",
        max_gap=0.1,
    )
    assert not r.passed
    assert "1 slice(s)" in r.message
    assert r.hint is not None and "--metric 'auc@test{region=eu}=VALUE'" in r.hint


@pytest.mark.parametrize(
    "params",
    [
        {"metric": "auc@test{region=eu}", "max_gap": 0.1},
        {"metric": "auc", "max_gap": -1},
        {"metric": "auc", "max_gap": 0.1, "min_slices": 1},
        {"metric": "auc"},
        {"metric": "auc", "max_gap": 0.1, "gap": 2},
    ],
)
def test_slice_gap_bad_params(params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        get_check("slice_gap").params.model_validate(params)


# compare ---------------------------------------------------------------------------


def served(number: int = 2, **metrics: float) -> dict[str, Version]:
    return {
        "production": make_version(
            number, metrics={k.replace("_at_", "@"): v for k, v in metrics.items()}
        )
    }


def test_compare_with_nothing_served_passes_saying_so() -> None:
    r = run("compare", make_version(metrics={"auc@test": 0.8}), metrics=["auc@test"])
    assert r.passed
    assert "nothing to compare against" in r.message


def test_compare_better_and_worse() -> None:
    ctx = make_ctx(served=served(auc_at_test=0.85))
    assert run(
        "compare", make_version(metrics={"auc@test": 0.86}), ctx, metrics=["auc@test"]
    ).passed
    r = run("compare", make_version(metrics={"auc@test": 0.84}), ctx, metrics=["auc@test"])
    assert not r.passed
    assert "production (version 2)" in r.message
    assert "0.84 is lower than 0.85" in r.message
    assert r.hint


def test_compare_tolerance() -> None:
    ctx = make_ctx(served=served(auc_at_test=0.85))
    v = make_version(metrics={"auc@test": 0.848})
    assert run("compare", v, ctx, metrics=["auc@test"], tolerance=0.005).passed
    assert run("compare", v, ctx, metrics=["auc@test"], tolerance={"auc@test": 0.005}).passed
    assert not run("compare", v, ctx, metrics=["auc@test"], tolerance=0.001).passed


def test_compare_lower_is_better() -> None:
    ctx = make_ctx(served=served(logloss_at_test=0.40))
    worse = make_version(metrics={"logloss@test": 0.45})
    r = run("compare", worse, ctx, metrics=["logloss@test"], lower_is_better=["logloss@test"])
    assert not r.passed and "higher than 0.4" in r.message
    better = make_version(metrics={"logloss@test": 0.35})
    assert run(
        "compare", better, ctx, metrics=["logloss@test"], lower_is_better=["logloss@test"]
    ).passed


def test_compare_online_metrics_from_observations() -> None:
    """A/B: the challenger's observed click-through rate against production's."""
    ctx = make_ctx(
        served=served(2),
        observations={
            2: (observation("ctr@online", 0.030),),
            3: (observation("ctr@online", 0.027),),
        },
    )
    r = run("compare", make_version(3), ctx, metrics=["ctr@online"])
    assert not r.passed
    assert r.evidence["metrics"] == {
        "ctr@online": {
            "version": 0.027,
            "served": 0.03,
            "tolerance": 0.0,
            "lower_is_better": False,
            "passed": False,
        }
    }


def test_compare_other_alias() -> None:
    ctx = make_ctx(served={"champion": make_version(2, metrics={"auc": 0.9})})
    assert run("compare", make_version(metrics={"auc": 0.8}), ctx, metrics=["auc"]).passed
    assert not run(
        "compare", make_version(metrics={"auc": 0.8}), ctx, metrics=["auc"], alias="champion"
    ).passed


def test_compare_missing_metrics() -> None:
    ctx = make_ctx(served=served(auc_at_test=0.85))
    r = run("compare", make_version(metrics={}), ctx, metrics=["auc@test"])
    assert not r.passed and "version 3 has no 'auc@test'" in r.message
    ctx = make_ctx(served=served(auc_at_test=0.85))
    r = run(
        "compare",
        make_version(metrics={"auc@test": 0.9, "f1": 0.1}),
        ctx,
        metrics=["auc@test", "f1"],
    )
    assert r.passed and "not compared (missing on production (version 2)): f1" in r.message


def test_compare_refuses_directions_for_metrics_it_does_not_compare() -> None:
    with pytest.raises(ValidationError, match="logloss not among the compared metrics"):
        get_check("compare").params.model_validate(
            {"metrics": ["auc"], "lower_is_better": ["logloss"]}
        )


# lineage_complete ------------------------------------------------------------------

FULL = Lineage(
    code=CodeRef(repo="git@example:ml/credit.git", commit="abc123", dirty=False),
    data=(DataRef(snapshot="ds_2026_10", sha256="f" * 64),),
)


def test_lineage_complete_passes_with_the_fields() -> None:
    r = run(
        "lineage_complete",
        make_version(lineage=FULL),
        fields=["code.commit", "code.clean", "data", "data.sha256"],
    )
    assert r.passed
    assert r.evidence["fields"] == {
        "code.commit": True,
        "code.clean": True,
        "data": True,
        "data.sha256": True,
    }


def test_lineage_complete_names_what_is_missing_and_how_to_give_it() -> None:
    v = make_version(
        lineage=Lineage(code=CodeRef(commit="abc", dirty=True), data=(DataRef(snapshot="ds"),))
    )
    r = run(
        "lineage_complete",
        v,
        fields=[
            "code.commit",
            "code.clean",
            "data.sha256",
            "environment.lockfile",
            "training.seed",
            "run_id",
        ],
    )
    assert not r.passed
    assert "lacks code.clean, data.sha256, environment.lockfile, training.seed, run_id" in r.message
    assert r.hint is not None
    for needle in (
        "clean working tree",
        "sha256",
        "lockfile",
        "--seed",
        "--run-id",
        "register a new one",
    ):
        assert needle in r.hint


def test_lineage_lockfile_and_seed() -> None:
    from modelbook.domain import Environment, Training

    v = make_version(
        environment=Environment(lockfile=LockfileRef(path="uv.lock", sha256="a" * 64)),
        training=Training(seed=7),
    )
    assert run("lineage_complete", v, fields=["environment.lockfile", "training.seed"]).passed


def test_lineage_complete_counts_only_a_sha256_as_a_hash() -> None:
    """Text stored as a hash before registration refused it is no hash, as in the
    checklist and the bill of materials."""
    from modelbook.domain import Environment

    for junk, passed in (("not a hash", False), ("f" * 63, False), ("F" * 64, True)):
        v = make_version(
            lineage=Lineage(data=(DataRef(snapshot="ds", sha256=junk),)),
            environment=Environment(lockfile=LockfileRef(path="uv.lock", sha256=junk)),
        )
        r = run("lineage_complete", v, fields=["data.sha256", "environment.lockfile"])
        assert r.passed is passed, junk
        assert r.evidence["fields"] == {"data.sha256": passed, "environment.lockfile": passed}


def test_lineage_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"unknown lineage field 'code\.sha'"):
        get_check("lineage_complete").params.model_validate({"fields": ["code.sha"]})


# schema and smoke_test -------------------------------------------------------------


def test_schema_without_contract_fails_honestly() -> None:
    r = run("schema", make_version())
    assert not r.passed and "no contract registered" in r.message and r.hint


def test_schema_with_contract_passes_with_its_keys() -> None:
    r = run("schema", make_version(contract={"outputs": [], "inputs": []}))
    assert r.passed and thaw(r.evidence["contract"]) == ["inputs", "outputs"]


def test_smoke_test_without_a_loader() -> None:
    r = run("smoke_test", make_version())
    assert not r.passed and "no smoke test available" in r.message


def test_smoke_test_with_a_loader() -> None:
    assert run("smoke_test", make_version(), make_ctx(smoke_test=lambda v: True)).passed
    assert not run("smoke_test", make_version(), make_ctx(smoke_test=lambda v: False)).passed
    detailed = CheckResult(check="loader", passed=True, message="predicted 8 rows in 40 ms")
    r = run("smoke_test", make_version(), make_ctx(smoke_test=lambda v: detailed))
    assert r.passed and r.check == "smoke_test" and r.message == "predicted 8 rows in 40 ms"


def test_smoke_test_that_raises_is_a_failure_not_a_crash() -> None:
    def broken(version: Version) -> bool:
        raise ValueError("input shape (3,) != (4,)")

    r = run("smoke_test", make_version(), make_ctx(smoke_test=broken))
    assert not r.passed and "ValueError: input shape (3,) != (4,)" in r.message


# approvals -------------------------------------------------------------------------


def test_one_reviewer_approval_passes() -> None:
    r = run("approvals", make_version(), make_ctx(approvals=(approval("bob", 2),)))
    assert r.passed
    assert "1 of 1 approval(s) from reviewer (bob)" in r.message


def test_no_approval_fails_with_a_hint() -> None:
    r = run("approvals", make_version(), make_ctx())
    assert not r.passed
    assert "0 of 1" in r.message
    assert r.hint is not None and "1 more reviewer approves models:/credit/3" in r.hint


def test_one_person_counts_once() -> None:
    ctx = make_ctx(approvals=(approval("bob", 3), approval("bob", 2)))
    r = run("approvals", make_version(), ctx, count=2)
    assert not r.passed
    assert "1 of 2" in r.message
    assert r.hint is not None and "other than bob" in r.hint


def test_approval_needs_the_role_held_when_approving() -> None:
    ctx = make_ctx(approvals=(approval("dan", 2, "contributor"),))
    r = run("approvals", make_version(), ctx)
    assert not r.passed
    assert "dan does not count: held contributor when approving, not reviewer" in r.message
    assert run(
        "approvals", make_version(), make_ctx(approvals=(approval("eve", 1, "admin"),))
    ).passed


def test_registrant_cannot_approve_own_high_risk_version() -> None:
    """Separation of duties: on high risk, alice's approval of her own version does not count."""
    ctx = make_ctx("high", approvals=(approval("alice", 3), approval("bob", 2)))
    r = run("approvals", make_version(created_by="alice"), ctx, count=2)
    assert not r.passed
    assert "alice does not count: registered this version (separation of duties)" in r.message
    assert r.hint is not None and "other than alice, bob" in r.hint
    assert r.evidence["separation_of_duties"] is True
    ctx = make_ctx(
        "high", approvals=(approval("alice", 3), approval("bob", 2), approval("carol", 1))
    )
    assert run("approvals", make_version(created_by="alice"), ctx, count=2).passed


def test_registrant_may_approve_low_risk_unless_the_policy_says_otherwise() -> None:
    ctx = make_ctx("low", approvals=(approval("alice", 1),))
    assert run("approvals", make_version(created_by="alice"), ctx).passed
    assert not run(
        "approvals", make_version(created_by="alice"), ctx, separation_of_duties=True
    ).passed
    high = make_ctx("high", approvals=(approval("alice", 1),))
    assert run(
        "approvals", make_version(created_by="alice"), high, separation_of_duties=False
    ).passed


def test_rejection_after_the_last_approval_blocks() -> None:
    ctx = make_ctx(
        approvals=(approval("bob", 5),),
        rejections=(rejection("carol", 2, "drops 3% on new users"),),
    )
    r = run("approvals", make_version(), ctx)
    assert not r.passed
    assert "rejected by carol" in r.message and "drops 3% on new users" in r.message
    assert r.hint is not None and "carol approves" in r.hint


def test_an_approval_after_a_rejection_answers_it() -> None:
    ctx = make_ctx(approvals=(approval("bob", 1),), rejections=(rejection("carol", 2),))
    assert run("approvals", make_version(), ctx).passed


def test_a_person_changes_their_mind() -> None:
    """A person's latest decision is theirs: approving then rejecting withdraws the approval."""
    withdrawn = make_ctx(approvals=(approval("bob", 5),), rejections=(rejection("bob", 1),))
    assert not run("approvals", make_version(), withdrawn).passed
    answered = make_ctx(approvals=(approval("bob", 1),), rejections=(rejection("bob", 5),))
    assert run("approvals", make_version(), answered).passed


def test_the_registrants_approval_does_not_answer_a_rejection() -> None:
    ctx = make_ctx(
        "high",
        approvals=(approval("bob", 5), approval("carol", 4), approval("alice", 1)),
        rejections=(rejection("dan", 2),),
    )
    r = run("approvals", make_version(created_by="alice"), ctx, count=2)
    assert not r.passed and "rejected by dan" in r.message


# attestation -----------------------------------------------------------------------


def attestation(name: str, actor: str = "priya", days_ago: float = 1, *roles: str) -> Attestation:
    return Attestation(
        name=name, actor=actor, roles=roles or ("reviewer",), at=NOW - timedelta(days=days_ago)
    )


def test_attestation_present() -> None:
    r = run(
        "attestation",
        make_version(),
        make_ctx(attestations=(attestation("pii_review"),)),
        name="pii_review",
    )
    assert r.passed and "pii_review signed off by priya" in r.message
    assert r.evidence["actor"] == "priya"


def test_attestation_missing() -> None:
    ctx = make_ctx(attestations=(attestation("security_scan"),))
    r = run("attestation", make_version(), ctx, name="pii_review")
    assert not r.passed and "no pii_review attestation" in r.message
    assert r.hint is not None and "pii_review" in r.hint


def test_attestation_by_a_role() -> None:
    ctx = make_ctx(attestations=(attestation("security_scan", "sam", 1, "contributor"),))
    r = run("attestation", make_version(), ctx, name="security_scan", role="reviewer")
    assert not r.passed and "sam did not hold reviewer" in r.message
    assert run("attestation", make_version(), ctx, name="security_scan").passed


def test_messages_name_a_role_with_its_article() -> None:
    """An admin, not a admin: the article follows the role's name."""
    r = run("attestation", make_version(), make_ctx(), name="pii_review", role="admin")
    assert "no pii_review attestation by an admin" in r.message
    assert r.hint is not None and r.hint.startswith("an admin records the pii_review sign-off")
    # Attesting needs the reviewer role: a deployer alone may not record it.
    r = run("attestation", make_version(), make_ctx(), name="pii_review", role="deployer")
    assert r.hint is not None
    assert r.hint.startswith("a person holding both reviewer and deployer (or an admin) records")


def test_attestation_too_old() -> None:
    ctx = make_ctx(attestations=(attestation("security_scan", days_ago=100),))
    r = run("attestation", make_version(), ctx, name="security_scan", max_age_days=90)
    assert not r.passed and "100 days old" in r.message


def test_the_registrants_own_sign_off_does_not_count_at_high_risk() -> None:
    """Separation of duties holds for attestations as for approvals: by default at high
    risk, and where the policy asks for it."""
    own = (attestation("pii_review", "alice"),)
    version = make_version(created_by="alice")
    r = run("attestation", version, make_ctx("high", attestations=own), name="pii_review")
    assert not r.passed and "alice registered this version (separation of duties)" in r.message
    assert run("attestation", version, make_ctx(attestations=own), name="pii_review").passed
    low = make_ctx(attestations=own)
    r = run("attestation", version, low, name="pii_review", separation_of_duties=True)
    assert not r.passed
    other = make_ctx("high", attestations=(*own, attestation("pii_review", "priya")))
    assert run("attestation", version, other, name="pii_review").passed


# actor -----------------------------------------------------------------------------


def test_only_ci_promotes_to_candidate() -> None:
    assert run(
        "actor", make_version(), make_ctx(actor="ci", target_stage="candidate"), principals=["ci"]
    ).passed
    r = run(
        "actor", make_version(), make_ctx(actor="bob", target_stage="candidate"), principals=["ci"]
    )
    assert not r.passed
    assert "bob may not move a version to 'candidate': only ci may" in r.message


def test_actor_by_role() -> None:
    deployer = make_ctx(actor="dora", actor_roles=frozenset({"deployer"}))
    assert run("actor", make_version(), deployer, roles=["deployer"]).passed
    admin = make_ctx(actor="root", actor_roles=frozenset({"admin"}))
    assert run("actor", make_version(), admin, roles=["deployer"]).passed
    r = run(
        "actor",
        make_version(),
        make_ctx(actor="bob", actor_roles=frozenset({"reviewer"})),
        roles=["deployer"],
    )
    assert not r.passed and "only role deployer may" in r.message


def test_actor_deny_registrant() -> None:
    ctx = make_ctx(actor="alice", actor_roles=frozenset({"deployer"}))
    r = run(
        "actor", make_version(created_by="alice"), ctx, roles=["deployer"], deny_registrant=True
    )
    assert not r.passed and "separation of duties" in r.message


def test_actor_needs_something_to_check() -> None:
    with pytest.raises(ValidationError, match="name principals, roles"):
        get_check("actor").params.model_validate({})
    with pytest.raises(ValidationError, match="unknown role 'owner'"):
        get_check("actor").params.model_validate({"roles": ["owner"]})


# expr ------------------------------------------------------------------------------


def test_expression_true_and_false() -> None:
    v = make_version(metrics={"auc@test": 0.9}, lineage=FULL)
    expression = 'version.metrics["auc@test"] >= 0.8 && version.lineage.code.commit != ""'
    r = run("expr", v, expression=expression)
    assert r.passed and r.evidence["result"] is True
    low = make_version(metrics={"auc@test": 0.7}, lineage=FULL)
    r = run("expr", low, expression=expression, message="AUC on test of at least 0.8")
    assert not r.passed and "does not hold: AUC on test of at least 0.8" in r.message


def test_expression_sees_model_stage_approvals_online_and_served() -> None:
    ctx = make_ctx(
        "high",
        target_stage="approved",
        approvals=(approval("bob", 1), approval("carol", 1)),
        observations={3: (observation("ctr@online", 0.04),)},
        served={"production": make_version(2, metrics={"auc": 0.8})},
    )
    v = make_version(metrics={"auc": 0.85}, tags={"team": "risk"})
    for expression in [
        'model.risk_tier == "high"',
        'target_stage == "approved"',
        "size(approvals) >= 2",
        'online["ctr@online"] > 0.03',
        'version.metrics["auc"] > served.production.metrics["auc"]',
        'version.tags.team == "risk" && version.number == 3',
        "version.created_at < now",
        '!("auc@test" in version.metrics)',
    ]:
        assert run("expr", v, ctx, expression=expression).passed, expression


def test_expression_that_cannot_be_evaluated_fails_with_cels_message() -> None:
    r = run("expr", make_version(), expression='version.metrics["auc@test"] >= 0.8')
    assert not r.passed
    assert (
        "could not evaluate" in r.message and "no such key" in r.message and "auc@test" in r.message
    )
    assert r.hint is not None and "in" in r.hint


def test_expression_must_give_a_boolean() -> None:
    r = run("expr", make_version(), expression="version.number + 1")
    assert not r.passed and "not true or false" in r.message


def test_expression_syntax_error_is_refused_when_the_policy_is_read() -> None:
    with pytest.raises(ValidationError, match="syntax error at column 29"):
        get_check("expr").params.model_validate({"expression": 'version.metrics["auc@test"] >'})


# custom ----------------------------------------------------------------------------


def test_custom_check_by_dotted_path_returning_a_bool() -> None:
    with_file = make_version(artifacts=(Artifact(path="model.onnx", size=10, sha256="a" * 64),))
    r = run("custom", with_file, function="tests.gate_plugins:has_artifacts")
    assert r.passed and r.check == "tests.gate_plugins:has_artifacts"
    r = run(
        "custom",
        with_file,
        function="tests.gate_plugins:has_artifacts",
        args={"min": 2},
        name="two_files",
    )
    assert not r.passed and r.check == "two_files" and "two_files failed" in r.message


def test_custom_check_returning_a_result_keeps_its_message_and_hint() -> None:
    r = run(
        "custom",
        make_version(),
        function="tests.gate_plugins:explains",
        args={"overlap": 0.2},
        name="leakage",
    )
    assert not r.passed
    assert r.check == "leakage"
    assert r.message == "label overlap 0.2 is too high"
    assert r.hint == "deduplicate the training and test sets"


@pytest.mark.parametrize(
    ("function", "needle"),
    [
        ("tests.gate_plugins:explodes", "raised RuntimeError: the feature store is down"),
        (
            "tests.no_such_module:check",
            "cannot load tests.no_such_module:check: ModuleNotFoundError",
        ),
        ("tests.gate_plugins:missing", "AttributeError"),
        ("tests.gate_plugins:NOT_A_FUNCTION", "is an int, not a function"),
        ("tests.gate_plugins:answers_in_words", "returned a str, not a CheckResult or True/False"),
    ],
)
def test_custom_check_failures_become_failed_results(function: str, needle: str) -> None:
    r = run("custom", make_version(), function=function)
    assert not r.passed
    assert needle in r.message


def test_custom_check_by_missing_entry_point() -> None:
    r = run("custom", make_version(), entry_point="no_such_check_anywhere")
    assert (
        not r.passed
        and "no entry point 'no_such_check_anywhere' in group 'modelbook.checks'" in r.message
    )


def test_custom_check_cannot_change_the_policy() -> None:
    s = spec("custom", function="tests.gate_plugins:scribbles", args={"limit": 1})
    assert s.run(make_version(), make_ctx()).passed
    assert s.params_json()["args"] == {"limit": 1}
    with pytest.raises(TypeError):
        s.params.args["limit"] = 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"function": "a.b:c", "entry_point": "c"},
        {"function": "not a path"},
        {"function": "module_only"},
    ],
)
def test_custom_check_params(params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        get_check("custom").params.model_validate(params)


# the gate --------------------------------------------------------------------------


def test_gate_passes_when_every_required_check_passes_and_records_advisories() -> None:
    specs = [
        spec("approvals"),
        spec("smoke_test", required=False),
    ]
    outcome = evaluate_gate(specs, make_version(), make_ctx(approvals=(approval("bob", 1),)))
    assert outcome.passed
    assert [r.check for r in outcome.results] == ["approvals", "smoke_test"]
    assert [r.check for r in outcome.warnings] == ["smoke_test"]
    assert outcome.failures == ()
    outcome.raise_if_failed(make_version())


def test_gate_fails_naming_each_failing_check_and_its_hint() -> None:
    specs = [
        spec("approvals", count=2),
        spec("metric", rules=["auc@test >= 0.85"]),
        spec("schema", required=False),
    ]
    outcome = evaluate_gate(
        specs, make_version(metrics={"auc@test": 0.8}), make_ctx(approvals=(approval("bob", 1),))
    )
    assert not outcome.passed
    assert [r.check for r in outcome.failures] == ["approvals", "metric"]
    with pytest.raises(GateFailed) as err:
        outcome.raise_if_failed(make_version())
    message = str(err.value)
    assert "models:/credit/3 cannot enter 'approved': 2 required check(s) failed" in message
    assert "- approvals: 1 of 2" in message
    assert "- metric: auc@test = 0.8, needs >= 0.85 (to pass: register a version" in message
    assert "schema" not in message
    assert err.value.exit_code == 9
    assert [f.check for f in err.value.failures] == ["approvals", "metric"]  # type: ignore[attr-defined]


def test_gate_records_are_json_safe_with_params_and_evidence() -> None:
    outcome = evaluate_gate(
        [spec("metric", rules=["auc@test >= 0.85"]), spec("schema", required=False)],
        make_version(metrics={"auc@test": 0.9}),
        make_ctx(target_stage="candidate"),
    )
    records = outcome.records(actor="ci", at=NOW)
    assert thaw(records[0].params) == {"rules": ["auc@test >= 0.85"]}
    assert records[0].passed and records[0].target_stage == "candidate" and records[0].actor == "ci"
    assert records[1].required is False and records[1].hint
    for record in records:
        record.model_dump_json()


def test_empty_gate_passes() -> None:
    assert evaluate_gate([], make_version(), make_ctx()).passed


def test_unknown_check_names_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match=r"unknown check 'metrc'.*did you mean 'metric'"):
        get_check("metrc")


def test_context_is_read_only() -> None:
    served_map = {"production": make_version(2)}
    ctx = make_ctx(served=served_map)
    served_map.clear()
    assert "production" in ctx.served
    with pytest.raises(TypeError):
        ctx.served["x"] = make_version()  # type: ignore[index]


def test_custom_check_by_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    from modelbook.checks import custom

    point = metadata.EntryPoint(
        name="has_artifacts", value="tests.gate_plugins:has_artifacts", group="modelbook.checks"
    )
    monkeypatch.setattr(custom.metadata, "entry_points", lambda **kw: [point])
    r = run("custom", make_version(), entry_point="has_artifacts")
    assert not r.passed and r.check == "has_artifacts" and "has_artifacts failed" in r.message


# annotations typed on the command line ------------------------------------------------


def test_parse_alert() -> None:
    from modelbook.annotations import parse_alert

    rule = parse_alert("p99_latency_ms > 250")
    assert (rule.name, rule.op, rule.value) == ("p99_latency_ms", ">", 250.0)
    assert rule.fires(300) and not rule.fires(250)
    assert parse_alert("error_rate>=0.01").op == ">="
    for bad in ["p99 > fast", "p99 250", "> 250", "p99 => 250", "p99 > nan", ""]:
        with pytest.raises(InvalidInput, match=r"alert|finite|number"):
            parse_alert(bad)


@given(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_.]{0,20}", fullmatch=True),
    st.sampled_from([">", ">=", "<", "<=", "==", "!="]),
    thresholds,
)
def test_alert_text_round_trips(name: str, op: str, value: float) -> None:
    from modelbook.annotations import parse_alert

    rule = parse_alert(f"{name} {op} {value!r}")
    assert parse_alert(str(rule)) == rule


def test_parse_observation() -> None:
    from modelbook.annotations import parse_observation

    m = parse_observation("ctr@online=0.031")
    assert (m.key, m.value) == ("ctr@online", 0.031)
    assert parse_observation("ctr@online{region=eu}=0.02").key == "ctr@online{region=eu}"
    for bad in ["ctr@online", "ctr@online=high", "=0.1", "ctr@online=inf"]:
        with pytest.raises(InvalidInput):
            parse_observation(bad)


def test_parse_window() -> None:
    from modelbook.annotations import parse_window

    start, end = parse_window("2026-11-01T00:00Z/2026-11-08T00:00Z")
    assert end - start == timedelta(days=7) and start.tzinfo is not None
    with pytest.raises(InvalidInput, match="has no timezone"):
        parse_window("2026-11-01T00:00/2026-11-08T00:00Z")
    with pytest.raises(InvalidInput, match="end must be after the start"):
        parse_window("2026-11-08T00:00Z/2026-11-01T00:00Z")
    with pytest.raises(InvalidInput, match="START/END"):
        parse_window("2026-11-01T00:00Z")
    with pytest.raises(InvalidInput, match="ISO 8601"):
        parse_window("last week/now")


def test_annotation_values_refuse_bad_fields() -> None:
    from modelbook.annotations import Comment, Observation

    with pytest.raises(InvalidInput, match="actor must not be empty"):
        Comment(actor=" ", text="x", at=NOW)
    with pytest.raises(ValidationError, match="timezone"):
        Comment(actor="a", text="x", at=datetime(2026, 1, 1))
    with pytest.raises(InvalidInput, match="start before it ends"):
        Observation(
            metric="ctr@online", value=0.1, window_from=NOW, window_to=NOW, actor="a", at=NOW
        )
    with pytest.raises(InvalidInput, match="invalid metric"):
        Observation(metric="ctr online", value=0.1, actor="a", at=NOW)
    with pytest.raises(ValidationError):
        Comment(actor="a", text="x", at=NOW, kind="rant")  # type: ignore[arg-type]


def test_smoke_test_loader_returning_something_else_fails() -> None:
    r = run("smoke_test", make_version(), make_ctx(smoke_test=lambda v: "ok"))  # type: ignore[arg-type,return-value]
    assert not r.passed and "returned a str" in r.message


def test_context_needs_an_aware_time() -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        make_ctx(now=datetime(2026, 1, 1))
