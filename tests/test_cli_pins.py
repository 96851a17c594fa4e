"""``modelbook alias pin`` / ``unpin`` and ``--allow-major``: exit codes and output."""

from __future__ import annotations

from pathlib import Path

from .test_cli import CLI, cli, home  # noqa: F401 - fixtures


def _two_majors(cli: CLI, tmp_path: Path) -> None:  # noqa: F811
    for i, semver in enumerate(("1.0.0", "2.0.0")):
        f = tmp_path / f"m{i}.bin"
        f.write_bytes(b"model %d" % i)
        assert cli("register", "ctr", f, "--owner", "alice", "--semver", semver).code == 0
    assert cli("alias", "set", "ctr", "champion", "1", "--reason", "go").code == 0


def test_pin_refuse_override_and_unpin(cli: CLI, tmp_path: Path) -> None:  # noqa: F811
    _two_majors(cli, tmp_path)
    run = cli("alias", "pin", "ctr", "champion", "--major", "1")
    assert run.code == 0 and "pinned to major 1" in run.out
    listed = cli("alias", "list", "ctr", "--json").json()
    assert listed[0]["pinned_major"] == 1
    assert "major 1" in cli("alias", "list", "ctr").out

    refused = cli("alias", "set", "ctr", "champion", "2", "--reason", "v2")
    assert refused.code == 6
    assert "pinned to major 1" in refused.err and "--allow-major" in refused.err

    moved = cli(
        "alias", "set", "ctr", "champion", "2", "--reason", "v2", "--allow-major", "--json"
    ).json()
    assert moved["version"] == 2 and moved["pinned_major"] == 2
    events = cli("events", "--model", "ctr", "--action", "alias.override", "--json").json()
    assert events["events"][0]["reason"] == "v2"

    assert cli("alias", "unpin", "ctr", "champion").code == 0
    assert cli("alias", "list", "ctr", "--json").json()[0]["pinned_major"] is None
    assert cli("alias", "unpin", "ctr", "champion").code == 3


def test_bad_pins_exit_with_their_kind(cli: CLI, tmp_path: Path) -> None:  # noqa: F811
    _two_majors(cli, tmp_path)
    assert cli("alias", "pin", "ctr", "champion", "--major", "-1").code == 6
    assert cli("alias", "pin", "ctr", "nope", "--major", "1").code == 3
    assert cli("alias", "pin", "ctr", "champion", "--major", "2").code == 6
    assert cli("alias", "pin", "ctr", "champion").code == 2
    assert cli("alias", "list", "ctr", "--json").json()[0]["pinned_major"] is None
