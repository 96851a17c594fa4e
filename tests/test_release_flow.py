"""The release flow through the Registry API: every stage move allowed or refused, every
built-in gate check passing and failing end to end, and separation of duties.

Each test runs on SQLite and on PostgreSQL (the ``registry`` fixture). The people:
``alice`` registers (no role: contributor operations are open to every local user),
``rita`` and ``ron`` review, ``dan`` and ``dora`` deploy, ``tester`` is named the
registry's first admin. The helpers at the top are shared by the other release tests.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from modelbook import DataRef, InvalidInput, NotFound, Registry
from modelbook.domain import Version, thaw
from modelbook.errors import Conflict, GateFailed, PermissionDenied
from modelbook.store import schema as t

REGISTRANT = "alice"
REVIEWERS = ("rita", "ron")
DEPLOYERS = ("dan", "dora")
ADMIN = "tester"

# policies ----------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    """A Python value as a TOML literal (strings, numbers, booleans, lists, tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)


def gate(tier: str, stage: str, check: str, **params: Any) -> str:
    """One ``[[tiers.TIER.STAGE]]`` entry of a policy."""
    lines = [f"[[tiers.{tier}.{stage}]]", f"check = {json.dumps(check)}"]
    lines += [f"{key} = {toml_value(value)}" for key, value in params.items()]
    return "\n".join(lines) + "\n"


def policy(*gates: str, serving: Iterable[str] = ("production",), stages: str = "") -> str:
    """A complete policy: every tier declared, the given gates, the serving aliases."""
    head = f"serving_aliases = {toml_value(list(serving))}\n"
    if stages:
        head += f"[stages]\n{stages}\n"
    return head + "[tiers.low]\n[tiers.medium]\n[tiers.high]\n\n" + "\n".join(gates)


OPEN = policy()  # no checks at all: every move is a matter of the stage graph only


# the people and their versions ---------------------------------------------------------


@dataclass
class Flow:
    """A registry with its people, and shortcuts through the release flow."""

    reg: Registry
    folder: Path
    made: int = field(default=0)

    def add(
        self,
        name: str = "m",
        *,
        tier: str = "low",
        actor: str = REGISTRANT,
        commit: str | None = "0123abc" + "0" * 33,
        **kw: Any,
    ) -> Version:
        """Register a new version of ``name`` (a fresh file each time)."""
        self.made += 1
        path = self.folder / f"v{self.made}.bin"
        path.write_bytes(os.urandom(64) + str(self.made).encode())
        kw.setdefault("capture_environment", False)
        kw.setdefault("code", None if commit is None else {"commit": commit})
        return self.reg.register(
            name,
            [path],
            owners="team",
            risk_tier=tier,
            actor=actor,
            **kw,
        )

    def approved(self, name: str = "m", **kw: Any) -> Version:
        """A new version in ``approved`` under the policy in force (one review recorded)."""
        v = self.add(name, **kw)
        self.reg.promote(v.uri, to="candidate", actor=REGISTRANT)
        if self.reg.get_version(v.uri).stage.value == "candidate":
            self.reg.approve(v.uri, actor=REVIEWERS[0])
        if self.reg.get_version(v.uri).stage.value != "approved":
            self.reg.promote(v.uri, to="approved", actor=REGISTRANT)
        out = self.reg.get_version(v.uri)
        assert out.stage.value == "approved", out.stage
        return out

    def deployed(self, name: str = "m", alias: str = "production", **kw: Any) -> Version:
        v = self.approved(name, **kw)
        self.reg.deploy(v.uri, alias=alias, reason=f"ship {v.number}", actor=DEPLOYERS[0])
        return self.reg.get_version(v.uri)

    def stage(self, uri: str) -> str:
        return self.reg.get_version(uri).stage.value

    def at_stage(self, stage: str, name: str = "m") -> Version:
        """A new version brought to ``stage`` by the ordinary moves."""
        if stage == "staging":
            return self.add(name)
        if stage == "candidate":
            v = self.add(name)
            self.reg.promote(v.uri, to="candidate")
            return self.reg.get_version(v.uri)
        if stage == "approved":
            return self.approved(name)
        if stage == "deployed":
            return self.deployed(name)
        assert stage == "archived"
        v = self.add(name)
        self.reg.archive(v.uri, note="off the path")
        return self.reg.get_version(v.uri)


def grant_people(reg: Registry) -> None:
    """``tester`` is named the registry's first admin and grants the working roles."""
    reg.grant_role(ADMIN, "admin", actor=ADMIN, first_admin=True)
    for who in REVIEWERS:
        reg.grant_role(who, "reviewer", actor=ADMIN)
    for who in DEPLOYERS:
        reg.grant_role(who, "deployer", actor=ADMIN)


def make_flow(registry: Registry, tmp_path: Path) -> Flow:
    """The people's roles granted, and a folder for the files of new versions."""
    grant_people(registry)
    folder = tmp_path / "files"
    folder.mkdir()
    return Flow(registry, folder)


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    return make_flow(registry, tmp_path)


# what the database says, read behind the registry's back -------------------------------------


def events_of(reg: Registry, model: str | None = None) -> list[Any]:
    """Every event, oldest first (all pages)."""
    out: list[Any] = []
    token = None
    while True:
        page = reg.events(model=model, limit=1000, page_token=token)
        out.extend(page.items)
        token = page.next_page_token
        if token is None:
            return list(reversed(out))


