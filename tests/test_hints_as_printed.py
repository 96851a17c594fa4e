"""A hint that prints a command prints one that is accepted as printed: run with its
placeholders filled in, by the person it names, it succeeds. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from modelbook import Registry
from modelbook.errors import GateFailed, PermissionDenied

from .test_cli_release import CLI, cli, files, good, setup_people, ship  # noqa: F401 - fixtures
from .test_release_flow import ADMIN, REGISTRANT, Flow, gate, make_flow, policy


@pytest.fixture
def flow(registry: Registry, tmp_path: Path) -> Flow:
    return make_flow(registry, tmp_path)


def printed(text: str, after: str) -> list[str]:
    """The arguments of the command printed after ``after`` (up to a backtick or the end)."""
    command = text.split(after, 1)[1].strip().lstrip("`").split("`", 1)[0]
    words = shlex.split(command)
    assert words[0] == "modelbook", command
    return words[1:]


def test_a_denied_name_that_reads_as_a_principal_is_told_the_name_a_grant_accepts(
    cli: CLI,  # noqa: F811 - fixture
    files: Callable[[], Path],  # noqa: F811 - fixture
    tmp_path: Path,
) -> None:
    """RITA reads as rita: a grant to RITA is refused, so the hint names rita."""
    number = good(cli, files())
    setup_people(cli, tmp_path)
    assert cli("promote", f"ctr/{number}", "--to", "candidate").code == 0
    denied = cli("approve", f"ctr/{number}", user="RITA")
    assert denied.code == 10
    assert "RITA reads as rita, who holds a role, so no role is granted to RITA" in denied.err
    assert denied.err.rstrip().endswith("act as rita (MODELBOOK_USER=rita)")
    assert "role grant RITA" not in denied.err
    denied = cli("deploy", f"ctr/{number}", "--reason", "ship", user="RITA")
    assert denied.code == 10
    grant = printed(denied.err, "an admin grants it with:")
    assert grant == ["role", "grant", "rita", "deployer"]
    assert cli(*grant).code == 0
    # The name the hint says to act as is accepted, and still one person with RITA.
    assert cli("approve", f"ctr/{number}", user="rita").code == 0


def test_a_rollback_to_a_version_that_never_served_prints_a_deploy_that_is_accepted(
    cli: CLI,  # noqa: F811 - fixture
    files: Callable[[], Path],  # noqa: F811 - fixture
    tmp_path: Path,
) -> None:
    made = [good(cli, files()) for _ in range(3)]
    setup_people(cli, tmp_path)
    for n in made[:2]:
        assert ship(cli, n, f"ship {n}").code == 0
    assert cli("promote", f"ctr/{made[2]}", "--to", "candidate").code == 0
    assert cli("approve", f"ctr/{made[2]}", user="rita").code == 0
    refused = cli("rollback", "ctr", "--reason-code", "x", "--to", str(made[2]), user="dan")
    assert refused.code == 6
    deploy = printed(refused.err, "deploy this one instead (")
    assert deploy == ["deploy", f"models:/ctr/{made[2]}", "--reason", "TEXT"]
    assert cli(*deploy, user="dan").code == 0


@pytest.mark.parametrize(
    ("role", "who", "told"),
    [
        (None, "rita", "a reviewer records"),
        ("reviewer", "rita", "a reviewer records"),
        ("deployer", ADMIN, "a person holding both reviewer and deployer (or an admin) records"),
        ("admin", ADMIN, "an admin records"),
    ],
)
def test_a_missing_sign_off_names_who_may_record_it_under_the_policy(
    flow: Flow, role: str | None, who: str, told: str
) -> None:
    """Attesting needs the reviewer role whatever the check asks: with role = "deployer"
    the hint named a deployer, who may not attest at all."""
    reg = flow.reg
    params = {"name": "pii_review"} | ({"role": role} if role else {})
    reg.set_policy(policy(gate("low", "approved", "attestation", **params)), actor=ADMIN)
    v = flow.add()
    reg.promote(v.uri, to="candidate", actor=REGISTRANT)
    with pytest.raises(GateFailed) as err:
        reg.promote(v.uri, to="approved", actor=REGISTRANT)
    hint = f"{told} the pii_review sign-off: modelbook attest {v.uri} pii_review"
    assert hint in str(err.value)
    if role == "deployer":
        with pytest.raises(PermissionDenied, match="needs the role 'reviewer'"):
            reg.attest(v.uri, "pii_review", actor="dan")
    reg.attest(v.uri, "pii_review", actor=who)
    assert flow.stage(v.uri) == "approved"


def test_with_separation_of_duties_the_hint_leaves_out_the_registrant(flow: Flow) -> None:
    reg = flow.reg
    reg.set_policy(policy(gate("high", "approved", "attestation", name="pii_review")), actor=ADMIN)
    v = flow.add(tier="high")
    reg.promote(v.uri, to="candidate", actor=REGISTRANT)
    with pytest.raises(GateFailed) as err:
        reg.promote(v.uri, to="approved", actor=REGISTRANT)
    assert (
        f"a reviewer other than {REGISTRANT} (who registered it) records the pii_review "
        f"sign-off: modelbook attest {v.uri} pii_review"
    ) in str(err.value)


def test_an_approvals_check_of_another_role_names_who_may_approve(flow: Flow) -> None:
    reg = flow.reg
    reg.set_policy(policy(gate("low", "approved", "approvals", role="deployer")), actor=ADMIN)
    v = flow.add()
    reg.promote(v.uri, to="candidate", actor=REGISTRANT)
    with pytest.raises(GateFailed) as err:
        reg.promote(v.uri, to="approved", actor=REGISTRANT)
    said = re.search(r"to pass: (.*?)\)?$", str(err.value))
    assert said is not None
    assert (
        f"1 more person holding both reviewer and deployer (or an admin) approves {v.uri}"
        in said[1]
    )
    with pytest.raises(PermissionDenied):
        reg.approve(v.uri, actor="dan")
    reg.approve(v.uri, actor=ADMIN)
    assert flow.stage(v.uri) == "approved"
