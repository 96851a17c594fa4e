"""Who administers a registry: the actor who creates it is its first admin from the
first moment, a registry without an admin gets one only by an explicit, truthful
grant, ``modelbook init`` creates an empty registry so that the policy can be set
before the first registration, and names that differ only by case, accents or
look-alike letters (UTS #39 confusables) are one person. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelbook import InvalidInput, Registry
from modelbook.errors import AlreadyExists, Conflict, GateFailed, PermissionDenied

from .test_cli_release import CLI, POLICY, runner, write
from .test_release_flow import ADMIN, Flow, gate, make_flow, policy


def first_admin_events(reg: Registry) -> list[tuple[str, str, object, str | None]]:
    return [
        (e.action, e.actor, e.after, e.reason)
        for e in reversed(reg.events(limit=100).items)
        if e.chain == "registry"
    ]


def held(reg: Registry) -> set[tuple[str, str]]:
    return {(g.actor, g.role) for g in reg.roles()}


# the registry's creator -------------------------------------------------------------


def test_opening_a_new_registry_makes_its_creator_admin_and_nobody_else(
    new_db_uri: str, blob_dir: Path
) -> None:
    with Registry(new_db_uri, blob_uri=str(blob_dir), actor="alice") as reg:
        assert reg.created
        assert held(reg) == {("alice", "admin")}
    with Registry(new_db_uri, blob_uri=str(blob_dir), actor="mallory") as reg:
        assert not reg.created
        with pytest.raises(PermissionDenied, match="needs the role 'admin'"):
            reg.grant_role("mallory", "admin")
        with pytest.raises(PermissionDenied, match="needs the role 'admin'"):
            reg.set_policy(policy())
        with pytest.raises(Conflict, match=r"already has an admin \(alice\)"):
            reg.grant_role("mallory", "admin", first_admin=True)
        assert held(reg) == {("alice", "admin")}
        assert first_admin_events(reg) == [
            ("role.grant", "alice", {"actor": "alice", "role": "admin"},
             "first admin: created the registry"),
        ]  # fmt: skip
        assert reg.verify_audit().ok


def test_the_creator_may_name_another_first_admin(new_db_uri: str, blob_dir: Path) -> None:
    with Registry(new_db_uri, blob_uri=str(blob_dir), actor="ci", admin="platform") as reg:
        assert held(reg) == {("platform", "admin")}
        assert first_admin_events(reg) == [
            ("role.grant", "ci", {"actor": "platform", "role": "admin"},
             "first admin: named by ci, who created the registry"),
        ]  # fmt: skip
        reg.set_policy(policy(), actor="platform")
    # Named again on the existing registry: the same admin opens it as before;
    # another name is not made admin, and the call says so.
    with Registry(new_db_uri, blob_uri=str(blob_dir), actor="ci", admin="platform") as reg:
        assert not reg.created
    with pytest.raises(AlreadyExists, match=r"its admins: platform\); admin= names the first"):
        Registry(new_db_uri, blob_uri=str(blob_dir), actor="mallory", admin="mallory")
    with Registry(new_db_uri, blob_uri=str(blob_dir)) as reg:
        assert held(reg) == {("platform", "admin")}


def test_a_bad_first_admin_name_creates_nothing(new_db_uri: str, blob_dir: Path) -> None:
    with pytest.raises(InvalidInput, match="admin"):
        Registry(new_db_uri, blob_uri=str(blob_dir), actor="ci", admin="bad\x1bname")
    with pytest.raises(Exception, match="no registry at"):
        Registry(new_db_uri, blob_uri=str(blob_dir), create=False)


# a registry without an admin (made by an older modelbook) --------------------------


def test_a_registry_without_admin_gets_one_only_explicitly(registry: Registry) -> None:
    """The fixture's schema has no admin, as one created by an older modelbook."""
    reg = registry
    with pytest.raises(PermissionDenied) as err:
        reg.grant_role("mallory", "admin", actor="mallory")
    assert "has no admin" in str(err.value)
    assert "modelbook role grant NAME admin --first-admin" in str(err.value)
    with pytest.raises(PermissionDenied, match="has no admin"):
        reg.set_policy(policy(), actor="mallory")
    with pytest.raises(InvalidInput, match="--first-admin names an admin"):
        reg.grant_role("rita", "reviewer", actor="rita", first_admin=True)
    assert reg.roles() == []
    reg.grant_role("ops", "admin", actor="alice", first_admin=True)
    with pytest.raises(Conflict, match=r"already has an admin \(ops\)"):
        reg.grant_role("mallory", "admin", actor="mallory", first_admin=True)
    with pytest.raises(PermissionDenied, match="needs the role 'admin'"):
        reg.grant_role("mallory", "admin", actor="mallory")
    assert held(reg) == {("ops", "admin")}
    assert first_admin_events(reg) == [
        ("role.grant", "alice", {"actor": "ops", "role": "admin"},
         "first admin: named by alice (--first-admin) on a registry that had no admin"),
    ]  # fmt: skip
    assert reg.verify_audit().ok