def store_policy(reg: Registry, text: str) -> None:
    """Store a policy as an older modelbook did, without today's checks."""
    with reg.db.engine.begin() as conn:
        conn.execute(
            t.policies.insert(),
            {
                "text": text,
                "format": "toml",
                "source": "policy.toml",
                "sha256": hashlib.sha256(text.encode()).hexdigest(),
                "set_by": ADMIN,
                "set_at": 1_700_000_000_000_000,
            },
        )


def table_counts(reg: Registry) -> dict[str, int]:
    with reg.db.engine.connect() as conn:
        return {
            tbl.name: int(conn.execute(sa.select(sa.func.count()).select_from(tbl)).scalar_one())
            for tbl in t.metadata.sorted_tables
        }


def stages_of(reg: Registry) -> dict[tuple[str, int], tuple[str, bool]]:
    """(model, number) -> (stage, deprecated) for every version, from the rows."""
    with reg.db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                t.models.c.name, t.versions.c.number, t.versions.c.stage, t.versions.c.deprecated_at
            ).select_from(t.versions.join(t.models, t.models.c.id == t.versions.c.model_id))
        )
        return {(r.name, r.number): (r.stage, r.deprecated_at is not None) for r in rows}


def alias_rows(reg: Registry) -> dict[tuple[str, str], int]:
    with reg.db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                t.models.c.name, t.aliases.c.name.label("alias"), t.aliases.c.number
            ).select_from(t.aliases.join(t.models, t.models.c.id == t.aliases.c.model_id))
        )
        return {(r.name, r.alias): r.number for r in rows}


def assert_serving_consistent(reg: Registry, serving: Iterable[str] = ("production",)) -> None:
    """Every version a serving alias points at is ``deployed``, every ``deployed`` version
    is pointed at by a serving alias, and every alias history is an unbroken chain that
    ends where the alias points."""
    serving = tuple(serving)
    stages = stages_of(reg)
    aliases = alias_rows(reg)
    served = {(m, n) for (m, a), n in aliases.items() if a in serving}
    for (model, alias), number in aliases.items():
        if alias in serving:
            assert stages[(model, number)][0] == "deployed", (
                f"{model}@{alias} points at {number}, which is {stages[(model, number)][0]}"
            )
    deployed = {key for key, (stage, _) in stages.items() if stage == "deployed"}
    assert deployed == served, f"deployed {sorted(deployed)} but served {sorted(served)}"
    for model in {m for m, _ in stages}:
        for alias in {a for (m, a) in aliases if m == model} | set(serving):
            history = list(reversed(reg.alias_history(model, alias, limit=1000)))
            previous = None
            for move in history:
                assert move.from_version == previous, f"{model}@{alias}: broken history"
                previous = move.to_version
            assert previous == aliases.get((model, alias)), f"{model}@{alias}: history end"


def frozen(v: Version) -> dict[str, Any]:
    """The part of a version fixed at registration."""
    return v.model_dump(mode="json", exclude={"stage", "tags", "aliases", "deprecated"})


# stage moves -------------------------------------------------------------------------------


def test_promotion_climbs_staging_candidate_approved_with_an_event_per_move(flow: Flow) -> None:
    reg = flow.reg
    v = flow.add()
    assert v.stage.value == "staging"
    done = reg.promote(v.uri, to="candidate", comment="offline eval done", actor=REGISTRANT)
    assert done.stages == ("candidate",)
    assert done.version.stage.value == "candidate"
    moved = [e for e in events_of(reg, "m") if e.action == "version.stage"]
    assert [(e.before, e.after, e.reason, e.actor) for e in moved] == [
        ({"stage": "staging"}, {"stage": "candidate"}, "offline eval done", REGISTRANT)
    ]
    # The default low-risk gate of approved wants one reviewer's approval.
    with pytest.raises(GateFailed):
        reg.promote(v.uri, to="approved", actor=REGISTRANT)
    assert flow.stage(v.uri) == "candidate"
    answer = reg.approve(v.uri, actor="rita", comment="looks good")
    assert answer.stages == ("approved",)
    assert flow.stage(v.uri) == "approved"
    assert reg.verify_audit().ok


def test_an_approval_given_early_counts_when_the_version_gets_there(flow: Flow) -> None:
    """A review recorded while the version is still in staging moves nothing then, and
    lets the later promotion to approved through."""
    reg = flow.reg
    v = flow.add()
    assert reg.approve(v.uri, actor="rita").stages == ()
    assert flow.stage(v.uri) == "staging"
    reg.promote(v.uri, to="candidate")
    assert reg.promote(v.uri, to="approved").stages == ("approved",)


@pytest.mark.parametrize(
    ("current", "target", "legal"),
    [
        ("staging", "approved", "candidate, archived"),
        ("staging", "staging", "candidate, archived"),
        ("candidate", "staging", "approved, archived"),
        ("candidate", "candidate", "approved, archived"),
        ("approved", "candidate", "archived, deployed (by deploy)"),
        ("approved", "staging", "archived, deployed (by deploy)"),
        ("archived", "candidate", "staging"),
        ("archived", "approved", "staging"),
    ],
)
def test_an_illegal_move_is_refused_naming_the_legal_ones(
    flow: Flow, current: str, target: str, legal: str
) -> None:
    reg = flow.reg
    reg.set_policy(OPEN, actor=ADMIN)
    v = flow.at_stage(current)
    before = table_counts(reg)
    with pytest.raises(InvalidInput) as err:
        reg.promote(v.uri, to=target)
    assert f"a version can go to: {legal}" in str(err.value)
    assert err.value.exit_code == 6
    assert flow.stage(v.uri) == current
    assert table_counts(reg) == before, "a refused move wrote something"


