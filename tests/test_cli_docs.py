"""docs/cli.md documents the JSON of every command: each command has its section, and
every field any ``--json`` prints is named there."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from modelbook.cli import app
from tests import test_cli
from tests.test_cli import CLI, FILES, blob_of, make_tree, sha

# The fixtures of the CLI tests: a registry home in a temp folder, and one command run.
home = test_cli.home
cli = test_cli.cli

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"
# The commands whose JSON the outputs fixture below collects.
COLLECTED = {
    "register", "models", "versions", "show", "resolve", "download", "verify", "tag",
    "alias set", "alias rm", "alias list", "alias history", "events", "diff",
}  # fmt: skip
# Keys that are data, not fields: the tag, param and slice keys and the alias names
# the outputs fixture writes.
DATA_KEYS = {"t", "p", "region", "k", "champion", "staging"}


def _sections(text: str) -> dict[str, str]:
    """The text of each ``### `modelbook COMMAND``` section, by command."""
    parts = re.split(r"^### `modelbook ([a-z -]+)`\n", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1].split("\n### ")[0] for i in range(1, len(parts), 2)}


def _keys(value: Any) -> set[str]:
    """Every key of every object inside ``value``, at any depth."""
    if isinstance(value, dict):
        return (set(value) | {k for v in value.values() for k in _keys(v)}) - DATA_KEYS
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


@pytest.fixture
def outputs(cli: CLI, tmp_path: Path, home: Path) -> list[tuple[str, Any]]:
    """(command, its JSON) for every command, on a registry where every list has an item."""

    def json_of(*args: object) -> Any:
        run = cli(*args, "--json")
        assert run.code in (0, 7), run
        return json.loads(run.out)

    src = make_tree(tmp_path / "model", FILES)
    got = [
        ("register", json_of(
            "register", "ctr", src, "--owner", "o", "--metric", "auc@test{region=eu}=0.9",
            "--tag", "t=v", "--param", "p=1", "--data-snapshot", "s", "--features", "f@1",
            "--caveat", "c", "--commit", "abc" + "0" * 37, "--no-capture",
        )),
    ]  # fmt: skip
    json_of("register", "ctr", src, "--parent", "ctr/1", "--no-capture")
    got.append(("alias set", json_of("alias", "set", "ctr", "champion", "1", "--reason", "r")))
    json_of("alias", "set", "ctr", "staging", "2", "--reason", "r")
    got.append(("alias rm", json_of("alias", "rm", "ctr", "staging", "--reason", "r")))
    got.append(("tag", json_of("tag", "ctr/1", "k=v")))
    got.append(("models", json_of("models", "--limit", "1")))
    got.append(("versions", json_of("versions", "ctr", "--limit", "1")))
    got.append(("show", json_of("show", "ctr/1")))
    got.append(("show", json_of("show", "models:/ctr")))
    got.append(("resolve", json_of("resolve", "ctr@champion")))
    got.append(("diff", json_of("diff", "ctr/1", "ctr/2")))
    got.append(("download", json_of("download", "ctr/1", tmp_path / "dl")))
    got.append(("alias list", json_of("alias", "list", "ctr")))
    got.append(("alias history", json_of("alias", "history", "ctr")))
    got.append(("events", json_of("events")))
    blob_of(home, sha(FILES["model.pkl"])).unlink()
    got.append(("verify", json_of("verify")))
    return got


def _commands(group: Any, prefix: str = "") -> set[str]:
    """Every command of the app, sub-commands as ``alias set``."""
    found: set[str] = set()
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found |= _commands(command, f"{prefix}{name} ")
        else:
            found.add(prefix + name)
    return found


def test_every_command_has_a_section() -> None:
    """Each command of the app, and no other, has its ``### `modelbook ...``` section."""
    commands = _commands(typer.main.get_command(app))
    assert commands >= COLLECTED
    assert set(_sections(DOC.read_text())) == commands


def test_every_json_field_is_documented(outputs: list[tuple[str, Any]]) -> None:
    """Top-level fields in the command's section or in the shapes it refers to;
    nested fields anywhere on the page."""
    text = DOC.read_text()
    sections = _sections(text)
    shapes = text.split("## Shapes", 1)[1].split("## Commands", 1)[0]
    assert {command for command, _ in outputs} == COLLECTED
    for command, value in outputs:
        top = set(value) - DATA_KEYS if isinstance(value, dict) else _keys(value)
        for key in top:
            assert f"`{key}`" in sections[command] + shapes, (command, key)
        for key in _keys(value):
            assert f"`{key}`" in text, (command, key)


def test_the_command_table_lists_every_command() -> None:
    """The table at the top of docs/cli.md names every command, and only those."""

    def names(group: Any, prefix: str = "") -> set[str]:
        found: set[str] = set()
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                found |= names(command, f"{prefix}{name} ")
            else:
                found.add(prefix + name)
        return found

    table = set(re.findall(r"^\| \[`([a-z -]+)`\]\(#modelbook-", DOC.read_text(), re.MULTILINE))
    assert table == names(typer.main.get_command(app))


def test_every_command_but_report_and_bom_takes_json() -> None:
    """What docs/cli.md and the README say of --json holds."""
    group: Any = typer.main.get_command(app)

    def leaves(g: Any) -> list[Any]:
        return [
            c for c in g.commands.values() for c in (leaves(c) if hasattr(c, "commands") else [c])
        ]

    without = {c.name for c in leaves(group) if not any("--json" in p.opts for p in c.params)}
    assert without == {"report", "bom"}
    assert "but `report`" in DOC.read_text()
