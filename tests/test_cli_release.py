"""The release flow through the command line, on SQLite and on PostgreSQL: a policy set,
promotion through gates, review, deploy, rollback (dry run, drill, for real), annotations
and the verified audit trail, driven in-process through ``modelbook.cli.main`` with
``MODELBOOK_USER`` set per call.

The people: ``alice`` registers (and, named with ``role grant --first-admin`` on the
schema the fixture made without an admin, is its first admin), ``rita`` reviews, ``dan``
deploys, ``eve`` holds no role.

The last test checks, as ``tests/test_cli_docs.py`` does for the other commands, that
every field these commands print with ``--json`` is documented in ``docs/cli.md``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from modelbook.blobs_temp import TEMP_DIR, temp_name
from modelbook.cli.app import Options
from modelbook.services.gc import GRACE_SECONDS
from tests.test_cli import Run, run_main
from tests.test_cli_docs import DATA_KEYS, DOC, _sections

# The commands of this file, as docs/cli.md names their sections.
RELEASE_COMMANDS = {
    "promote", "approve", "reject", "attest", "evidence", "deprecate", "archive",
    "deploy", "rollback", "mark-healthy", "gc", "alias swap",
    "comment", "watch", "observe",
    "policy set", "policy show", "role grant", "role revoke", "role list",
    "audit log", "audit verify", "audit head",
}  # fmt: skip

POLICY = """\
serving_aliases = ["production"]

[[tiers.low.candidate]]
check = "lineage_complete"
fields = ["code.commit", "data"]

[[tiers.low.candidate]]
check = "metric"
rules = ["auc@test >= 0.75"]

[[tiers.low.approved]]
check = "approvals"
count = 1
role = "reviewer"

[[tiers.low.approved]]
check = "smoke_test"
required = false

# Deployers ship, and not a version they registered themselves.
[[tiers.low.deployed]]
check = "actor"
roles = ["deployer"]
deny_registrant = true

[tiers.medium]
[tiers.high]
"""

# For the documentation's outputs: one actor (the admin) does everything.
DOCS_POLICY = """\
serving_aliases = ["production"]

[[tiers.low.candidate]]
check = "lineage_complete"
fields = ["code.commit"]

[[tiers.low.approved]]
check = "approvals"
count = 1

[[tiers.low.approved]]
check = "smoke_test"
required = false

[tiers.medium]
[tiers.high]
"""

# Line 7 names a check that does not exist; line 12 gives a parameter it does not take.
BAD_POLICY = """\
serving_aliases = ["production"]

[tiers.medium]
[tiers.high]

[[tiers.low.candidate]]
check = "metrc"
rules = ["auc@test >= 0.75"]

[[tiers.low.approved]]
check = "approvals"
colour = "blue"
"""


CLI = Callable[..., Run]
# A full git commit id: registration refuses anything else.
COMMIT = "abc123" + "0" * 34


def runner(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CLI:
    """Runs one command in-process as ``user`` (default alice)."""

    def run(*args: object, user: str = "alice") -> Run:
        monkeypatch.setenv("MODELBOOK_USER", user)
        return run_main(args, capsys)

    return run


@pytest.fixture
def cli(
    db_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[CLI]:
    """Run one command in-process against the test's database, as ``user``."""
    monkeypatch.setenv("MODELBOOK_URI", db_uri)
    monkeypatch.setenv("MODELBOOK_BLOB_URI", str(tmp_path / "blobs"))
    monkeypatch.setenv("MODELBOOK_HOME", str(tmp_path / "home"))
    yield runner(monkeypatch, capsys)


@pytest.fixture
def files(tmp_path: Path) -> Callable[[], Path]:
    """A fresh model file for each registration."""
    made = [0]

    def make() -> Path:
        made[0] += 1
        path = tmp_path / "src" / f"v{made[0]}" / "model.bin"
        path.parent.mkdir(parents=True)
        path.write_bytes(os.urandom(64) + str(made[0]).encode())
        return path

    return make


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def register(cli: CLI, path: Path, *extra: str, auc: float = 0.8) -> int:
    """Register a version of ``ctr`` as alice; its number."""
    run = cli(
        "register", "ctr", path, "--owner", "ranking", "--risk", "low", "--commit", COMMIT,
        "--metric", f"auc@test={auc}", "--no-capture", *extra, "--json",
    )  # fmt: skip
    return int(run.json()["number"])


def good(cli: CLI, path: Path) -> int:
    """A version that passes the candidate gate of POLICY."""
    return register(cli, path, "--data-snapshot", "clicks@2026-11-01")


