"""The live state agrees with the audit log, or `audit verify` says where it does not.

A tamperer with database access need not touch the events at all: pointing an
alias elsewhere, approving a version by hand, granting themselves admin or
swapping the policy are edits of the live tables. ``verify_audit()`` replays the
events that set each part of that state and names every object whose row says
otherwise, with both values. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from modelbook import Registry, audit

from .test_audit_log import (
    chain_rows,
    downgrade,
    drop_append_only_trigger,
    rehash_last,
    sql,
    upgraded_registry,
)
from .test_cli_release import runner
from .test_release_flow import ADMIN, DEPLOYERS, REGISTRANT, Flow, make_flow


def scalar(reg: Registry, statement: str, **params: Any) -> Any:
    with reg.db.engine.connect() as conn:
        return conn.execute(sa.text(statement), params).scalar()


def version_id(reg: Registry, model: str, number: int) -> int:
    return int(
        scalar(
            reg,
            "SELECT v.id FROM versions v JOIN models m ON m.id = v.model_id "
            "WHERE m.name = :m AND v.number = :n",
            m=model,
            n=number,
        )
    )


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    """A registry after a realistic release flow: registrations, promotions, approvals,
    deploys, a rollback, tags, alias moves and a removal, a contract pin, role grants
    and a revocation, the policy set, a risk tier changed, a version archived."""
    flow = make_flow(registry, tmp_path)
    reg = flow.reg
    default = resources.files("modelbook.policies").joinpath("default.toml").read_text()
    reg.set_policy(default, actor=ADMIN, source="default.toml")
    flow.deployed("m")  # 1
    flow.deployed("m")  # 2
    reg.rollback("m", reason_code="kpi_drop", note="ctr fell", actor=DEPLOYERS[0])
    flow.deployed("m")  # 3
    v4 = flow.add("m", tags={"team": "ranking"})
    reg.set_tags(v4.uri, {"dataset": "2024-06"}, actor=REGISTRANT)
    reg.set_tags(v4.uri, {"owner": "alice"}, remove=["team"], actor=REGISTRANT)
    reg.set_tags("models:/m", {"surface": "feed"}, actor=REGISTRANT)
    reg.set_alias("m", "champion", 1, reason="the first", actor=REGISTRANT)
    reg.set_alias("m", "champion", 3, reason="the best", actor=REGISTRANT)
    reg.set_alias("m", "challenger", 4, reason="next up", actor=REGISTRANT)
    reg.set_alias("m", "shadow", 4, reason="mirror", actor=REGISTRANT)
    reg.delete_alias("m", "shadow", reason="done", actor=REGISTRANT)
    reg.pin_alias("m", "production", 1, actor=DEPLOYERS[0])
    reg.archive(flow.add("m").uri, note="superseded", actor=ADMIN)
    flow.add("n")
    reg.set_risk_tier("n", "medium", reason="now customer facing", actor=ADMIN)
    reg.grant_role("eve", "viewer", actor=ADMIN)
    reg.grant_role("fred", "reviewer", actor=ADMIN)
    reg.revoke_role("fred", "reviewer", actor=ADMIN)
    return flow


def problems(reg: Registry) -> tuple[str, ...]:
    result = reg.verify_audit()
    assert result.breaks == ()
    assert not result.ok
    return result.record_problems


def test_an_untampered_release_flow_verifies_clean(flow: Flow) -> None:
    result = flow.reg.verify_audit()
    assert result.ok, result.record_problems
    assert result.record_problems == ()
    stages = {v.number: v.stage.value for v in flow.reg.versions("m").items}
    assert stages == {
        1: "approved",
        2: "approved",
        3: "deployed",
        4: "staging",
        5: "archived",
    }


def test_every_alias_move_writes_who_and_when_to_its_row_as_to_its_event(flow: Flow) -> None:
    """Set, move, deploy, rollback, swap, a removal and a set again: what ``alias list``
    shows of each alias (who last moved it, when, to the microsecond) is what its last
    event records, so the registry verifies."""
    reg = flow.reg
    reg.set_alias("m", "shadow", 2, reason="mirror again", actor=DEPLOYERS[1])
    reg.swap_aliases("m", "champion", "challenger", reason="b wins", actor=REGISTRANT)
    flow.deployed("m")
    reg.rollback("m", reason_code="kpi_drop", note="ctr fell again", actor=DEPLOYERS[1])
    listed = reg.aliases("m")
    assert {a.name for a in listed} == {"production", "champion", "challenger", "shadow"}
    for a in listed:
        [last] = reg.alias_history("m", a.name, limit=1)
        assert (a.updated_by, a.updated_at, a.version) == (last.actor, last.at, last.to_version)
    result = reg.verify_audit()
    assert result.ok, result.record_problems


def test_aliases_set_before_an_upgrade_from_revision_0001_verify(
    db_uri: str, blob_dir: Path, model_file: Path
) -> None:
    """Revision 0001 wrote an alias move's actor and time to the row as to its event, and
    migration 0002 kept both in the event it converted: such an alias agrees, and its
    row edited since is named like any other."""
    with Registry(db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        reg.register("old", [model_file], owners="team", capture_environment=False)
        downgrade(reg, "0001")
        at = 1_700_000_000_123_456
        with reg.db.engine.begin() as conn:
            # What revision 0001's set_alias wrote: the row, the alias history, the event.
            conn.execute(
                sa.text(
                    "INSERT INTO aliases (model_id, name, version_id, number, updated_at, "
                    "updated_by) SELECT model_id, 'champion', id, number, :at, 'legacy-bot' "
                    "FROM versions"
                ),
                {"at": at},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO alias_events (model_id, alias, from_number, to_number, actor, "
                    "reason, at) SELECT id, 'champion', NULL, 1, 'legacy-bot', 'first', :at "
                    "FROM models"
                ),
                {"at": at},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO events (at, actor, action, model, version, detail) "
                    "VALUES (:at, 'legacy-bot', 'alias.set', 'old', 1, :detail)"
                ),
                {
                    "at": at,
                    "detail": json.dumps(
                        {"alias": "champion", "from": None, "to": 1, "reason": "first"}
                    ),
                },
            )
    with Registry(db_uri, blob_uri=str(blob_dir), actor="founder") as reg:
        [champion] = reg.aliases("old")
        assert champion.updated_by == "legacy-bot"
        result = reg.verify_audit()
        assert result.ok, result.record_problems
        sql(reg, "UPDATE aliases SET updated_by = 'mallory'")
        [found] = problems(reg)
        assert 'models:/old@champion: the alias was last set by "mallory"' in found
        assert 'but by "legacy-bot" at 2023-11-14T22:13:20.123456+00:00 in the audit' in found


def test_the_aliases_of_the_upgrade_tests_registry_verify(
    db_uri: str, blob_dir: Path, model_file: Path
) -> None:
    reg, _ = upgraded_registry(db_uri, blob_dir, model_file)
    try:
        result = reg.verify_audit()
        assert result.ok, result.record_problems
        sql(reg, "UPDATE aliases SET updated_at = updated_at + 1 WHERE name = 'champion'")
        [found] = problems(reg)
        assert found.startswith('models:/m@champion: the alias was last set by "bob" at ')
    finally:
        reg.close()


# each tampering of the live state, found ---------------------------------------------------


def point_production_elsewhere(reg: Registry) -> None:
    sql(
        reg,
        "UPDATE aliases SET version_id = :v, number = 2 WHERE name = 'production'",
        v=version_id(reg, "m", 2),
    )


def approve_by_hand(reg: Registry) -> None:
    sql(
        reg,
        "UPDATE versions SET stage = 'approved' WHERE id = :v",
        v=version_id(reg, "m", 4),
    )


def grant_eve_admin(reg: Registry) -> None:
    sql(
        reg,
        "INSERT INTO roles (actor, role, granted_by, granted_at) "
        "VALUES ('eve', 'admin', 'tester', 1)",
    )


def lower_the_risk_tier(reg: Registry) -> None:
    sql(reg, "UPDATE models SET risk_tier = 'low' WHERE name = 'n'")


PERMISSIVE = 'serving_aliases = ["production"]\n'


def set_a_permissive_policy(reg: Registry) -> None:
    sql(
        reg,
        "INSERT INTO policies (text, format, source, sha256, set_by, set_at) "
        "VALUES (:t, 'toml', 'p.toml', :h, 'tester', 1)",
        t=PERMISSIVE,
        h=hashlib.sha256(PERMISSIVE.encode()).hexdigest(),
    )


def set_a_permissive_policy_under_the_old_hash(reg: Registry) -> None:
    sql(
        reg,
        "INSERT INTO policies (text, format, source, sha256, set_by, set_at) "
        "SELECT :t, format, source, sha256, set_by, set_at FROM policies",
        t=PERMISSIVE,
    )


def undeprecate(reg: Registry) -> None:
    sql(
        reg,
        "UPDATE versions SET deprecated_at = NULL WHERE id = :v",
        v=version_id(reg, "m", 2),
    )


def edit_version_tags(reg: Registry) -> None:
    v = version_id(reg, "m", 4)
    sql(
        reg,
        "UPDATE versions SET tags = :t WHERE id = :v",
        t=json.dumps({"dataset": "2024-07", "owner": "alice"}),
        v=v,
    )
    sql(
        reg,
        "UPDATE version_tags SET value = '2024-07' WHERE version_id = :v AND key = 'dataset'",
        v=v,
    )


def edit_indexed_version_tags(reg: Registry) -> None:
    sql(
        reg,
        "INSERT INTO version_tags (version_id, key, value, model_id) "
        "SELECT id, 'approved_by', 'cto', model_id FROM versions WHERE id = :v",
        v=version_id(reg, "m", 4),
    )


def edit_untagged_version_tags(reg: Registry) -> None:
    """Version 3 was registered without tags and never tagged since."""
    sql(
        reg,
        "UPDATE versions SET tags = :t WHERE id = :v",
        t=json.dumps({"reviewed": "yes"}),
        v=version_id(reg, "m", 3),
    )


def edit_model_tags(reg: Registry) -> None:
    sql(reg, "UPDATE model_tags SET value = 'search' WHERE key = 'surface'")
    sql(reg, "UPDATE models SET tags = :t WHERE name = 'm'", t=json.dumps({"surface": "search"}))


def edit_owners(reg: Registry) -> None:
    sql(reg, "UPDATE models SET owners = :o WHERE name = 'm'", o=json.dumps(["mallory"]))


def drop_the_pin(reg: Registry) -> None:
    sql(reg, "DELETE FROM alias_pins WHERE alias = 'production'")


def add_an_alias(reg: Registry) -> None:
    sql(
        reg,
        "INSERT INTO aliases (model_id, name, version_id, number, updated_at, updated_by) "
        "SELECT model_id, 'canary', id, number, 1, 'mallory' FROM versions WHERE id = :v",
        v=version_id(reg, "m", 4),
    )


def remove_a_role(reg: Registry) -> None:
    sql(reg, "DELETE FROM roles WHERE actor = 'rita'")


def reattribute_a_grant(reg: Registry) -> None:
    """``role list`` would say someone else granted dan his role."""
    sql(reg, "UPDATE roles SET granted_by = 'eve' WHERE actor = 'dan'")


def backdate_a_grant(reg: Registry) -> None:
    sql(reg, "UPDATE roles SET granted_at = 1 WHERE actor = 'dan'")


def reattribute_an_alias_move(reg: Registry) -> None:
    """``alias list`` would say mallory last moved the champion alias."""
    sql(reg, "UPDATE aliases SET updated_by = 'mallory' WHERE name = 'champion'")


def backdate_an_alias_move(reg: Registry) -> None:
    sql(reg, "UPDATE aliases SET updated_at = 1 WHERE name = 'challenger'")


def list_an_alias_on_a_version(reg: Registry) -> None:
    sql(
        reg,
        "UPDATE versions SET aliases = 'production' WHERE id = :v",
        v=version_id(reg, "m", 1),
    )


def retarget_the_alias_row_only(reg: Registry) -> None:
    """The alias keeps the number it names but refers to another version's row."""
    sql(
        reg,
        "UPDATE aliases SET version_id = :v WHERE name = 'production'",
        v=version_id(reg, "m", 2),
    )