def test_a_deployed_version_is_told_to_deploy_another_or_roll_back(flow: Flow) -> None:
    reg = flow.reg
    v = flow.deployed()
    for target in ("approved", "candidate", "staging", "archived"):
        with pytest.raises(InvalidInput, match="roll back"):
            reg.promote(v.uri, to=target)
    with pytest.raises(InvalidInput, match="roll back"):
        reg.archive(v.uri, note="retire")
    assert flow.stage(v.uri) == "deployed"


def test_an_unknown_stage_is_refused_with_the_stages(flow: Flow) -> None:
    v = flow.add()
    with pytest.raises(InvalidInput, match="unknown stage 'aproved': choose one of staging, "):
        flow.reg.promote(v.uri, to="aproved")
    with pytest.raises(InvalidInput, match="--to STAGE"):
        flow.reg.promote(v.uri)


@pytest.mark.parametrize("current", ["staging", "candidate", "approved"])
def test_promoting_to_deployed_points_at_deploy(flow: Flow, current: str) -> None:
    v = flow.at_stage(current)
    with pytest.raises(InvalidInput) as err:
        flow.reg.promote(v.uri, to="deployed")
    assert f"modelbook deploy {v.uri} --reason" in str(err.value)
    assert flow.stage(v.uri) == current
    assert flow.reg.aliases("m") == []


def test_auto_walks_every_gate_up_to_approved(flow: Flow) -> None:
    reg = flow.reg
    v = flow.add()
    reg.approve(v.uri, actor="rita")
    done = reg.promote(v.uri, auto=True)
    assert done.stages == ("candidate", "approved")
    assert [o.target_stage for o in done.outcomes] == ["candidate", "approved"]
    assert all(o.passed for o in done.outcomes)
    kinds = [
        (e.action, (e.after or {}).get("target_stage") or (e.after or {}).get("stage"))
        for e in events_of(reg, "m")
        if e.action in ("version.evaluate", "version.stage")
    ]
    assert kinds == [
        ("version.evaluate", "candidate"),
        ("version.stage", "candidate"),
        ("version.evaluate", "approved"),
        ("version.stage", "approved"),
    ]
    assert reg.get_version(v.uri).stage.value == "approved"
    assert reg.aliases("m") == [], "auto never deploys"


def test_auto_keeps_the_stages_it_passed_and_reports_the_gate_that_stopped_it(flow: Flow) -> None:
    reg = flow.reg
    v = flow.add()
    done = reg.promote(v.uri, auto=True)
    assert done.stages == ("candidate",)
    stopped = done.outcomes[-1]
    assert (stopped.target_stage, stopped.passed) == ("approved", False)
    assert [r.check for r in stopped.failures] == ["approvals"]
    assert flow.stage(v.uri) == "candidate"


def test_auto_that_passes_no_gate_raises_and_moves_nothing(flow: Flow) -> None:
    v = flow.add(commit=None)  # the low-risk candidate gate wants the code commit
    with pytest.raises(GateFailed, match=r"code\.commit"):
        flow.reg.promote(v.uri, auto=True)
    assert flow.stage(v.uri) == "staging"


@pytest.mark.parametrize("current", ["approved", "deployed", "archived"])
def test_auto_with_no_stage_left_says_what_to_do(flow: Flow, current: str) -> None:
    v = flow.at_stage(current)
    hint = "restore it" if current == "archived" else "deploy it"
    with pytest.raises(InvalidInput, match=hint):
        flow.reg.promote(v.uri, auto=True)
    assert flow.stage(v.uri) == current


@pytest.mark.parametrize("current", ["staging", "candidate", "approved"])
def test_archive_from_every_stage_but_deployed(flow: Flow, current: str) -> None:
    reg = flow.reg
    v = flow.at_stage(current)
    who = REGISTRANT
    if current == "approved":
        # An approved version is a rollback target: a deployer's to retire.
        with pytest.raises(PermissionDenied, match="needs the role 'deployer'"):
            reg.archive(v.uri, note="superseded by v9", actor=REGISTRANT)
        who = "dan"
    out = reg.archive(v.uri, note="superseded by v9", actor=who)
    assert out.stage.value == "archived"
    last = events_of(reg, "m")[-1]
    assert (last.action, last.before, last.after, last.reason) == (
        "version.archive",
        {"stage": current},
        {"stage": "archived"},
        "superseded by v9",
    )
    # Kept, not deleted: its files still read back.
    assert reg.read_artifact(v.uri, v.artifacts[0].path)
    with pytest.raises(InvalidInput, match="already in 'archived'"):
        reg.archive(v.uri, note="again")


def test_an_archived_version_is_restored_to_staging_and_climbs_through_every_gate(
    flow: Flow,
) -> None:
    reg = flow.reg
    v = flow.approved()
    reg.archive(v.uri, note="paused")
    with pytest.raises(InvalidInput, match="only a version in 'approved' can be deployed"):
        reg.deploy(v.uri, reason="ship", actor="dan")
    evaluations = len(reg.annotations(v.uri).evaluations)
    reg.promote(v.uri, to="staging", comment="back on the path")
    assert flow.stage(v.uri) == "staging"
    assert reg.promote(v.uri, auto=True).stages == ("candidate", "approved")
    # Each gate ran again (restore, candidate, approved); nothing was waved through.
    assert len(reg.annotations(v.uri).evaluations) == evaluations + 3
    reg.deploy(v.uri, reason="ship", actor="dan")
    assert flow.stage(v.uri) == "deployed"