def setup_people(cli: CLI, tmp_path: Path) -> None:
    """alice (named first admin) sets POLICY and grants rita reviewer and dan deployer."""
    assert cli("role", "grant", "alice", "admin", "--first-admin").code in (0, 5)
    assert cli("policy", "set", write(tmp_path / "policy.toml", POLICY)).code == 0
    assert cli("role", "grant", "rita", "reviewer").code == 0
    assert cli("role", "grant", "dan", "deployer").code == 0


def ship(cli: CLI, number: int, reason: str) -> Run:
    """Promote, approve (rita) and deploy (dan) version ``number``."""
    assert cli("promote", f"ctr/{number}", "--to", "candidate").code == 0
    assert cli("approve", f"ctr/{number}", user="rita").code == 0
    return cli("deploy", f"ctr/{number}", "--reason", reason, user="dan")


def production(cli: CLI) -> int:
    aliases = cli("alias", "list", "ctr", "--json").json()
    return next(int(a["version"]) for a in aliases if a["name"] == "production")


def tamper(db_uri: str, event_id: int) -> None:
    """Edit one stored event behind the registry's back: drop the append-only trigger first."""
    engine = sa.create_engine(db_uri)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.execute(sa.text("DROP TRIGGER events_append_only_update"))
            else:
                conn.execute(sa.text("DROP TRIGGER events_append_only ON events"))
            conn.execute(
                sa.text(
                    "UPDATE events SET canonical = replace(canonical, 'kpi_drop', 'planned') "
                    "WHERE id = :id"
                ),
                {"id": event_id},
            )
    finally:
        engine.dispose()


# the whole story ------------------------------------------------------------------------