TAMPERING: dict[str, tuple[Callable[[Registry], None], list[str]]] = {
    # Each: the edit, and what the one problem it causes must say.
    "alias pointed elsewhere": (
        point_production_elsewhere,
        [
            "models:/m@production: the alias is at version 2 in the registry",
            "but at version 3 in the audit log",
        ],
    ),
    "stage set to approved": (
        approve_by_hand,
        ["models:/m/4", "the stage", '"approved" in the registry', '"staging" in the audit'],
    ),
    "admin role inserted": (
        grant_eve_admin,
        ['actor "eve"', 'role "admin"', "no event of the audit log grants it"],
    ),
    "risk tier changed": (
        lower_the_risk_tier,
        ["models:/n", "the risk tier", '"low" in the registry', '"medium" in the audit log'],
    ),
    "permissive policy made active": (
        set_a_permissive_policy,
        ["the policy in force", "the sha256"],
    ),
    "permissive policy under the old hash": (
        set_a_permissive_policy_under_the_old_hash,
        ["the policy in force", "its text hashes to sha256"],
    ),
    "deprecation cleared": (
        undeprecate,
        ["models:/m/2", "deprecated is false in the registry but true in the audit log"],
    ),
    "version tags edited": (
        edit_version_tags,
        ["models:/m/4: the tags are", '"2024-07"', '"2024-06"'],
    ),
    "indexed version tag added": (
        edit_indexed_version_tags,
        ["models:/m/4: the indexed tags are", '"approved_by"'],
    ),
    "registration tags edited": (
        edit_untagged_version_tags,
        ["models:/m/3: the tags are", '{"reviewed": "yes"} in the registry but {} in the audit'],
    ),
    "model tags edited": (
        edit_model_tags,
        ["models:/m:", 'the tags are {"surface": "search"} in the registry', '"feed"'],
    ),
    "owners edited": (
        edit_owners,
        ["models:/m: the owners are", '["mallory"]', '["team"]'],
    ),
    "pin removed": (
        drop_the_pin,
        ["models:/m@production: its pin is absent in the registry but at MAJOR 1"],
    ),
    "alias added": (
        add_an_alias,
        ["models:/m@canary: the alias is at version 4 in the registry", "no event that set it"],
    ),
    "role deleted": (remove_a_role, ['actor "rita"', "not in the registry"]),
    "grant attributed to another": (
        reattribute_a_grant,
        ['actor "dan"', 'as granted by "eve" at', "in the registry but by", "in the audit log"],
    ),
    "grant backdated": (
        backdate_a_grant,
        ['actor "dan"', "at 1970-01-01T00:00:00.000001+00:00 in the registry", "audit log"],
    ),
    "alias move attributed to another": (
        reattribute_an_alias_move,
        [
            'models:/m@champion: the alias was last set by "mallory" at',
            f'in the registry but by "{REGISTRANT}" at',
            "in the audit log (event",
        ],
    ),
    "alias move backdated": (
        backdate_an_alias_move,
        [
            "models:/m@challenger: the alias was last set by",
            "at 1970-01-01T00:00:00.000001+00:00 in the registry",
            "audit log",
        ],
    ),
    "alias listed on a version": (
        list_an_alias_on_a_version,
        ["models:/m/1", "its row lists the aliases", '["production"]'],
    ),
    "alias row refers to another version": (
        retarget_the_alias_row_only,
        ["models:/m@production", "names version 3", "models:/m/2"],
    ),
}


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_tampering_with_the_live_state_is_found(flow: Flow, tampering: str) -> None:
    edit, says = TAMPERING[tampering]
    edit(flow.reg)
    found = problems(flow.reg)
    assert len(found) == 1, found
    for part in says:
        assert part in found[0], (part, found[0])