def test_a_policy_may_declare_its_own_transitions_between_the_builtin_stages(
    flow: Flow,
) -> None:
    """A candidate may be sent back to staging when the policy says so, and the
    refusals then name the policy's moves."""
    reg = flow.reg
    stages = (
        'order = ["staging", "candidate", "approved", "deployed"]\n'
        'transitions = { staging = ["candidate"], candidate = ["approved", "staging"], '
        'archived = ["staging"] }'
    )
    reg.set_policy(policy(stages=stages), actor=ADMIN)
    v = flow.add()
    reg.promote(v.uri, to="candidate")
    reg.promote(v.uri, to="staging", comment="needs another eval")
    assert flow.stage(v.uri) == "staging"
    with pytest.raises(
        InvalidInput, match="from 'staging' a version can go to: candidate, archived"
    ):
        reg.promote(v.uri, to="approved")
    reg.promote(v.uri, to="candidate")
    with pytest.raises(
        InvalidInput, match="from 'candidate' a version can go to: staging, approved, archived"
    ):
        reg.promote(v.uri, to="candidate")


CUSTOM_STAGES = (
    'order = ["dev", "shadow", "canary", "deployed"]\n'
    'transitions = { dev = ["shadow"], shadow = ["canary", "dev"], archived = ["dev"] }'
)


def test_custom_stages_a_new_version_enters_the_first_one(flow: Flow) -> None:
    reg = flow.reg
    reg.set_policy(policy(stages=CUSTOM_STAGES), actor=ADMIN)
    v = flow.add()
    assert v.stage == "dev"
    reg.promote(v.uri, to="shadow")
    reg.promote(v.uri, to="canary")
    reg.deploy(v.uri, reason="ship", actor="dan")
    assert flow.stage(v.uri) == "deployed"


def test_custom_stages_a_version_in_a_custom_stage_reads_back(flow: Flow) -> None:
    reg = flow.reg
    stages = 'order = ["staging", "qa", "ready", "deployed"]'
    reg.set_policy(policy(stages=stages), actor=ADMIN)
    v = flow.add()
    done = reg.promote(v.uri, to="qa")
    assert done.stages == ("qa",)
    assert reg.get_version(v.uri).stage == "qa"
    reg.promote(v.uri, to="ready")
    reg.deploy(v.uri, reason="ship", actor="dan")
    assert reg.get_version(v.uri).stage == "deployed"


def test_custom_stages_through_the_whole_flow(flow: Flow) -> None:
    """With the policy's own stages, the stage before ``deployed`` plays the part of
    ``approved``: deploy comes from it, undeployed and rollback targets return to it."""
    reg = flow.reg
    reg.set_policy(policy(stages=CUSTOM_STAGES), actor=ADMIN)
    v = flow.add()
    with pytest.raises(InvalidInput, match="from 'dev' a version can go to: shadow, archived"):
        reg.promote(v.uri, to="canary")
    reg.promote(v.uri, to="shadow")
    reg.promote(v.uri, to="dev", comment="back for another look")
    assert reg.promote(v.uri, auto=True).stages == ("shadow", "canary")
    with pytest.raises(InvalidInput, match="only a version in 'canary' can be deployed"):
        reg.deploy(flow.add().uri, reason="too early", actor="dan")
    reg.deploy(v.uri, reason="ship", actor="dan")
    w = flow.add()
    reg.promote(w.uri, auto=True)
    reg.deploy(w.uri, reason="ship", actor="dan")
    assert (flow.stage(v.uri), flow.stage(w.uri)) == ("canary", "deployed")
    plan = reg.rollback("m", reason_code="kpi_drop", actor="dan")
    assert plan.to_version == v.number and "that is canary and not deprecated" in plan.why
    assert (flow.stage(v.uri), flow.stage(w.uri)) == ("deployed", "canary")
    reg.archive(w.uri, note="bad")
    reg.promote(w.uri, to="dev", comment="fixed", actor="dan")
    assert flow.stage(w.uri) == "dev"
    assert_serving_consistent(reg)
    assert reg.verify_audit().ok


# gates: what a refusal writes ----------------------------------------------------------------


def test_a_refused_gate_lists_every_failure_and_writes_only_its_evaluation(flow: Flow) -> None:
    reg = flow.reg
    reg.set_policy(
        policy(
            gate("low", "candidate", "metric", rules=["auc@test >= 0.9"]),
            gate("low", "candidate", "lineage_complete", fields=["run_id", "code.commit"]),
            gate("low", "candidate", "schema"),
            gate("low", "candidate", "smoke_test", required=False),
            gate("low", "candidate", "actor", principals=[REGISTRANT]),
        ),
        actor=ADMIN,
    )
    v = flow.add(metrics={"auc@test": 0.8})
    before_counts = table_counts(reg)
    before_events = events_of(reg)
    with pytest.raises(GateFailed) as err:
        reg.promote(v.uri, to="candidate", actor=REGISTRANT)
    exc = err.value
    assert exc.exit_code == 9
    message = str(exc)
    assert message.startswith(f"{v.uri} cannot enter 'candidate': 3 required check(s) failed")
    for expected in (
        "- metric: auc@test = 0.8, needs >= 0.9 (to pass: ",
        "- lineage_complete: version 1 lacks run_id (to pass: ",
        "--run-id",
        "- schema: no contract registered on version 1 (to pass: ",
    ):
        assert expected in message
    assert "smoke_test" not in message, "an advisory check does not block"
    assert [f.check for f in exc.failures] == ["metric", "lineage_complete", "schema"]  # type: ignore[attr-defined]

    # Only the evaluation is written: one annotation and its event; the stage is kept.
    after_counts = table_counts(reg)
    changed = {
        k: after_counts[k] - before_counts[k]
        for k in after_counts
        if after_counts[k] != before_counts[k]
    }
    assert changed == {"annotations": 1, "events": 1}
    new = events_of(reg)[len(before_events) :]
    assert [e.action for e in new] == ["version.evaluate"]
    assert new[0].after["passed"] is False and new[0].after["target_stage"] == "candidate"
    assert flow.stage(v.uri) == "staging"
    assert frozen(reg.get_version(v.uri)) == frozen(v)

    records = reg.evidence(v.uri)
    assert [(r.check, r.passed, r.required) for r in records] == [
        ("metric", False, True),
        ("lineage_complete", False, True),
        ("schema", False, True),
        ("smoke_test", False, False),
        ("actor", True, True),
    ]
    assert all(r.target_stage == "candidate" and r.actor == REGISTRANT for r in records)
    assert all((r.hint is None) == r.passed for r in records)
    assert thaw(records[0].params) == {"rules": ["auc@test >= 0.9"]}
    assert reg.verify_audit().ok