def test_the_release_story(
    cli: CLI, files: Callable[[], Path], tmp_path: Path, db_uri: str
) -> None:
    # alice registers the first version; she created the registry, so she is its admin.
    weak = register(cli, files(), auc=0.7)
    # Only an admin's policy is read: before alice is named one, the role is refused.
    bad = cli("policy", "set", write(tmp_path / "bad.toml", BAD_POLICY))
    assert bad.code == 10, bad
    assert cli("role", "grant", "alice", "admin", "--first-admin").code == 0
    bad = cli("policy", "set", write(tmp_path / "bad.toml", BAD_POLICY))
    assert bad.code == 6, bad
    assert "bad.toml line 7: unknown check 'metrc'" in bad.err
    assert "bad.toml line 12: unknown key 'colour'" in bad.err
    assert cli("policy", "show", "--json").json()["default"] is True
    setup_people(cli, tmp_path)
    shown = cli("policy", "show", "--json").json()
    assert (shown["default"], shown["source"], shown["set_by"]) == (False, "policy.toml", "alice")
    assert shown["text"] == POLICY
    assert "set by alice" in cli("policy", "show").out
    roles = {(g["actor"], g["role"]) for g in cli("role", "list", "--json").json()}
    assert roles == {("alice", "admin"), ("rita", "reviewer"), ("dan", "deployer")}

    # The weak version is refused: every failing check with what would make it pass, exit 9.
    refused = cli("promote", f"ctr/{weak}", "--to", "candidate")
    assert refused.code == 9, refused
    assert "gate candidate: REFUSED" in refused.out
    assert "FAIL" in refused.out and "lineage_complete: version 1 lacks data" in refused.out
    assert "to pass: register a version whose auc@test is >= 0.75" in refused.out
    assert refused.err.startswith("error: models:/ctr/1 cannot enter 'candidate'")
    as_json = cli("promote", f"ctr/{weak}", "--to", "candidate", "--json")
    assert as_json.code == 9
    data = json.loads(as_json.out)
    assert (data["uri"], data["stage"], data["entered"]) == ("models:/ctr/1", "staging", [])
    failed = {c["check"]: c for c in data["gates"][0]["checks"]}
    assert failed["metric"]["passed"] is False and failed["metric"]["hint"]
    assert failed["metric"]["params"] == {"rules": ["auc@test >= 0.75"]}

    # A good version passes the objective checks; --auto stops at the review.
    v2 = good(cli, files())
    auto = cli("promote", f"ctr/{v2}", "--auto")
    assert auto.code == 0, auto
    assert "gate candidate: passed" in auto.out and "gate approved: REFUSED" in auto.out
    assert "advisory" in auto.out  # the smoke test is recorded, not blocking
    assert "now candidate" in auto.out

    # rita approves; the gate passes and the version is approved.
    approved = cli("approve", f"ctr/{v2}", "--comment", "offline numbers hold", user="rita")
    assert approved.code == 0, approved
    assert "approved models:/ctr/2 as rita" in approved.out and "now approved" in approved.out

    # dan deploys it: nothing held production before.
    first = cli("deploy", f"ctr/{v2}", "--reason", "first launch", user="dan")
    assert first.code == 0, first
    assert first.out.strip() == "deployed models:/ctr/2 as models:/ctr@production (was unset)"

    # A second version replaces it; the previous holder is named.
    v3 = good(cli, files())
    second = ship(cli, v3, "better offline AUC")
    assert second.code == 0, second
    assert "(was version 2)" in second.out
    assert production(cli) == v3

    # A dry run names the target and why, and changes nothing.
    head = cli("audit", "head", "--json").json()
    dry = cli("rollback", "ctr", "--reason-code", "kpi_drop", "--dry-run", user="dan")
    assert dry.code == 0, dry
    assert "dry run: would roll models:/ctr@production back from version 3 to version 2" in dry.out
    assert "why version 2: version 2 is the most recent earlier holder" in dry.out
    assert cli("audit", "head", "--json").json() == head
    assert production(cli) == v3

    # The drill proves the target ready, and is recorded.
    drill = cli("rollback", "ctr", "--drill", user="dan")
    assert drill.code == 0, drill
    assert "target version 2" in drill.out and "sha256 verified" in drill.out
    assert "ready; the drill is recorded on models:/ctr/2" in drill.out
    drilled = cli("show", "ctr/2", "--json").json()["annotations"]["drills"]
    assert [(d["actor"], d["alias"], d["ready"]) for d in drilled] == [("dan", "production", True)]

    # The rollback itself, with its reason code and note.
    back = cli(
        "rollback", "ctr", "--reason-code", "kpi_drop", "--note", "CTR fell 8% in EU", user="dan"
    )
    assert back.code == 0, back
    assert "rolled models:/ctr@production back from version 3 to version 2 (kpi_drop)" in back.out
    assert "why version 2:" in back.out and "models:/ctr/3 is marked deprecated" in back.out
    assert production(cli) == 2
    bad_version = cli("show", "ctr/3", "--json").json()
    assert bad_version["deprecated"] is True
    assert bad_version["annotations"]["deprecation"]["actor"] == "dan"
    assert [c["kind"] for c in bad_version["annotations"]["comments"]] == ["incident"]

    # No earlier known-good version is left: the rollback names none and exits 3.
    none_left = cli("rollback", "ctr", "--reason-code", "kpi_drop", user="dan")
    assert none_left.code == 3, none_left
    assert "no known-good version" in none_left.err

    # The audit log says who did what, when and why.
    log = cli("audit", "log", "--model", "ctr", "--limit", "200", "--json").json()["events"]
    by_action: dict[str, list[dict[str, Any]]] = {}
    for e in log:
        by_action.setdefault(e["action"], []).append(e)
    rollback = by_action["version.rollback"][0]
    assert (rollback["actor"], rollback["reason"]) == ("dan", "kpi_drop")
    assert rollback["after"]["note"] == "CTR fell 8% in EU" and rollback["after"]["version"] == 2
    assert rollback["before"] == {"alias": "production", "version": 3}
    assert {e["actor"] for e in by_action["version.approve"]} == {"rita"}
    deploys = by_action["version.deploy"]
    assert [(e["actor"], e["reason"]) for e in deploys] == [
        ("dan", "better offline AUC"),
        ("dan", "first launch"),
    ]
    assert by_action["version.drill"][0]["actor"] == "dan"
    table = cli("audit", "log", "--model", "ctr", "--action", "version.rollback")
    assert table.code == 0
    assert "dan" in table.out and "version.rollback" in table.out and "kpi_drop" in table.out

    # The trail verifies; an event edited behind the registry's back is named, exit 7.
    verified = cli("audit", "verify")
    assert verified.code == 0, verified
    assert ": OK;" in verified.out
    head = cli("audit", "head", "--json").json()
    assert cli("audit", "verify", "--expect-head", head["head"]).code == 0
    tamper(db_uri, rollback["id"])
    broken = cli("audit", "verify")
    assert broken.code == 7, broken
    assert f"(event {rollback['id']})" in broken.err and "was edited" in broken.err
    broken_json = cli("audit", "verify", "--json")
    assert broken_json.code == 7
    report = json.loads(broken_json.out)
    assert report["ok"] is False
    assert [(b["chain"], b["event_id"]) for b in report["breaks"]] == [
        ("model:ctr", rollback["id"])
    ]


# bad input ------------------------------------------------------------------------------