def test_every_tampering_at_once_is_each_found(flow: Flow) -> None:
    # Edits of one row that undo each other's trace: the later one alone is kept (of
    # two policies inserted the newer is in force; an alias pointed elsewhere whole
    # leaves its row consistent).
    overlapping = ("permissive policy made active", "alias row refers to another version")
    together = {k: v for k, v in TAMPERING.items() if k not in overlapping}
    for edit, _ in together.values():
        edit(flow.reg)
    found = problems(flow.reg)
    for name, (_, says) in together.items():
        assert any(all(part in p for part in says) for p in found), name


@pytest.mark.parametrize("edit", [reattribute_an_alias_move, backdate_an_alias_move])
def test_the_cli_names_an_alias_whose_row_says_another_moved_it_and_exits_7(
    flow: Flow,
    db_uri: str,
    blob_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[Registry], None],
) -> None:
    monkeypatch.setenv("MODELBOOK_URI", db_uri)
    monkeypatch.setenv("MODELBOOK_BLOB_URI", str(blob_dir))
    cli = runner(monkeypatch, capsys)
    clean = cli("audit", "verify")
    assert clean.code == 0, clean
    alias = "champion" if edit is reattribute_an_alias_move else "challenger"
    [moved] = flow.reg.alias_history("m", alias, limit=1)
    edit(flow.reg)
    found = cli("audit", "verify")
    assert found.code == 7, found
    [line] = [x for x in found.err.splitlines() if x.startswith("disagrees:")]
    when = moved.at.isoformat()
    assert line.startswith(f"disagrees: models:/m@{alias}: the alias was last set by "), line
    assert f'but by "{moved.actor}" at {when} in the audit log (event ' in line, line


