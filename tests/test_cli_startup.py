"""A command imports only what it needs: ``resolve`` loads no table or progress
rendering and no migration tool. (Its wall time is measured by bench/cli_startup.py.)"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from modelbook.cli import app, main
from modelbook.cli.app import _short_help, command_line
from tests import test_cli
from tests.test_cli import CLI

# The fixtures of the CLI tests: a registry home in a temp folder, and one command run.
home = test_cli.home
cli = test_cli.cli

# Runs one command in a fresh interpreter and reports the top-level packages it imported.
PROBE = """
import json, sys
from modelbook.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
loaded = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps({"code": code, "loaded": loaded, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _report(home: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "MODELBOOK_HOME": str(home), "MODELBOOK_USER": "carol"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    return json.loads(done.stderr.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _loaded(home: Path, *args: str) -> tuple[int, set[str]]:
    report = _report(home, *args)
    return report["code"], set(report["loaded"])


def test_resolve_loads_neither_rich_nor_alembic(cli: CLI, home: Path, model_file: Path) -> None:
    cli("register", "ctr", model_file, "--owner", "o", "--no-capture")
    cli("alias", "set", "ctr", "champion", "1", "--reason", "r")
    code, loaded = _loaded(home, "resolve", "models:/ctr@champion")
    assert code == 0
    assert "modelbook" in loaded
    assert not loaded & {"rich", "alembic", "mako"}, loaded & {"rich", "alembic", "mako"}
    code, loaded = _loaded(home, "resolve", "models:/ctr@champion", "--json")
    assert code == 0 and "rich" not in loaded


def test_resolve_on_sqlite_loads_no_postgresql_dialect_and_no_query_language(
    cli: CLI, home: Path, model_file: Path
) -> None:
    cli("register", "ctr", model_file, "--owner", "o", "--no-capture")
    report = _report(home, "resolve", "models:/ctr/1")
    assert report["code"] == 0
    unneeded = {"sqlalchemy.dialects.postgresql", "modelbook.query", "modelbook.store.query"}
    assert not unneeded & set(report["modules"]), unneeded & set(report["modules"])


def test_importing_the_package_loads_nothing_until_a_name_is_used() -> None:
    probe = (
        "import sys, modelbook; before = 'sqlalchemy' in sys.modules;"
        " from modelbook import Registry, Version;"
        " print(before, 'sqlalchemy' in sys.modules, Registry.__module__, Version.__module__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["False", "True", "modelbook.registry", "modelbook.domain"]


def test_the_package_names_its_submodules_and_no_helpers_of_its_own() -> None:
    probe = (
        "import modelbook;"
        " from modelbook import annotations;"
        " print(annotations.__name__, modelbook.errors.NotFound.__module__,"
        " sorted(n for n in ('Any', 'importlib', 'TYPE_CHECKING', 'annotations')"
        " if n in dir(modelbook)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["modelbook.annotations", "modelbook.errors", "['annotations']"]


@pytest.mark.parametrize("name", ["nope", "nope.x", "store.query", "__nope__", "1x"])
def test_a_name_the_package_lacks_is_an_attribute_error(name: str) -> None:
    import modelbook

    assert not hasattr(modelbook, name)
    assert name not in vars(modelbook)


def test_the_command_leaves_the_collector_as_the_host_had_it(tmp_path: Path) -> None:
    probe = (
        "import gc, sys; gc.disable(); sys.argv = ['modelbook', 'models'];"
        " from modelbook.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(gc.isenabled())"
    )
    env = {**os.environ, "MODELBOOK_HOME": str(tmp_path), "MODELBOOK_USER": "carol"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.stdout.split()[-1:] == ["False"], done.stderr


def test_a_table_still_draws(cli: CLI, home: Path, model_file: Path) -> None:
    """The lazily imported renderer works: a table command loads rich and prints."""
    cli("register", "ctr", model_file, "--owner", "o", "--no-capture")
    code, loaded = _loaded(home, "versions", "ctr")
    assert code == 0 and "rich" in loaded


def test_commands_built_on_demand_are_typer_s_own() -> None:
    """main() builds a command only when it is looked up; the names, their order
    and each command are the ones Typer builds all up front."""
    eager = typer.main.get_command(app)
    lazy = command_line()
    assert isinstance(eager, typer.core.TyperGroup)
    assert list(lazy.commands) == list(eager.commands)
    for name, command in eager.commands.items():
        built = lazy.commands[name]
        assert type(built) is type(command) and built.help == command.help, name
        assert [p.name for p in built.params] == [p.name for p in command.params], name


def test_help_lists_every_command_as_before(capsys: pytest.CaptureFixture[str]) -> None:
    """``modelbook --help`` (and a group's) prints what Typer's eager app prints, with
    each command's short help one paragraph (``_short_help``)."""
    for args in (["--help"], ["alias", "--help"]):
        eager = typer.main.get_command(app)
        for command in eager.commands.values():  # type: ignore[attr-defined]
            _short_help(command)
        with contextlib.suppress(SystemExit):
            eager(args=args, prog_name="modelbook")
        expected = capsys.readouterr().out
        with contextlib.suppress(SystemExit):
            main(args)
        assert capsys.readouterr().out == expected and "Commands" in expected