def promote_ok(flow: Flow, uri: str, stage: str = "candidate", actor: str = REGISTRANT) -> Any:
    done = flow.reg.promote(uri, to=stage, actor=actor)
    assert done.stages == (stage,)
    return done.outcomes[-1]


def promote_refused(flow: Flow, uri: str, stage: str = "candidate", actor: str = REGISTRANT) -> str:
    before = flow.stage(uri)
    with pytest.raises(GateFailed) as err:
        flow.reg.promote(uri, to=stage, actor=actor)
    assert flow.stage(uri) == before
    return str(err.value)


# every built-in check, passing and failing end to end ---------------------------------------------


def test_metric_thresholds_on_slices_and_every_slice(flow: Flow) -> None:
    flow.reg.set_policy(
        policy(gate("low", "candidate", "metric", rules=["auc@test >= 0.8", "auc@test{*} >= 0.7"])),
        actor=ADMIN,
    )
    good = flow.add(
        metrics={"auc@test": 0.85, "auc@test{region=eu}": 0.75, "auc@test{region=us}": 0.71}
    )
    outcome = promote_ok(flow, good.uri)
    assert "auc@test = 0.85 (>= 0.8)" in outcome.results[0].message
    weak_slice = flow.add(
        metrics={"auc@test": 0.85, "auc@test{region=eu}": 0.75, "auc@test{region=us}": 0.62}
    )
    message = promote_refused(flow, weak_slice.uri)
    assert "auc@test{region=us} = 0.62" in message
    assert (
        "auc@test{region=eu}" not in message.split("auc@test{region=us}")[0].split("- metric:")[1]
    )
    no_slices = flow.add(metrics={"auc@test": 0.9})
    assert "auc@test{*}" in promote_refused(flow, no_slices.uri)
    missing = flow.add(metrics={"auc@val": 0.9, "auc@test{region=eu}": 0.9})
    message = promote_refused(flow, missing.uri)
    assert "'auc@test' is not registered" in message
    assert "--metric 'auc@test=VALUE'" in message


def test_metric_reads_online_observations_for_keys_not_registered(flow: Flow) -> None:
    reg = flow.reg
    reg.set_policy(
        policy(gate("low", "candidate", "metric", rules=["ctr@online >= 0.03"])), actor=ADMIN
    )
    v = flow.add()
    promote_refused(flow, v.uri)
    reg.observe(v.uri, "ctr@online", 0.02, source="shadow")
    assert "ctr@online = 0.02" in promote_refused(flow, v.uri)
    reg.observe(v.uri, "ctr@online", 0.035, source="shadow")
    promote_ok(flow, v.uri)


def test_slice_gap_bounds_the_spread_across_slices(flow: Flow) -> None:
    flow.reg.set_policy(
        policy(
            gate(
                "low",
                "candidate",
                "slice_gap",
                metric="approval_rate@test",
                by="age_band",
                max_gap=0.05,
            )
        ),
        actor=ADMIN,
    )
    fair = flow.add(
        metrics={
            "approval_rate@test{age_band=18-25}": 0.40,
            "approval_rate@test{age_band=26-60}": 0.43,
            "approval_rate@test{region=eu}": 0.10,  # another cut: not compared
        }
    )
    promote_ok(flow, fair.uri)
    unfair = flow.add(
        metrics={
            "approval_rate@test{age_band=18-25}": 0.30,
            "approval_rate@test{age_band=26-60}": 0.43,
        }
    )
    message = promote_refused(flow, unfair.uri)
    assert (
        "between approval_rate@test{age_band=26-60} (0.43) and "
        "approval_rate@test{age_band=18-25} (0.3)" in message
    )
    assert "at most 0.05 is allowed" in message
    one = flow.add(metrics={"approval_rate@test{age_band=18-25}": 0.30})
    assert "the check needs at least 2" in promote_refused(flow, one.uri)