def test_bad_input_gets_its_exit_code(cli: CLI, files: Callable[[], Path], tmp_path: Path) -> None:
    v1 = good(cli, files())
    setup_people(cli, tmp_path)

    unknown = cli("promote", f"ctr/{v1}", "--to", "candidat")
    assert unknown.code == 6 and "unknown stage 'candidat'" in unknown.err
    # Options that do not go together are a usage error, as for --drill (exit 2).
    neither = cli("promote", f"ctr/{v1}")
    assert neither.code == 2 and "give --to STAGE or --auto" in neither.err
    both = cli("promote", f"ctr/{v1}", "--to", "candidate", "--auto")
    assert both.code == 2 and "give either --to STAGE or --auto" in both.err
    # A policy file that is a FIFO is refused at once, never waited on.
    os.mkfifo(tmp_path / "fifo.toml")
    fifo = cli("policy", "set", tmp_path / "fifo.toml")
    assert fifo.code == 6 and "is a FIFO (named pipe), not a regular file" in fifo.err, fifo.err
    os.mkfifo(tmp_path / "fifo.json")
    fifo = cli("register", "ctr", files(), "--signature", tmp_path / "fifo.json", "--no-capture")
    assert fifo.code == 6 and "signature file" in fifo.err and "not a regular file" in fifo.err
    assert cli("promote", f"ctr/{v1}", "--to", "candidate").code == 0

    # Deploying a version that is not approved is refused by the stage graph, exit 6.
    early = cli("deploy", f"ctr/{v1}", "--reason", "hurry", user="dan")
    assert early.code == 6, early
    assert "approved" in early.err

    # Approving without the reviewer role: exit 10, naming the role and the fix.
    denied = cli("approve", f"ctr/{v1}", user="eve")
    assert denied.code == 10, denied
    assert "'reviewer'" in denied.err and "modelbook role grant eve reviewer" in denied.err

    # Approving twice: exit 5.
    assert cli("approve", f"ctr/{v1}", user="rita").code == 0
    twice = cli("approve", f"ctr/{v1}", user="rita")
    assert twice.code == 5 and "already approved" in twice.err

    # A rejection needs its reason; typer says so before anything runs.
    assert cli("reject", f"ctr/{v1}", user="rita").code == 2

    # Rollback: nothing deployed yet (exit 3); no reason code (exit 6); --drill takes none.
    nothing = cli("rollback", "ctr", "--reason-code", "kpi_drop", user="dan")
    assert nothing.code == 3 and "nothing to roll back" in nothing.err
    assert cli("deploy", f"ctr/{v1}", "--reason", "launch", user="dan").code == 0
    no_code = cli("rollback", "ctr", user="dan")
    assert no_code.code == 6 and "--reason-code" in no_code.err
    assert cli("rollback", "ctr", "--drill", "--reason-code", "x", user="dan").code == 2
    no_target = cli("rollback", "ctr", "--reason-code", "kpi_drop", user="dan")
    assert no_target.code == 3 and "no known-good version" in no_target.err
    # The drill of that: no target is a failed drill (exit 9), not a missing thing.
    drill = cli("rollback", "ctr", "--drill", user="dan")
    assert drill.code == 9 and "no target" in drill.out

    # Deploying as someone without the deployer role: exit 10.
    v2 = good(cli, files())
    assert cli("promote", f"ctr/{v2}", "--auto").code == 0
    assert cli("approve", f"ctr/{v2}", user="rita").code == 0
    assert cli("deploy", f"ctr/{v2}", "--reason", "x", user="rita").code == 10

    # Annotations: bad alert, metric, window and kind are refused before anything is written.
    head = cli("audit", "head").out
    assert cli("watch", f"ctr/{v1}", "--alert", "p99 >> 3").code == 6
    assert cli("watch", f"ctr/{v1}").code == 6
    assert cli("observe", f"ctr/{v1}", "--metric", "ctr@online").code == 6
    window = cli("observe", f"ctr/{v1}", "--metric", "ctr@online=0.1", "--window", "2026-11-01")
    assert window.code == 6 and "START/END" in window.err
    assert cli("comment", f"ctr/{v1}", "hi", "--kind", "rant").code == 6
    assert cli("audit", "head").out == head

    # Policy and roles: a missing file, an unknown role, an admin-only command.
    assert cli("policy", "set", tmp_path / "missing.toml").code == 6
    assert cli("role", "grant", "eve", "overlord").code == 6
    assert cli("role", "grant", "eve", "viewer", user="rita").code == 10
    assert cli("role", "revoke", "eve", "viewer").code == 3
    assert cli("audit", "verify", "--expect-head", "nonsense").code == 6


def test_a_refused_deploy_gate_prints_its_checks_and_exits_9(
    cli: CLI, files: Callable[[], Path], tmp_path: Path
) -> None:
    """The deployed gate of POLICY refuses the version's own registrant, even an admin
    (whom the role check lets through): every check is printed, exit 9."""
    v1 = good(cli, files())
    setup_people(cli, tmp_path)
    assert cli("promote", f"ctr/{v1}", "--to", "candidate").code == 0
    assert cli("approve", f"ctr/{v1}", user="rita").code == 0
    refused = cli("deploy", f"ctr/{v1}", "--reason", "r", "--json")
    assert refused.code == 9, refused
    data = json.loads(refused.out)
    assert (data["name"], data["version"], data["previous_version"]) == ("production", 1, None)
    assert data["gates"][0]["target_stage"] == "deployed"
    assert [c["check"] for c in data["gates"][0]["checks"]] == ["actor"]
    text = cli("deploy", f"ctr/{v1}", "--reason", "r")
    assert text.code == 9 and "gate deployed: REFUSED" in text.out and "FAIL" in text.out


