"""Policies refused when set, archived versions restored under a policy's own stages, and
a stored policy read as it was set: through the registry and the command line, on SQLite
and on PostgreSQL.

Refused policies exit 6 naming their line when an admin sets them; the admin role is
checked first, before the text is read, so anyone else is refused with exit 10 whatever
the text. The pure rules (the stage graph,
the nesting limit, strict parameter types) are tested in ``test_lifecycle.py`` and
``test_policy.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelbook import InvalidInput
from modelbook.errors import PermissionDenied

from .test_cli_release import CLI, cli, write
from .test_release_flow import ADMIN, REVIEWERS, Flow, flow, gate, policy, store_policy

__all__ = ["cli", "flow"]  # fixtures, imported for pytest

TIERS = "[tiers.low]\n[tiers.medium]\n[tiers.high]\n"


def refused(cli: CLI, path: Path) -> str:
    """The error output of ``policy set PATH`` by an admin (alice, named the first admin
    if the registry has none), which must exit 6 and leave the default."""
    assert cli("role", "grant", "alice", "admin", "--first-admin").code in (0, 5)
    run = cli("policy", "set", path)
    assert run.code == 6, (run.code, run.out, run.err)
    assert "unexpected" not in run.err
    assert cli("policy", "show", "--json").json()["default"] is True
    return run.err


# flows in which nothing could be deployed -----------------------------------------------


@pytest.mark.parametrize(
    ("stages", "stage"),
    [
        (
            'order = ["dev", "qa", "deployed"]\ntransitions = { dev = ["archived"], qa = ["dev"] }',
            "qa",
        ),
        (
            'order = ["dev", "shadow", "canary", "deployed"]\n'
            'transitions = { dev = ["shadow"], shadow = ["dev"], archived = ["canary"] }',
            "canary",
        ),
    ],
)
def test_policy_set_refuses_a_flow_that_can_never_deploy(
    cli: CLI, tmp_path: Path, stages: str, stage: str
) -> None:
    text = f"[stages]\n{stages}\n{TIERS}"
    err = refused(cli, write(tmp_path / "policy.toml", text))
    assert f"error: policy.toml line 2: stage {stage!r} cannot be reached from the first " in err
    assert "without it no version can be deployed" in err


def test_an_archived_version_is_restored_to_the_first_stage_of_a_policys_own_flow(
    flow: Flow,
) -> None:
    """The transitions do not name archived: restoring to the first stage is always allowed."""
    reg = flow.reg
    reg.set_policy(
        policy(stages='order = ["dev", "qa", "deployed"]\ntransitions = { dev = ["qa"] }'),
        source="policy.toml",
        actor=ADMIN,
    )
    v = flow.add()
    assert flow.stage(v.uri) == "dev"
    reg.promote(v.uri, to="qa")
    reg.archive(v.uri, note="superseded")
    reg.promote(v.uri, to="dev", comment="needed after all")
    assert flow.stage(v.uri) == "dev"
    reg.promote(v.uri, to="qa")
    assert flow.stage(v.uri) == "qa"


# nesting, size and types ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "anchor"),
    [
        ("tiers: &a\n  low: *a\n", 2, "a"),
        ("tiers:\n  low: &b\n    - x: [1, *b]\n", 3, "b"),
        ("x: &c [[[*c]]]\n", 1, "c"),
    ],
)
def test_policy_set_refuses_a_yaml_alias_to_itself_at_its_line(
    cli: CLI, tmp_path: Path, text: str, line: int, anchor: str
) -> None:
    """A collection that contains itself would be measured without end: it is refused
    as it is read, before it is built."""
    err = refused(cli, write(tmp_path / "alias.yaml", text))
    assert err == (
        f"error: alias.yaml line {line}: a YAML alias refers to itself (*{anchor} inside "
        f"&{anchor}): the collection would contain itself without end; write the values out "
        "instead\n"
    )


def test_an_alias_to_a_finished_collection_is_read_as_before(cli: CLI, tmp_path: Path) -> None:
    text = (
        "tiers:\n  low:\n    approved: &g\n      - check: approvals\n        count: 1\n"
        "  medium:\n    approved: *g\n  high: {}\n"
    )
    assert cli("role", "grant", "alice", "admin", "--first-admin").code in (0, 5)
    assert cli("policy", "set", write(tmp_path / "shared.yaml", text)).code == 0


def test_only_an_admin_has_a_policy_read(
    flow: Flow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: CLI
) -> None:
    """The role is checked before the text is parsed: whatever a policy costs to read,
    only an admin can make the registry pay it."""
    from modelbook.services import governance

    def parse(*args: object, **kw: object) -> None:
        raise AssertionError("parsed before the role was checked")

    monkeypatch.setattr(governance, "load_policy", parse)
    with pytest.raises(PermissionDenied, match="needs the role 'admin'"):
        flow.reg.set_policy("tiers: &a\n  low: *a\n", source="p.yaml", actor=REVIEWERS[0])
    assert cli("role", "grant", "alice", "admin", "--first-admin").code in (0, 5)
    run = cli("policy", "set", write(tmp_path / "alias.yaml", "tiers: &a\n  low: *a\n"), user="bob")
    assert run.code == 10 and "needs the role 'admin'" in run.err


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            'check = "attestation"\nname = "pii_review"\nmax_age_days = 1e9',
            "tiers.high.approved[0].max_age_days: must be at most 36525 days (100 years), "
            "got 1e+09",
        ),
        (
            'check = "attestation"\nname = "pii_review"\nmax_age_days = 1e300',
            "tiers.high.approved[0].max_age_days: must be at most 36525 days (100 years), "
            "got 1e+300",
        ),
        (
            'check = "attestation"\nname = "pii_review"\nmax_age_days = 36526',
            "tiers.high.approved[0].max_age_days: must be at most 36525 days (100 years), "
            "got 36526",
        ),
        (
            'check = "slice_gap"\nmetric = "auc@test"\nmax_gap = 0.1\nmin_slices = 10001',
            "tiers.high.approved[0].min_slices: must be at most 10000, got 10001",
        ),
    ],
)
def test_policy_set_refuses_a_duration_or_count_out_of_range_naming_the_line(
    cli: CLI, tmp_path: Path, entry: str, message: str
) -> None:
    """A value the gate would turn into a time it cannot hold is refused when set, not
    found by every gate after (exit 1, an OverflowError)."""
    text = f"{TIERS}[[tiers.high.approved]]\n{entry}\n"
    line = 5 + entry.count("\n")
    err = refused(cli, write(tmp_path / "policy.toml", text))
    assert err == f"error: policy.toml line {line}: {message}\n"


def test_the_longest_durations_are_accepted(cli: CLI, tmp_path: Path) -> None:
    text = (
        f'{TIERS}[[tiers.high.approved]]\ncheck = "attestation"\nname = "x"\n'
        'max_age_days = 36525\n[[tiers.high.approved]]\ncheck = "slice_gap"\n'
        'metric = "auc@test"\nmax_gap = 1e300\nmin_slices = 10000\n'
    )
    assert cli("role", "grant", "alice", "admin", "--first-admin").code in (0, 5)
    assert cli("policy", "set", write(tmp_path / "policy.toml", text)).code == 0


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        (
            "policy.toml",
            f'{TIERS}[[tiers.high.approved]]\ncheck = "approvals"\ncount = 1{"0" * 5000}\n',
            6,
        ),
        (
            "policy.yaml",
            "tiers:\n  low: {}\n  medium: {}\n  high:\n    approved:\n"
            f"      - check: approvals\n        count: 1{'0' * 5000}\n",
            7,
        ),
    ],
)
def test_policy_set_refuses_a_number_too_long_to_read_naming_the_line(
    cli: CLI, tmp_path: Path, name: str, text: str, line: int
) -> None:
    """Python reads at most 4300 digits of a number from text; the parsers raised a
    ValueError past that (exit 1)."""
    err = refused(cli, write(tmp_path / name, text))
    assert err == (
        f"error: {name} line {line}: a number of 5001 digits; a policy's numbers are far "
        "smaller (a count, a number of days, a metric value)\n"
    )


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("policy.toml", "x = " + "[" * 30000 + "]" * 30000 + "\n", 1),
        ("policy.yaml", "# deep\nx: " + "[" * 30000 + "]" * 30000 + "\n", 2),
        ("policy.yaml", "x:\n" + "- " * 20000 + "1\n", 2),
    ],
)
def test_policy_set_refuses_deep_nesting_naming_the_line(
    cli: CLI, tmp_path: Path, name: str, text: str, line: int
) -> None:
    err = refused(cli, write(tmp_path / name, text))
    assert err == (
        f"error: {name} line {line}: tables and lists nested more than 32 deep; a policy "
        "needs far fewer (tiers.high.approved[0].fields is 5 deep)\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# " + "x" * 300_000, "is larger than 262,144 bytes; the limit is 65,536 characters"),
        ("# " + "é" * 70_000, "holds 70,002 characters; the limit is 65,536 characters"),
    ],
)
def test_policy_set_names_the_size_limit(cli: CLI, tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "policy.toml", text)
    assert refused(cli, path) == f"error: policy file '{path}' {message}\n"


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("count = true", "count must be a whole number, got true"),
        ('count = "2"', 'count must be a whole number, got "2"'),
        ('separation_of_duties = "yes"', 'separation_of_duties must be true or false, got "yes"'),
    ],
)
def test_policy_set_refuses_loosely_typed_parameters(
    cli: CLI, tmp_path: Path, entry: str, problem: str
) -> None:
    text = TIERS + f'[[tiers.high.approved]]\ncheck = "approvals"\n{entry}\n'
    err = refused(cli, write(tmp_path / "policy.toml", text))
    assert err == f"error: policy.toml line 6: tiers.high.approved[0].{problem}\n"


def test_a_policy_stored_by_an_earlier_modelbook_keeps_its_gates_working(flow: Flow) -> None:
    """A text accepted before types were strict (count = "1") still runs its gates after
    an upgrade; setting it again is refused, naming the line."""
    reg = flow.reg
    text = policy(gate("low", "approved", "approvals", count="1"))
    store_policy(reg, text)
    v = flow.add()
    reg.promote(v.uri, to="candidate")
    reg.approve(v.uri, actor=REVIEWERS[0])
    assert flow.stage(v.uri) == "approved"
    with pytest.raises(InvalidInput, match=r'count must be a whole number, got "1"'):
        reg.set_policy(text, source="policy.toml", actor=ADMIN)


# serving aliases named twice ------------------------------------------------------------


@pytest.mark.parametrize(
    ("aliases", "says"),
    [
        ('["Production", "production"]', "as 'Production', which differs only by case"),
        ('["production", "canary", "production"]', "'production' is named already: name"),
    ],
)
def test_policy_set_refuses_a_serving_alias_named_twice(
    cli: CLI, tmp_path: Path, aliases: str, says: str
) -> None:
    """Two spellings of one name would be two serving aliases that read as one."""
    text = f"serving_aliases = {aliases}\n{TIERS}"
    err = refused(cli, write(tmp_path / "policy.toml", text))
    assert "error: policy.toml line 1: serving alias" in err
    assert says in err


def test_a_stored_policy_naming_a_serving_alias_twice_still_loads(flow: Flow) -> None:
    """Accepted before the rule: the registry keeps working under it."""
    reg = flow.reg
    text = f'serving_aliases = ["production", "production"]\n{TIERS}'
    store_policy(reg, text)
    assert reg.policy().text == text
    v = flow.add()
    reg.promote(v.uri, to="candidate")
    assert flow.stage(v.uri) == "candidate"
    with pytest.raises(InvalidInput, match="named already"):
        reg.set_policy(text, source="policy.toml", actor=ADMIN)