# one person, one name ---------------------------------------------------------------


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    return make_flow(registry, tmp_path)


@pytest.mark.parametrize("variant", ["Rita", "RITA", "ríta", "Ríta"])
def test_a_name_that_differs_from_a_principal_only_by_case_or_accent_is_refused(
    flow: Flow, variant: str
) -> None:
    reg = flow.reg
    with pytest.raises(InvalidInput) as err:
        reg.grant_role(variant, "reviewer", actor=ADMIN)
    assert f"{variant!r} differs from 'rita', who holds a role" in str(err.value)
    assert all(g.actor != variant for g in reg.roles())
    reg.grant_role("rita", "deployer", actor=ADMIN)  # the same name is the same person
    reg.grant_role("rito", "reviewer", actor=ADMIN)  # another letter is another person


def test_case_variants_count_as_one_approver_and_the_registrant_under_any(
    flow: Flow,
) -> None:
    reg = flow.reg
    reg.set_policy(
        policy(gate("low", "approved", "approvals", count=2, separation_of_duties=True)),
        actor=ADMIN,
    )
    v = flow.add()
    reg.promote(v.uri, to="candidate")
    reg.approve(v.uri, actor="rita")
    # rita's role moves to a case variant of her name: still one person, who has
    # approved already.
    reg.revoke_role("rita", "reviewer", actor=ADMIN)
    reg.grant_role("Rita", "reviewer", actor=ADMIN)
    with pytest.raises(Conflict, match="'Rita' already approved"):
        reg.approve(v.uri, actor="Rita")
    # The registrant (alice) approving as "Alice" does not count either.
    reg.grant_role("Alice", "reviewer", actor=ADMIN)
    reg.approve(v.uri, actor="Alice")
    with pytest.raises(GateFailed) as err:
        reg.promote(v.uri, to="approved", actor=ADMIN)
    assert "1 of 2 approval(s) from reviewer (rita)" in str(err.value)
    assert "Alice does not count: registered this version" in str(err.value)
    reg.approve(v.uri, actor="ron")  # a second person: the gate passes
    if reg.get_version(v.uri).stage.value == "candidate":
        reg.promote(v.uri, to="approved", actor=ADMIN)
    assert reg.get_version(v.uri).stage.value == "approved"


# Names written with letters of another script (or shapes) that read as a principal's
# name: the UTS #39 confusables skeleton makes them that principal.
LOOK_ALIKES_OF_RITA = {
    "cyrillic a": "rit\u0430",
    "cyrillic i": "r\u0456ta",
    "greek iota and cyrillic a": "r\u03b9t\u0430",
    "fullwidth": "\uff52\uff49\uff54\uff41",
    # Folded first, these were other letters' look-alikes (a capital I reads as l).
    "greek capital tau": "ri\u03a4a",
    "capitals with greek tau": "RI\u03a4A",
}
LOOK_ALIKES_OF_ALICE = {
    "cyrillic a": "\u0430lice",
    "cyrillic es": "ali\u0441e",
    "greek alpha": "\u03b1lice",
    "greek capital alpha": "\u0391LICE",
    # Case-folded before the skeleton, the lunate sigma became a sigma (reads as o).
    "greek lunate sigma": "ali\u03f2e",
    "greek capital alpha, lunate sigma": "\u0391li\u03f2e",
}


@pytest.mark.parametrize("variant", LOOK_ALIKES_OF_RITA.values(), ids=LOOK_ALIKES_OF_RITA)
def test_a_name_that_reads_as_a_principals_with_look_alike_letters_is_refused(
    flow: Flow, variant: str
) -> None:
    reg = flow.reg
    with pytest.raises(InvalidInput) as err:
        reg.grant_role(variant, "admin", actor=ADMIN)
    assert f"{variant!r} differs from 'rita', who holds a role" in str(err.value)
    assert "look-alike letters: grant the role to 'rita'" in str(err.value)
    assert all(g.actor != variant for g in reg.roles())


@pytest.mark.parametrize("variant", LOOK_ALIKES_OF_ALICE.values(), ids=LOOK_ALIKES_OF_ALICE)
def test_the_registrant_under_a_look_alike_name_cannot_approve_a_high_risk_version(
    flow: Flow, variant: str
) -> None:
    reg = flow.reg
    # alice registers but holds no role, so the look-alike name is granted: it is
    # still alice, and may not approve her own high-risk version.
    reg.grant_role(variant, "reviewer", actor=ADMIN)
    v = flow.add(tier="high", commit=None)
    assert v.created_by == "alice"
    with pytest.raises(PermissionDenied) as err:
        reg.approve(v.uri, actor=variant)
    assert f"{variant!r} registered {v.uri}, a high-risk version" in str(err.value)
    assert "separation of duties" in str(err.value)
    assert reg.annotations(v.uri).approvals == ()