def test_a_hand_approved_version_is_found_after_it_shipped(flow: Flow) -> None:
    """The review's example: a staging version approved by SQL passes deploy's gate (the
    stage is what it checks), and the deploy's own events then agree with the final
    state. The deploy's stage event recorded where it started, which is not where the
    log had left the version: verification names that."""
    reg = flow.reg
    approve_by_hand(reg)
    reg.deploy("models:/m/4", alias="production", reason="ship", actor=DEPLOYERS[0])
    [found] = problems(reg)
    assert found.startswith("models:/m/4: event ")
    assert '(version.stage) found the stage "approved" where the audit log had left "staging"' in (
        found
    )


@pytest.mark.parametrize(
    ("edit", "then", "says"),
    [
        pytest.param(
            point_production_elsewhere,
            lambda reg: reg.set_alias("m", "production", 3, reason="back", actor=DEPLOYERS[0]),
            "found the alias at version 2 where the audit log had left at version 3",
            id="alias moved back",
        ),
        pytest.param(
            lower_the_risk_tier,
            lambda reg: reg.set_risk_tier("n", "high", reason="review", actor=ADMIN),
            'found the risk tier "low" where the audit log had left "medium"',
            id="risk tier set again",
        ),
        pytest.param(
            grant_eve_admin,
            lambda reg: reg.revoke_role("eve", "admin", actor=ADMIN),
            'found the role "admin" held where the audit log had left not held',
            id="role revoked",
        ),
        pytest.param(
            edit_version_tags,
            lambda reg: reg.set_tags("models:/m/4", {"dataset": "2024-06"}, actor=REGISTRANT),
            "found the tags",
            id="tags set back",
        ),
        pytest.param(
            set_a_permissive_policy,
            lambda reg: reg.set_policy(
                resources.files("modelbook.policies").joinpath("default.toml").read_text(),
                actor=ADMIN,
            ),
            "found the sha256",
            id="policy set again",
        ),
    ],
)
def test_a_change_made_good_by_a_later_event_is_still_found(
    flow: Flow,
    edit: Callable[[Registry], None],
    then: Callable[[Registry], object],
    says: str,
) -> None:
    """The final state agrees with the log again; the event that followed the edit
    recorded a starting point the log had not left."""
    edit(flow.reg)
    then(flow.reg)
    found = problems(flow.reg)
    assert len(found) == 1, found
    assert says in found[0] and "changed outside modelbook in between" in found[0], found


