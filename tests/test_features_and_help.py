"""``--features`` is NAME@VERSION (or NAME alone), read at registration by the rule
``impact features:...`` reads, on SQLite and PostgreSQL; and no square brackets of any
command's help are lost to the terminal's markup."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from modelbook import Registry
from modelbook.errors import InvalidInput

from .test_cli import run_main
from .test_cli_lineage import in_process


def test_features_are_read_as_impact_reads_them(
    registry: Registry,
    db_uri: str,
    blob_dir: Path,
    model_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli = in_process(db_uri, blob_dir, capsys)
    run = cli(
        "register", "m", model_file, "--owner", "o", "--no-capture",
        "--features", " txn_features @ 3 ",
    )  # fmt: skip
    assert run.code == 0, run.err
    features = registry.get_version("models:/m/1").lineage.features
    assert features is not None and (features.name, features.version) == ("txn_features", "3")
    assert [v.uri for v in registry.impact("features:txn_features@3").versions] == ["models:/m/1"]
    v = registry.register("m", [model_file], features="txn_features", capture_environment=False)
    bare = registry.get_version(v.uri).lineage.features
    assert bare is not None and (bare.name, bare.version) == ("txn_features", None)
    assert len(registry.impact("features:txn_features").versions) == 2
    for bad in ("txn_features@", "@3", " @ ", ""):
        run = cli("register", "m", model_file, "--no-capture", "--features", bad)
        assert run.code == 6 and "NAME@VERSION" in run.err, (bad, run.err)
        with pytest.raises(InvalidInput, match="NAME@VERSION"):
            registry.register("m", [model_file], features=bad, capture_environment=False)
        if bad.strip():
            with pytest.raises(InvalidInput, match="features:NAME@VERSION"):
                registry.impact(f"features:{bad}")
    assert [x.number for x in registry.versions("m").items] == [2, 1]


def _commands(cmd: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    subs = getattr(cmd, "commands", None)
    if not subs:
        return [(path, cmd)]
    return [found for name, sub in subs.items() for found in _commands(sub, (*path, name))]


def test_every_square_bracket_of_every_help_is_shown(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer

    import modelbook.cli  # noqa: F401  (registers the commands)
    from modelbook.cli.app import app

    monkeypatch.setenv("COLUMNS", "400")
    checked = 0
    for path, cmd in _commands(typer.main.get_command(app)):
        texts = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
        doc = " ".join(" ".join(texts).split())
        wanted = [m.replace("\\[", "[") for m in re.findall(r"\\?\[[^\]\s]*\]", doc)]
        if not wanted:
            continue
        run = run_main([*path, "--help"], capsys)
        shown = " ".join(run.out.split())
        for text in wanted:
            assert text in shown, (path, text)
        checked += 1
    assert checked >= 3