def test_compare_against_the_version_production_serves(flow: Flow) -> None:
    reg = flow.reg
    reg.set_policy(
        policy(
            gate(
                "low",
                "approved",
                "compare",
                metrics=["auc@test", "logloss@test"],
                lower_is_better=["logloss@test"],
                tolerance={"auc@test": 0.01, "logloss@test": 0.0},
            )
        ),
        actor=ADMIN,
    )
    first = flow.add(metrics={"auc@test": 0.80, "logloss@test": 0.40})
    reg.promote(first.uri, to="candidate")
    outcome = promote_ok(flow, first.uri, "approved")
    assert "nothing to compare" in outcome.results[0].message
    reg.deploy(first.uri, reason="first", actor="dan")

    within = flow.add(metrics={"auc@test": 0.795, "logloss@test": 0.39})
    reg.promote(within.uri, to="candidate")
    promote_ok(flow, within.uri, "approved")

    for metrics, named in (
        ({"auc@test": 0.70, "logloss@test": 0.39}, "auc@test 0.7 is lower than 0.8"),
        ({"auc@test": 0.85, "logloss@test": 0.41}, "logloss@test 0.41 is higher than 0.4"),
        ({"logloss@test": 0.30}, "has no 'auc@test'"),  # lacks a metric production has
    ):
        worse = flow.add(metrics=metrics)
        reg.promote(worse.uri, to="candidate")
        message = promote_refused(flow, worse.uri, "approved")
        assert named in message.split("- compare:")[1]
        assert "production (version 1)" in message
        compared = [r for r in reg.evidence(worse.uri) if r.check == "compare"][-1]
        assert compared.evidence["served"] == 1


def test_compare_online_metrics_at_the_deploy_gate(flow: Flow) -> None:
    """Shadow traffic gives ``ctr@online``; the new version must not be worse than the
    one production serves, by their latest observations."""
    reg = flow.reg
    reg.set_policy(
        policy(gate("low", "deployed", "compare", metrics=["ctr@online"], tolerance=0.001)),
        actor=ADMIN,
    )
    live = flow.deployed()
    reg.observe(live.uri, "ctr@online", 0.050, source="prod")
    new = flow.approved()
    reg.observe(new.uri, "ctr@online", 0.060, source="shadow")
    reg.observe(new.uri, "ctr@online", 0.040, source="shadow")  # the latest counts
    with pytest.raises(GateFailed, match="ctr@online"):
        reg.deploy(new.uri, reason="ship", actor="dan")
    assert [a.version for a in reg.aliases("m")] == [live.number]
    assert flow.stage(new.uri) == "approved"
    reg.observe(new.uri, "ctr@online", 0.0495, source="shadow")  # within tolerance
    reg.deploy(new.uri, reason="ship", actor="dan")
    assert reg.get_version("models:/m@production").number == new.number
    deploy_evals = [e for e in reg.annotations(new.uri).evaluations if e.target_stage == "deployed"]
    assert [e.passed for e in deploy_evals] == [False, True]


def test_lineage_complete_names_each_missing_field_and_how_to_provide_it(flow: Flow) -> None:
    flow.reg.set_policy(
        policy(
            gate("low", "candidate", "lineage_complete", fields=["code.commit", "data", "run_id"])
        ),
        actor=ADMIN,
    )
    full = flow.add(data=["snap-2026-11"], run_id="run-7")
    assert "present: code.commit, data, run_id" in promote_ok(flow, full.uri).results[0].message
    bare = flow.add(commit=None)
    message = promote_refused(flow, bare.uri)
    assert "lacks code.commit, data, run_id" in message
    assert "--data-snapshot" in message and "--run-id" in message


def test_schema_and_smoke_test_fail_honestly_and_advisory_ones_do_not_block(flow: Flow) -> None:
    reg = flow.reg
    reg.set_policy(
        policy(gate("low", "candidate", "schema"), gate("low", "candidate", "smoke_test")),
        actor=ADMIN,
    )
    with_contract = flow.add(contract={"inputs": [{"name": "x", "type": "float"}]})
    message = promote_refused(flow, with_contract.uri)
    assert "schema" not in message, "a version with a contract passes the schema check"
    assert "- smoke_test: no smoke test recorded on version 1" in message
    without = flow.add()
    message = promote_refused(flow, without.uri)
    assert "- schema: no contract registered on version 2" in message

    reg.set_policy(
        policy(
            gate("low", "candidate", "schema", required=False),
            gate("low", "candidate", "smoke_test", required=False),
        ),
        actor=ADMIN,
    )
    outcome = promote_ok(flow, without.uri)
    assert [(r.check, r.passed) for r in outcome.warnings] == [
        ("schema", False),
        ("smoke_test", False),
    ]
    recorded = [r for r in reg.evidence(without.uri) if not r.required]
    assert {r.check for r in recorded} == {"schema", "smoke_test"}
    assert all(not r.passed and r.hint for r in recorded)


def test_approvals_count_distinct_people_holding_the_role(flow: Flow) -> None:
    reg = flow.reg
    reg.set_policy(
        policy(gate("low", "approved", "approvals", count=2, role="reviewer")), actor=ADMIN
    )
    reg.grant_role("dan", "reviewer", actor=ADMIN)
    v = flow.add()
    reg.promote(v.uri, to="candidate")
    first = reg.approve(v.uri, actor="rita")
    assert first.stages == ()
    assert "1 of 2 approval(s) from reviewer (rita)" in first.outcomes[0].results[0].message
    with pytest.raises(Conflict, match="'rita' already approved"):
        reg.approve(v.uri, actor="rita")
    # Withdrawn and given again: still one person, counted once.
    reg.reject(v.uri, actor="rita", comment="wait, one more check")
    again = reg.approve(v.uri, actor="rita")
    assert again.stages == ()
    assert "1 of 2" in again.outcomes[0].results[0].message
    assert flow.stage(v.uri) == "candidate"
    second = reg.approve(v.uri, actor="ron")
    assert second.stages == ("approved",)
    assert set(second.outcomes[0].results[0].evidence["approvers"]) == {"rita", "ron"}