def test_versions_and_models_added_or_deleted_by_hand_are_found(flow: Flow) -> None:
    reg = flow.reg
    sql(
        reg,
        "INSERT INTO models (name, owners, risk_tier, tags, created_at, created_by, "
        "last_number, semver_major, semver_minor, semver_patch, event_seq, event_hash) "
        "VALUES ('ghost', '[]', 'low', '{}', 1, 'mallory', 0, 0, 0, 0, 0, :h)",
        h="0" * 64,
    )
    v = version_id(reg, "n", 1)
    for table in ("artifacts", "metrics", "params", "lineage", "version_tags", "annotations"):
        sql(reg, f"DELETE FROM {table} WHERE version_id = :v", v=v)
    sql(reg, "DELETE FROM versions WHERE id = :v", v=v)
    found = reg.verify_audit().record_problems
    assert any("models:/ghost has no model.create event" in p for p in found), found
    assert any("models:/n/1 is in the audit log" in p and "deleted" in p for p in found), found


def test_a_version_of_no_model_is_found(flow: Flow) -> None:
    """A tamperer who turns the foreign keys off can leave a version row whose model
    does not exist: it is named, not a crash."""
    reg = flow.reg
    insert = (
        "INSERT INTO versions (model_id, number, semver, semver_major, semver_minor, "
        "semver_patch, stage, doc, tags, created_at, created_by) "
        "VALUES (9999, 1, '1.0.0', 1, 0, 0, 'approved', '{}', '{}', 1, 'mallory')"
    )
    if reg.db.dialect == "sqlite":
        # A connection of its own: the pragma holds outside a transaction only.
        raw = sqlite3.connect(str(reg.db.engine.url.database), isolation_level=None)
        raw.execute("PRAGMA foreign_keys = OFF")
        raw.execute(insert)
        raw.close()
    else:
        with reg.db.engine.begin() as conn:
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            conn.execute(sa.text(insert))
    [found] = problems(reg)
    assert found == (
        "a version numbered 1 belongs to no model (model id 9999); it was added outside modelbook"
    )


