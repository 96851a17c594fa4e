"""A contract pin outlives ``alias rm`` and never hides: it is listed, said, and still
holds the alias to its MAJOR when it is set again (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelbook import InvalidInput, Registry

from .test_cli import CLI, cli, home  # noqa: F401 - fixtures
from .test_release_flow import DEPLOYERS, Flow, make_flow

DAN = DEPLOYERS[0]


def _pinned_then_removed(flow: Flow) -> tuple[int, int]:
    v1 = flow.add()
    flow.reg.set_alias("m", "champion", v1.number, reason="first", actor=DAN)
    flow.reg.pin_alias("m", "champion", 1, actor=DAN)
    v2 = flow.add(semver="2.0.0")
    flow.reg.delete_alias("m", "champion", reason="out of service", actor=DAN)
    return v1.number, v2.number


def test_a_kept_pin_is_listed_and_still_holds(registry: Registry, tmp_path: Path) -> None:
    flow = make_flow(registry, tmp_path)
    v1, v2 = _pinned_then_removed(flow)
    assert registry.aliases("m") == []
    [pin] = registry.alias_pins("m")
    assert (pin.alias, pin.major, pin.version, pin.pinned_by) == ("champion", 1, None, DAN)
    with pytest.raises(InvalidInput, match="pinned to major 1"):
        registry.set_alias("m", "champion", v2, reason="back", actor=DAN)
    registry.set_alias("m", "champion", v1, reason="back", actor=DAN)
    assert [(p.alias, p.version) for p in registry.alias_pins("m")] == [("champion", v1)]
    registry.delete_alias("m", "champion", reason="out again", actor=DAN)
    registry.unpin_alias("m", "champion", actor=DAN)
    assert registry.alias_pins("m") == []
    registry.set_alias("m", "champion", v2, reason="new contract", actor=DAN)


def test_the_cli_says_and_shows_the_kept_pin(
    cli: CLI,  # noqa: F811
    db_uri: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    blobs = tmp_path / "blobs"
    reg = Registry(db_uri, blob_uri=str(blobs), actor="tester")
    try:
        flow = make_flow(reg, tmp_path)
        v1 = flow.add()
        reg.set_alias("m", "champion", v1.number, reason="first", actor=DAN)
        reg.pin_alias("m", "champion", 1, actor=DAN)
        reg.set_alias("m", "challenger", v1.number, reason="first", actor=DAN)
    finally:
        reg.close()
    monkeypatch.setenv("MODELBOOK_USER", DAN)
    base = ("--uri", db_uri, "--blob-uri", blobs)
    run = cli(*base, "alias", "rm", "m", "champion", "--reason", "out of service")
    assert run.code == 0 and "its pin to major 1 is kept" in run.out, run
    gone = cli(*base, "alias", "rm", "m", "challenger", "--reason", "done", "--json").json()
    assert gone["pinned_major"] is None
    listing = cli(*base, "alias", "list", "m").out
    assert "champion" in listing and "(removed)" in listing and "major 1" in listing
    pins = cli(*base, "alias", "pins", "m", "--json").json()
    assert [(p["alias"], p["major"], p["version"]) for p in pins] == [("champion", 1, None)]
    assert "(alias removed)" in cli(*base, "alias", "pins", "m").out
    assert cli(*base, "alias", "unpin", "m", "champion").code == 0
    assert "no alias of m is pinned" in cli(*base, "alias", "pins", "m").out