def test_an_approval_counts_only_with_the_role_held_when_approving(flow: Flow) -> None:
    reg = flow.reg
    v = flow.add()
    reg.promote(v.uri, to="candidate")
    with pytest.raises(PermissionDenied) as err:
        reg.approve(v.uri, actor="dan")
    assert "needs the role 'reviewer'" in str(err.value)
    assert "modelbook role grant dan reviewer" in str(err.value)
    assert err.value.exit_code == 10
    assert reg.annotations(v.uri).approvals == ()
    # An approval given by a reviewer stops counting for another role's gate.
    reg.set_policy(policy(gate("low", "approved", "approvals", role="deployer")), actor=ADMIN)
    reg.approve(v.uri, actor="rita")
    message = promote_refused(flow, v.uri, "approved")
    assert "rita" in message and "held reviewer when approving, not deployer" in message


def test_attestation_by_role_and_age(flow: Flow) -> None:
    reg = flow.reg
    reg.set_policy(
        policy(
            gate(
                "low",
                "candidate",
                "attestation",
                name="pii_review",
                role="reviewer",
                max_age_days=30,
            )
        ),
        actor=ADMIN,
    )
    v = flow.add()
    message = promote_refused(flow, v.uri)
    assert "no pii_review attestation by a reviewer on version 1" in message
    reg.grant_role("dan", "reviewer", actor=ADMIN)
    reg.attest(v.uri, "security_scan", actor="rita")  # another sign-off does not count
    promote_refused(flow, v.uri)
    with pytest.raises(PermissionDenied, match="modelbook role grant alice reviewer"):
        reg.attest(v.uri, "pii_review", actor=REGISTRANT)
    reg.attest(v.uri, "pii_review", actor="rita", comment="no PII in features")
    with pytest.raises(Conflict):
        reg.attest(v.uri, "pii_review", actor="rita")
    # Forty days later the sign-off is too old.
    real = reg.ctx.clock
    reg.ctx.clock = lambda: real() + int(timedelta(days=40).total_seconds() * 1e6)
    try:
        assert "days old" in promote_refused(flow, v.uri)
    finally:
        reg.ctx.clock = real
    outcome = promote_ok(flow, v.uri)
    assert "pii_review signed off by rita" in outcome.results[0].message


def test_actor_check_by_principal_role_and_registrant(flow: Flow) -> None:
    reg = flow.reg
    reg.set_policy(
        policy(
            gate("low", "candidate", "actor", principals=["ci"]),
            gate("low", "deployed", "actor", roles=["deployer"], deny_registrant=True),
        ),
        actor=ADMIN,
    )
    v = flow.add(actor="dan")
    assert "alice" in promote_refused(flow, v.uri, actor=REGISTRANT)
    promote_ok(flow, v.uri, actor="ci")
    reg.approve(v.uri, actor="rita")
    with pytest.raises(GateFailed, match="registered"):
        reg.deploy(v.uri, reason="ship", actor="dan")
    assert flow.stage(v.uri) == "approved"
    reg.deploy(v.uri, reason="ship", actor="dora")
    assert flow.stage(v.uri) == "deployed"


def test_expr_evaluates_cel_over_the_version(flow: Flow) -> None:
    reg = flow.reg
    reg.set_policy(
        policy(
            gate(
                "low",
                "candidate",
                "expr",
                expression=(
                    'version.metrics["auc@test"] >= 0.8 && !("experimental" in version.tags)'
                ),
                message="auc@test of at least 0.8, and not experimental",
            )
        ),
        actor=ADMIN,
    )
    good = flow.add(metrics={"auc@test": 0.85})
    promote_ok(flow, good.uri)
    tagged = flow.add(metrics={"auc@test": 0.85}, tags={"experimental": "yes"})
    assert "auc@test of at least 0.8, and not experimental" in promote_refused(flow, tagged.uri)
    weak = flow.add(metrics={"auc@test": 0.5})
    promote_refused(flow, weak.uri)
    lacking = flow.add(metrics={"auc@val": 0.9})
    assert "no such key" in promote_refused(flow, lacking.uri)


def test_custom_check_by_dotted_path(flow: Flow) -> None:
    reg = flow.reg
    reg.set_policy(
        policy(
            gate(
                "low",
                "candidate",
                "custom",
                function="tests.gate_plugins:has_artifacts",
                args={"min": 2},
                name="two_files",
            ),
        ),
        actor=ADMIN,
    )
    one = flow.add()
    assert "- two_files:" in promote_refused(flow, one.uri)
    pair = flow.folder / "pair"
    pair.mkdir()
    (pair / "a.bin").write_bytes(b"a")
    (pair / "b.bin").write_bytes(b"b")
    two = reg.register(
        "m", [pair], actor=REGISTRANT, code={"commit": "abc" + "0" * 37}, capture_environment=False
    )
    outcome = promote_ok(flow, two.uri)
    assert outcome.results[0].check == "two_files"

    reg.set_policy(
        policy(
            gate(
                "low",
                "candidate",
                "custom",
                function="tests.gate_plugins:explains",
                args={"overlap": 0.2},
            ),
            gate("low", "candidate", "custom", function="tests.gate_plugins:explodes"),
        ),
        actor=ADMIN,
    )
    message = promote_refused(flow, one.uri)
    assert (
        "label overlap 0.2 is too high (to pass: deduplicate the training and test sets)" in message
    )
    assert "the feature store is down" in message