def test_the_registrants_look_alike_approval_does_not_count_in_a_lower_tier(flow: Flow) -> None:
    reg = flow.reg
    reg.set_policy(
        policy(gate("low", "approved", "approvals", count=1, separation_of_duties=True)),
        actor=ADMIN,
    )
    reg.grant_role("\u0430lice", "reviewer", actor=ADMIN)
    v = flow.add()
    reg.promote(v.uri, to="candidate")
    own = reg.approve(v.uri, actor="\u0430lice")
    assert own.stages == ()
    assert "registered this version (separation of duties)" in str(
        own.outcomes[0].results[0].evidence
    )
    assert reg.approve(v.uri, actor="rita").stages == ("approved",)


@pytest.mark.parametrize("other", ["alicia", "alise", "alina", "malice", "rito", "rika"])
def test_names_that_read_differently_are_different_people(flow: Flow, other: str) -> None:
    reg = flow.reg
    reg.grant_role(other, "reviewer", actor=ADMIN)
    assert (other, "reviewer") in held(reg)
    v = flow.add(tier="high", commit=None)  # registered by alice
    reg.approve(v.uri, actor=other)
    assert [a.actor for a in reg.annotations(v.uri).approvals] == [other]


def test_a_long_grantee_is_named_as_the_grantee(flow: Flow) -> None:
    with pytest.raises(InvalidInput) as err:
        flow.reg.grant_role("r" * 5000, "reviewer", actor=ADMIN)
    assert "name to grant a role to" in str(err.value)
    assert "MODELBOOK_USER" not in str(err.value)


# the command line ---------------------------------------------------------------------


@pytest.fixture
def cli_new(
    new_db_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> CLI:
    """Commands against a database where no registry exists yet."""
    monkeypatch.setenv("MODELBOOK_URI", new_db_uri)
    monkeypatch.setenv("MODELBOOK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MODELBOOK_BLOB_URI", raising=False)
    return runner(monkeypatch, capsys)


def test_init_creates_an_empty_registry_whose_policy_is_set_before_any_version(
    cli_new: CLI, tmp_path: Path
) -> None:
    cli = cli_new
    missing = cli("policy", "set", write(tmp_path / "policy.toml", POLICY), user="platform")
    assert missing.code == 3
    assert "no registry at" in missing.err and "modelbook init" in missing.err
    made = cli("init", "--json", user="platform")
    assert made.json()["admins"] == ["platform"]
    assert cli("policy", "set", tmp_path / "policy.toml", user="platform").code == 0
    again = cli("init", "--admin", "mallory", user="mallory")
    assert again.code == 4
    assert "already exists" in again.err and "its admins: platform" in again.err
    assert cli("role", "grant", "mallory", "admin", user="mallory").code == 10
    grab = cli("role", "grant", "mallory", "admin", "--first-admin", user="mallory")
    assert grab.code == 5 and "already has an admin (platform)" in grab.err
    roles = cli("role", "list", "--json").json()
    assert [(g["actor"], g["role"], g["granted_by"]) for g in roles] == [
        ("platform", "admin", "platform")
    ]
    assert cli("audit", "verify").code == 0


def test_init_names_another_admin(cli_new: CLI) -> None:
    made = cli_new("init", "--admin", "platform", user="ci")
    assert made.code == 0, made.err
    assert "first admin: platform" in made.out
    events = cli_new("audit", "log", "--json").json()["events"]
    assert [(e["actor"], e["reason"]) for e in events] == [
        ("ci", "first admin: named by ci, who created the registry")
    ]


def test_a_missing_note_or_reason_is_bad_input_not_a_usage_error(
    cli_new: CLI, tmp_path: Path
) -> None:
    cli = cli_new
    assert cli("init", user="platform").code == 0
    model = write(tmp_path / "m.bin", "weights")
    assert cli("register", "m", model, "--owner", "o", "--no-capture", user="platform").code == 0
    for args in (["deprecate", "models:/m/1"], ["archive", "models:/m/1"]):
        run = cli(*args, user="platform")
        assert run.code == 6 and "a note is required: say why (--note TEXT)" in run.err, run
    assert cli("deprecate", "models:/m/1", "--note", "old", user="platform").code == 0
    run = cli("undeprecate", "models:/m/1", user="platform")
    assert run.code == 6 and "a reason is required: say why (--reason TEXT)" in run.err, run
    assert cli("show", "models:/m/1", "--json").json()["deprecated"] is True
