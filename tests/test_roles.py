"""Roles: who may do what, and the error that says how to get the role."""

from __future__ import annotations

import pytest

from modelbook import InvalidInput
from modelbook.errors import PermissionDenied
from modelbook.roles import (
    IN_WORDS,
    OPERATIONS,
    ROLE_NAMES,
    alias_operation,
    has_role,
    require,
    role,
)


@pytest.mark.parametrize(
    ("operation", "needed"),
    [
        ("register", "contributor"),
        ("tag", "contributor"),
        ("comment", "contributor"),
        ("observe", "contributor"),
        ("watch", "contributor"),
        ("promote", "contributor"),
        ("archive", "contributor"),
        ("deprecate", "contributor"),
        ("approve", "reviewer"),
        ("reject", "reviewer"),
        ("attest", "reviewer"),
        ("deploy", "deployer"),
        ("rollback", "deployer"),
        ("mark_healthy", "deployer"),
        ("serving_alias_move", "deployer"),
        ("drill", "deployer"),
        ("policy_set", "admin"),
        ("role_grant", "admin"),
        ("role_revoke", "admin"),
        ("gc", "admin"),
        ("risk_tier_set", "admin"),
    ],
)
def test_each_operation_needs_its_role(operation: str, needed: str) -> None:
    """The role itself suffices, admin suffices, and another working role does not."""
    require(operation, [needed], "ana")
    require(operation, ["admin"], "ana")
    others = [r for r in ROLE_NAMES if r not in (needed, "admin")]
    with pytest.raises(PermissionDenied) as err:
        require(operation, others, "ana")
    message = str(err.value)
    assert f"needs the role {needed!r}" in message
    assert f"modelbook role grant ana {needed}" in message


def test_denial_says_what_the_actor_holds() -> None:
    with pytest.raises(PermissionDenied, match="bob holds reviewer"):
        require("deploy", ["reviewer"], "bob")
    with pytest.raises(PermissionDenied, match="holds no role"):
        require("register", [], "bob")


def test_an_actor_name_with_spaces_is_quoted_in_the_grant_command() -> None:
    with pytest.raises(PermissionDenied) as err:
        require("deploy", [], "Ana Lopez")
    assert "modelbook role grant 'Ana Lopez' deployer" in str(err.value)


def test_roles_other_than_admin_do_not_include_each_other() -> None:
    """A deployer does not approve, and a reviewer does not deploy."""
    assert not has_role(["deployer"], "reviewer")
    assert not has_role(["reviewer"], "deployer")
    assert not has_role(["contributor"], "deployer")
    assert has_role(["admin"], "deployer")


def test_every_role_can_read_and_strangers_cannot() -> None:
    for name in ROLE_NAMES:
        require("read", [name], "x")
    with pytest.raises(PermissionDenied):
        require("read", [], "x")
    with pytest.raises(PermissionDenied):
        require("read", ["superuser"], "x")


def test_moving_a_serving_alias_is_a_deployment() -> None:
    assert alias_operation("production", ["production"]) == "serving_alias_move"
    assert alias_operation("challenger", ["production"]) == "alias_move"
    assert OPERATIONS["alias_move"] == "contributor"


def test_unknown_names_are_refused_with_the_choices() -> None:
    with pytest.raises(InvalidInput, match="choose one of viewer, contributor"):
        role("owner")
    with pytest.raises(InvalidInput, match="unknown operation 'launch'"):
        require("launch", ["admin"], "x")


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_a_denial_names_the_operation_in_words(operation: str) -> None:
    """Every operation reads as plain words after "may not", never as its key."""
    with pytest.raises(PermissionDenied) as denied:
        require(operation, [], "rita")
    said = str(denied.value).split(":")[0]
    assert said == f"rita may not {IN_WORDS[operation]}"
    assert "_" not in said


def test_a_denied_risk_tier_change_reads_plainly() -> None:
    with pytest.raises(PermissionDenied, match=r"^rita may not change a model's risk tier: "):
        require("risk_tier_set", ["reviewer"], "rita")