# separation of duties ---------------------------------------------------------------------------


def test_the_registrant_of_a_high_risk_version_cannot_approve_it(flow: Flow) -> None:
    reg = flow.reg
    reg.grant_role(REGISTRANT, "reviewer", actor=ADMIN)
    v = flow.add(tier="high", commit=None)
    with pytest.raises(PermissionDenied) as err:
        reg.approve(v.uri, actor=REGISTRANT)
    assert "separation of duties" in str(err.value)
    assert reg.annotations(v.uri).approvals == ()
    # The registry's admin registered this one: not even an admin approves their own.
    own = flow.add("credit", tier="high", actor=ADMIN, commit=None)
    with pytest.raises(PermissionDenied, match="separation of duties"):
        reg.approve(own.uri, actor=ADMIN)
    # Another reviewer may.
    reg.approve(v.uri, actor="rita")
    assert [a.actor for a in reg.annotations(v.uri).approvals] == ["rita"]


def test_another_spelling_of_the_registrants_name_is_the_registrant(flow: Flow) -> None:
    """ "José" written with a combining accent (NFD) is the same person as "José"
    written with one character (NFC): not a second reviewer."""
    reg = flow.reg
    nfc, nfd = "jos\u00e9", "jose\u0301"
    reg.grant_role(nfd, "reviewer", actor=ADMIN)
    assert [g.actor for g in reg.roles() if g.role == "reviewer"].count(nfc) == 1
    v = flow.add(tier="high", actor=nfc, commit=None)
    assert v.created_by == nfc
    with pytest.raises(PermissionDenied, match="separation of duties"):
        reg.approve(v.uri, actor=nfd)
    assert reg.annotations(v.uri).approvals == ()


def test_separation_of_duties_in_a_lower_tier_discounts_the_registrant(flow: Flow) -> None:
    reg = flow.reg
    reg.set_policy(
        policy(gate("low", "approved", "approvals", count=1, separation_of_duties=True)),
        actor=ADMIN,
    )
    reg.grant_role(REGISTRANT, "reviewer", actor=ADMIN)
    v = flow.add()
    reg.promote(v.uri, to="candidate")
    own = reg.approve(v.uri, actor=REGISTRANT)
    assert own.stages == ()
    assert "registered this version (separation of duties)" in str(
        own.outcomes[0].results[0].evidence
    )
    assert reg.approve(v.uri, actor="rita").stages == ("approved",)


def test_the_default_high_risk_flow_needs_two_reviewers_and_a_pii_review(flow: Flow) -> None:
    reg = flow.reg
    v = flow.add(
        "credit",
        tier="high",
        code={"commit": "abc" + "0" * 37, "dirty": False},
        data=[DataRef(snapshot="s1", sha256="a" * 64)],
        environment={"lockfile": {"path": "uv.lock", "sha256": "b" * 64}},
    )
    reg.promote(v.uri, to="candidate")
    assert reg.approve(v.uri, actor="rita").stages == ()
    assert reg.approve(v.uri, actor="ron").stages == ()  # the pii_review is missing
    reg.attest(v.uri, "pii_review", actor="rita")  # the last missing piece: in it goes
    assert flow.stage(v.uri) == "approved"
    with pytest.raises(PermissionDenied, match="deployer"):
        reg.deploy(v.uri, reason="ship", actor="rita")
    reg.deploy(v.uri, reason="ship", actor="dan")


def test_refusals_on_archived_or_missing_versions(flow: Flow) -> None:
    reg = flow.reg
    with pytest.raises(NotFound):
        reg.promote("models:/m/1", to="candidate")
    v = flow.at_stage("archived")
    with pytest.raises(InvalidInput, match="nothing to approve"):
        reg.approve(v.uri, actor="rita")
    with pytest.raises(InvalidInput, match="reason"):
        reg.reject(v.uri, actor="rita", comment=" ")


def test_a_stage_name_of_the_documented_length_is_stored_on_every_database(flow: Flow) -> None:
    """Stage names may be 16 characters long (docs/release-flow.md), the width of the
    stage column on every database; a longer one is refused when the policy is set."""
    reg = flow.reg
    with pytest.raises(InvalidInput, match="1-16"):
        reg.set_policy(policy(stages=f'order = ["staging", "{"a" * 17}", "deployed"]'), actor=ADMIN)
    longest = "a" + "b" * 15
    assert len(longest) == 16
    reg.set_policy(policy(stages=f'order = ["staging", "{longest}", "deployed"]'), actor=ADMIN)
    v = flow.add()
    assert reg.promote(v.uri, to=longest).stages == (longest,)
    assert flow.stage(v.uri) == longest
    reg.deploy(v.uri, reason="ship", actor="dan")
    assert flow.stage(v.uri) == "deployed"


def test_a_rejection_blocks_until_answered(flow: Flow) -> None:
    """A rejection recorded after the last counted approval blocks the gate; an
    approval given after it (having read it) answers it."""
    reg = flow.reg
    v = flow.add()
    reg.approve(v.uri, actor="rita")
    reg.reject(v.uri, actor="ron", comment="calibration is off on the EU slice")
    reg.promote(v.uri, to="candidate")
    message = promote_refused(flow, v.uri, "approved")
    assert "ron" in message and "calibration is off on the EU slice" in message
    assert [r.comment for r in reg.annotations(v.uri).rejections] == [
        "calibration is off on the EU slice"
    ]
    answered = reg.approve(v.uri, actor="ron", comment="fixed in the EU slice")
    assert answered.stages == ("approved",)