def test_a_drill_with_a_damaged_target_exits_9(
    cli: CLI, files: Callable[[], Path], tmp_path: Path
) -> None:
    setup_people_and_two_deploys(cli, files, tmp_path)
    # Damage every stored file, so the rollback target's is among them.
    for p in (tmp_path / "blobs").rglob("*"):
        if p.is_file():
            p.write_bytes(b"x")
    drill = cli("rollback", "ctr", "--drill", "--json", user="dan")
    assert drill.code == 9, drill
    report = json.loads(drill.out)
    assert report["ready"] is False and report["problems"]
    assert (report["from_version"], report["to_version"]) == (2, 1)
    text = cli("rollback", "ctr", "--drill", user="dan")
    assert text.code == 9 and "NOT READY" in text.out and "FAIL" in text.out


def setup_people_and_two_deploys(cli: CLI, files: Callable[[], Path], tmp_path: Path) -> None:
    """Version 1 deployed, then version 2: production holds 2, 1 is the rollback target."""
    made = [good(cli, files()), good(cli, files())]
    setup_people(cli, tmp_path)
    for n in made:
        assert ship(cli, n, f"ship {n}").code == 0


def test_rollback_prefers_a_healthy_version_and_takes_a_named_one(
    cli: CLI, files: Callable[[], Path], tmp_path: Path
) -> None:
    v1 = good(cli, files())
    setup_people(cli, tmp_path)
    assert ship(cli, v1, "ship 1").code == 0
    # Version 1 ran healthy while it served; rollback will prefer it to version 2.
    healthy = cli(
        "mark-healthy", f"ctr/{v1}", "--signal", "7 days at 0.1% errors", "--alias", "production",
        "--json", user="dan",
    ).json()  # fmt: skip
    assert (healthy["uri"], healthy["actor"], healthy["alias"]) == (
        "models:/ctr/1",
        "dan",
        "production",
    )
    for _ in range(2):
        assert ship(cli, good(cli, files()), "next").code == 0
    assert production(cli) == 3
    # Only a deployed version can be marked healthy; only a deployer marks it.
    assert cli("mark-healthy", "ctr/2", "--signal", "s", user="dan").code == 6
    assert cli("mark-healthy", "ctr/3", "--signal", "s", user="rita").code == 10

    plan = cli("rollback", "ctr", "--reason-code", "latency", "--dry-run", "--json", user="dan")
    data = plan.json()
    assert (data["from_version"], data["to_version"], data["dry_run"]) == (3, 1, True)
    assert "marked healthy ('7 days at 0.1% errors')" in data["why"]
    named = cli(
        "rollback", "ctr", "--reason-code", "latency", "--to", "2", "--json", user="dan"
    ).json()
    assert (named["to_version"], named["why"], named["dry_run"]) == (
        2,
        "version 2 was named with --to",
        False,
    )
    assert named["reason_code"] == "latency" and named["note"] is None
    assert production(cli) == 2
    # A version named with --to must be a rollback target: 3 is now deprecated.
    refused = cli("rollback", "ctr", "--reason-code", "x", "--to", "3", user="dan")
    assert refused.code == 6 and "deprecated" in refused.err