def test_values_of_another_type_are_named_not_a_crash(flow: Flow) -> None:
    """SQLite keeps whatever type is written into a column: bytes where text belongs
    are a disagreement like any other value."""
    reg = flow.reg
    if reg.db.dialect != "sqlite":
        pytest.skip("a PostgreSQL column holds its own type only")
    v = version_id(reg, "m", 4)
    sql(reg, "UPDATE versions SET stage = CAST('approved' AS BLOB) WHERE id = :v", v=v)
    sql(reg, "UPDATE versions SET aliases = CAST('x' AS BLOB) WHERE id = :v", v=v)
    sql(reg, "UPDATE versions SET tags = CAST(tags AS BLOB) WHERE id = :v", v=v)
    found = problems(reg)
    assert any("models:/m/4: the stage is b'approved'" in p for p in found), found
    assert any("models:/m/4: its row lists the aliases" in p for p in found), found


def test_the_state_of_a_broken_chain_is_not_compared(flow: Flow) -> None:
    """After a break the later events are not verified, so the state they imply is not
    known: only the break is reported, not every object of its chain."""
    reg = flow.reg
    drop_append_only_trigger(reg)
    first = scalar(reg, "SELECT min(id) FROM events WHERE chain = 'model:m'")
    sql(reg, "UPDATE events SET actor = 'mallory' WHERE id = :id", id=first)
    result = reg.verify_audit()
    assert [b.chain for b in result.breaks] == ["model:m"]
    [unchecked] = result.record_problems
    assert "annotations of models:/m could not be checked" in unchecked


def test_a_rehashed_event_whose_state_cannot_be_read_is_named(flow: Flow) -> None:
    """A tamperer who knows the hashing rule rewrites the newest event of a chain to
    hold a state of the wrong shape: the chain verifies, the event is named."""
    reg = flow.reg
    last = chain_rows(reg, "model:n")[-1]
    doc = json.loads(last.canonical)
    assert doc["action"] == "model.risk_tier"
    rehash_last(reg, "model:n", audit.canonical({**doc, "after": ["medium"]}).decode())
    found = problems(reg)
    assert found[0] == (
        f"event {last.id} (model.risk_tier) records a state that cannot be read "
        "(its content was changed and rehashed)"
    )


def test_a_registry_without_history_verifies(registry: Registry) -> None:
    result = registry.verify_audit()
    assert result.ok and result.record_problems == ()