def test_an_alias_moved_after_the_command_started_is_a_conflict(
    cli: CLI, files: Callable[[], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two operators press enter at once; the second command reads the registry after the
    first one's change. It exits 5 instead of stepping back twice (rollback) or replacing
    a version its operator never saw (deploy); with --expect the operator says what
    they saw, and that applies."""
    setup_people_and_two_deploys(cli, files, tmp_path)
    v3 = good(cli, files())
    assert cli("promote", f"ctr/{v3}", "--to", "candidate").code == 0
    assert cli("approve", f"ctr/{v3}", user="rita").code == 0
    reset = Options.reset

    def started_a_minute_ago(self: Options) -> None:
        reset(self)
        self.started = datetime.now(UTC) - timedelta(minutes=1)

    monkeypatch.setattr(Options, "reset", started_a_minute_ago)
    for args in (
        ("rollback", "ctr", "--reason-code", "kpi_drop"),
        ("deploy", f"ctr/{v3}", "--reason", "ship 3"),
    ):
        run = cli(*args, user="dan")
        assert run.code == 5, (args, run.err)
        assert (
            "was moved to version 2 by dan" in run.err and "after this command started" in run.err
        )
    assert production(cli) == 2
    assert (
        cli("rollback", "ctr", "--reason-code", "kpi_drop", "--expect", "2", user="dan").code == 0
    )
    assert production(cli) == 1
    monkeypatch.setattr(Options, "reset", reset)
    assert cli("deploy", f"ctr/{v3}", "--reason", "ship 3", user="dan").code == 0
    assert production(cli) == v3


def test_swap_comment_watch_observe_and_show(
    cli: CLI, files: Callable[[], Path], tmp_path: Path
) -> None:
    v1, v2 = good(cli, files()), good(cli, files())
    assert cli("alias", "set", "ctr", "champion", v1, "--reason", "r").code == 0
    assert cli("alias", "set", "ctr", "challenger", v2, "--reason", "r").code == 0
    swapped = cli("alias", "swap", "ctr", "champion", "challenger", "--reason", "A/B won")
    assert swapped.code == 0, swapped
    assert swapped.out.strip() == "models:/ctr@champion -> 2, models:/ctr@challenger -> 1"
    assert cli("alias", "swap", "ctr", "champion", "champion", "--reason", "r").code == 6

    said = cli("comment", "ctr@champion", "looks \x1b[2Kgood", "--kind", "postmortem")
    assert said.code == 0 and "looks \\x1b[2Kgood" in said.out and "models:/ctr/2" in said.out
    watched = cli(
        "watch", "ctr/2", "--job", "mon-7", "--dashboard", "https://dash/ctr",
        "--alert", "p99_ms > 250", "--alert", "error_rate>=0.01", "--json",
    ).json()  # fmt: skip
    assert watched["uri"] == "models:/ctr/2"
    assert watched["alerts"] == [
        {"name": "p99_ms", "op": ">", "value": 250.0},
        {"name": "error_rate", "op": ">=", "value": 0.01},
    ]
    seen = cli(
        "observe", "ctr/2", "--metric", "ctr@online=0.031",
        "--window", "2026-11-01T00:00Z/2026-11-08T00:00Z", "--source", "ab-42", "--json",
    ).json()  # fmt: skip
    assert (seen["metric"], seen["value"], seen["source"]) == ("ctr@online", 0.031, "ab-42")
    assert seen["window_from"].startswith("2026-11-01T00:00:00")

    shown = cli("show", "ctr/2")
    assert shown.code == 0
    assert "annotations:" in shown.out
    assert "postmortem by alice" in shown.out and "\\x1b[2Kgood" in shown.out
    assert "job mon-7" in shown.out and "p99_ms > 250.0" in shown.out
    assert "observed ctr@online = 0.031 over 2026-11-01T00:00:00Z/2026-11-08T00:00:00Z" in (
        shown.out
    )
    notes = cli("show", "ctr/2", "--json").json()["annotations"]
    assert [c["text"] for c in notes["comments"]] == ["looks \x1b[2Kgood"]
    assert notes["deprecation"] is None and notes["approvals"] == []
    assert "annotations:" not in cli("show", "ctr/1").out


def test_deprecate_archive_evidence_attest_reject_and_gc(
    cli: CLI, files: Callable[[], Path], tmp_path: Path
) -> None:
    v1, v2 = good(cli, files()), good(cli, files())
    setup_people(cli, tmp_path)
    assert cli("promote", f"ctr/{v1}", "--to", "candidate").code == 0
    rejected = cli("reject", f"ctr/{v1}", "--comment", "needs an EU slice", user="rita")
    assert rejected.code == 0 and "rejected models:/ctr/1 as rita" in rejected.out
    signed = cli("attest", f"ctr/{v1}", "pii_review", "--comment", "no PII", user="rita")
    assert signed.code == 0 and "attested pii_review on models:/ctr/1 by rita" in signed.out
    assert "models:/ctr/1 stays candidate" in signed.out
    assert cli("attest", f"ctr/{v1}", "pii_review", user="rita").code == 5

    evidence = cli("evidence", f"ctr/{v1}", "--json").json()
    assert evidence["uri"] == "models:/ctr/1"
    # The sign-off tried the approved gate, as an approval does: no approval yet.
    assert [(c["check"], c["target_stage"], c["passed"]) for c in evidence["checks"]] == [
        ("lineage_complete", "candidate", True),
        ("metric", "candidate", True),
        ("approvals", "approved", False),
        ("smoke_test", "approved", False),
    ]
    assert evidence["checks"][0]["evidence"] == {"fields": {"code.commit": True, "data": True}}
    table = cli("evidence", f"ctr/{v1}")
    assert table.code == 0 and "lineage_complete" in table.out and "alice" in table.out

    gone = cli("deprecate", f"ctr/{v1}", "--note", "leaks labels", "--json").json()
    assert gone["deprecated"] is True
    assert cli("deprecate", f"ctr/{v1}", "--note", "again").code == 5
    assert cli("deprecate", f"ctr/{v1}").code == 6  # no --note: bad input
    archived = cli("archive", f"ctr/{v2}", "--note", "superseded")
    assert archived.out.strip() == "archived models:/ctr/2 (was staging): superseded"
    shown = cli("show", f"ctr/{v1}", "--json").json()["annotations"]
    assert shown["deprecation"]["note"] == "leaks labels"
    assert [r["comment"] for r in shown["rejections"]] == ["needs an EU slice"]
    assert [(a["name"], a["roles"]) for a in shown["attestations"]] == [
        ("pii_review", ["reviewer"])
    ]

    # gc lists nothing (every blob is referenced), and needs an admin to apply.
    listed = cli("gc", "--json").json()
    assert listed == {
        "applied": False,
        "blobs": [],
        "bytes": 0,
        "kept_recent": 0,
        "temporaries": [],
        "temporary_bytes": 0,
    }
    assert cli("gc", "--apply", user="rita").code == 10
    assert cli("gc", "--apply", "--json").json()["applied"] is True


def test_gc_reports_and_frees_temporaries_of_a_killed_registration(
    cli: CLI, files: Callable[[], Path], tmp_path: Path
) -> None:
    """The temporary a registration killed with -9 leaves is listed with its bytes by
    `gc`, in text and --json, and removed by `gc --apply`; a young one is left alone."""
    good(cli, files())
    assert cli("role", "grant", "alice", "admin", "--first-admin").code in (0, 5)
    tmp = tmp_path / "blobs" / TEMP_DIR
    old = tmp / temp_name()
    old.write_bytes(b"x" * 5000)
    day_and_more = time.time() - GRACE_SECONDS - 60
    os.utime(old, (day_and_more, day_and_more))
    young = tmp / temp_name()
    young.write_bytes(b"y" * 100)

    dry = cli("gc")
    assert dry.code == 0, dry.err
    assert f"would remove temporary {old}" in dry.out
    assert "would remove 1 abandoned temporary file(s), 5000 bytes" in dry.out
    assert "run `modelbook gc --apply`" in dry.out
    assert str(young) not in dry.out
    listed = cli("gc", "--json").json()
    assert (listed["temporaries"], listed["temporary_bytes"]) == ([str(old)], 5000)
    assert old.exists()

    applied = cli("gc", "--apply")
    assert applied.code == 0, applied.err
    assert f"removed temporary {old}" in applied.out
    assert "removed 1 abandoned temporary file(s), 5000 bytes" in applied.out
    assert not old.exists() and young.exists()
    after = cli("gc", "--json").json()
    assert (after["temporaries"], after["temporary_bytes"]) == ([], 0)


# the JSON of every command, documented ----------------------------------------------------


def release_outputs(json_of: Callable[..., Any], folder: Path) -> list[tuple[str, Any]]:
    """(command, its JSON) for every command of RELEASE_COMMANDS, run on model ``rel`` by the
    registry's admin (who holds every role), after another model was registered first."""
    folder.mkdir(parents=True, exist_ok=True)

    def add(n: int) -> None:
        path = folder / f"rel{n}.bin"
        path.write_bytes(os.urandom(32))
        json_of("register", "rel", path, "--owner", "o", "--commit", COMMIT, "--no-capture")

    got: list[tuple[str, Any]] = []
    for n in (1, 2, 3, 4):
        add(n)
    got.append(("policy show", json_of("policy", "show")))
    got.append(("policy set", json_of("policy", "set", write(folder / "p.toml", DOCS_POLICY))))
    got.append(("role grant", json_of("role", "grant", "rita", "reviewer")))
    got.append(("role list", json_of("role", "list")))
    got.append(("role revoke", json_of("role", "revoke", "rita", "reviewer")))
    got.append(("promote", json_of("promote", "rel/1", "--to", "candidate", "--comment", "c")))
    got.append(("attest", json_of("attest", "rel/1", "pii_review", "--comment", "ok")))
    got.append(("reject", json_of("reject", "rel/1", "--comment", "not yet")))
    got.append(("approve", json_of("approve", "rel/1", "--comment", "now yes")))
    got.append(("evidence", json_of("evidence", "rel/1")))
    got.append(("deploy", json_of("deploy", "rel/1", "--reason", "launch")))
    json_of("promote", "rel/2", "--auto")
    json_of("approve", "rel/2")
    json_of("deploy", "rel/2", "--reason", "better")
    got.append(("mark-healthy", json_of("mark-healthy", "rel/2", "--signal", "ok", "--alias",
                                        "production")))  # fmt: skip
    got.append(("comment", json_of("comment", "rel/2", "note", "--kind", "incident")))
    got.append(("watch", json_of(
        "watch", "rel/2", "--job", "j", "--dashboard", "https://d", "--alert", "p99 > 1",
    )))  # fmt: skip
    got.append(("observe", json_of(
        "observe", "rel/2", "--metric", "ctr@online=0.1",
        "--window", "2026-11-01T00:00Z/2026-11-02T00:00Z", "--source", "ab",
    )))  # fmt: skip
    got.append(("rollback", json_of("rollback", "rel", "--reason-code", "k", "--dry-run")))
    got.append(("rollback", json_of("rollback", "rel", "--drill")))
    got.append(("rollback", json_of("rollback", "rel", "--reason-code", "k", "--note", "n")))
    got.append(("deprecate", json_of("deprecate", "rel/3", "--note", "old")))
    got.append(("archive", json_of("archive", "rel/4", "--note", "old")))
    json_of("alias", "set", "rel", "champion", "3", "--reason", "r")
    json_of("alias", "set", "rel", "challenger", "4", "--reason", "r")
    got.append(("alias swap", json_of("alias", "swap", "rel", "champion", "challenger",
                                      "--reason", "r")))  # fmt: skip
    got.append(("gc", json_of("gc")))
    got.append(("show", json_of("show", "rel/2")))
    got.append(("show", json_of("show", "rel/1")))
    got.append(("show", json_of("show", "rel/3")))
    got.append(("audit log", json_of("audit", "log", "--model", "rel", "--limit", "1000")))
    got.append(("audit log", json_of("audit", "log", "--action", "policy.set",
                                     "--action", "role.grant", "--action", "role.revoke",
                                     "--action", "blobs.gc")))  # fmt: skip
    got.append(("audit verify", json_of("audit", "verify")))
    got.append(("audit head", json_of("audit", "head")))
    return got


# Objects whose keys depend on the gate check that wrote them (its parameters and the
# inputs it judged); docs/release-flow.md documents them per check.
PER_CHECK = {"params", "evidence"}


def _keys(value: Any) -> set[str]:
    """Every key of every object inside ``value``, at any depth, but inside PER_CHECK."""
    if isinstance(value, dict):
        inner = {k for key, v in value.items() if key not in PER_CHECK for k in _keys(v)}
        return (set(value) | inner) - DATA_KEYS
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_every_json_field_of_the_release_commands_is_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each command has its section in docs/cli.md; its top-level fields are named in that
    section or in the shapes, nested fields anywhere on the page. (The shape of the JSON
    does not depend on the database: this runs once, on SQLite.)"""
    for var in ("MODELBOOK_URI", "MODELBOOK_BLOB_URI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MODELBOOK_HOME", str(tmp_path / "home"))
    run = runner(monkeypatch, capsys)

    def json_of(*args: object) -> Any:
        done = run(*args, "--json", user="carol")
        assert done.code in (0, 7), done
        return json.loads(done.out)

    first = tmp_path / "first.bin"
    first.write_bytes(b"first")
    json_of("register", "ctr", first, "--owner", "o", "--no-capture")
    outputs = release_outputs(json_of, tmp_path / "release")

    text = DOC.read_text()
    sections = _sections(text)
    shapes = text.split("## Shapes", 1)[1].split("## Commands", 1)[0]
    assert set(sections) >= RELEASE_COMMANDS
    assert {command for command, _ in outputs} == RELEASE_COMMANDS | {"show"}
    for command, value in outputs:
        top = set(value) - DATA_KEYS if isinstance(value, dict) else _keys(value)
        for key in top:
            assert f"`{key}`" in sections[command] + shapes, (command, key)
        for key in _keys(value):
            assert f"`{key}`" in text, (command, key)


def test_promote_to_archived_cannot_get_around_archives_role_and_note(
    cli: CLI, files: Callable[[], Path], tmp_path: Path
) -> None:
    """An approved version is a rollback target: archiving or restoring it is a deployer's,
    with a note; promote --to archived points at archive instead of doing it."""
    v = good(cli, files())
    setup_people(cli, tmp_path)
    assert cli("promote", f"ctr/{v}", "--to", "candidate").code == 0
    assert cli("approve", f"ctr/{v}", user="rita").code == 0
    moved = cli("promote", f"ctr/{v}", "--to", "archived", user="nobody")
    assert moved.code == 6
    assert "use `modelbook archive models:/ctr/1 --note TEXT`" in moved.err
    assert cli("archive", f"ctr/{v}", "--note", "pulled", user="nobody").code == 10
    assert cli("archive", f"ctr/{v}", "--note", "pulled", user="dan").code == 0
    assert cli("promote", f"ctr/{v}", "--to", "staging", "--comment", "x", user="nobody").code == 10
    assert cli("promote", f"ctr/{v}", "--to", "staging", user="dan").code == 6
    back = cli("promote", f"ctr/{v}", "--to", "staging", "--comment", "a mistake", user="dan")
    assert back.code == 0
    assert cli("show", f"ctr/{v}", "--json").json()["stage"] == "staging"
