"""Bad or careless input on the command line: a registry that is not there, a store
that would vanish, a destination in the way, the events command's filters, and the
aliases every version JSON carries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelbook.cli.app import command_line, ephemeral_blobs, ephemeral_database
from tests import test_cli
from tests.test_cli import CLI, FILES, make_tree

# The fixtures of the CLI tests: a registry home in a temp folder, and one command run.
home = test_cli.home
cli = test_cli.cli

READ_ONLY = [
    ["models"],
    ["versions", "ctr"],
    ["show", "models:/ctr/1"],
    ["show", "models:/ctr"],
    ["resolve", "models:/ctr@champion"],
    ["download", "models:/ctr/1", "DEST"],
    ["verify"],
    ["alias", "list", "ctr"],
    ["alias", "history", "ctr"],
    ["events"],
]


@pytest.mark.parametrize("args", READ_ONLY, ids=lambda a: " ".join(a[:2]))
def test_reading_where_no_registry_is_says_so_and_creates_nothing(
    cli: CLI, home: Path, tmp_path: Path, args: list[str]
) -> None:
    """A read-only command on a path without a registry exits 3 naming the path, and
    leaves no database, blob folder or home folder behind."""
    argv = [str(tmp_path / "dest") if a == "DEST" else a for a in args]
    run = cli(*argv)
    assert run.code == 3, run
    assert run.err.splitlines() == [
        f"error: no registry at {home / 'registry.db'}: create one with `modelbook init` "
        "(its admin is you, or --admin NAME), or register a first version"
    ]
    assert not home.exists()
    assert not (tmp_path / "dest").exists()
    elsewhere = tmp_path / "elsewhere" / "r.db"
    run = cli("--uri", f"sqlite:///{elsewhere}", *argv)
    assert run.code == 3 and f"no registry at {elsewhere}" in run.err
    assert not elsewhere.parent.exists()


EPHEMERAL = [
    "sqlite://",
    "sqlite:///:memory:",
    "sqlite+pysqlite:///:memory:",
    "SQLite://",
    "sqlite:///file::memory:?cache=shared&uri=true",
    "sqlite:///file:reg?mode=memory&cache=shared&uri=true",
]
DURABLE = [
    "sqlite:///registry.db",
    "sqlite:////var/lib/modelbook/registry.db",
    "sqlite:///memory.db",
    "sqlite:///file:reg.db?mode=rwc&uri=true",
    "postgresql+psycopg://u@h/memory",
    "postgresql://u@h/db?options=-c%20mode%3Dmemory",
]


@pytest.mark.parametrize("uri", EPHEMERAL)
def test_in_memory_database_uris_are_ephemeral(uri: str) -> None:
    assert ephemeral_database(uri)


@pytest.mark.parametrize("uri", DURABLE)
def test_file_and_server_database_uris_are_not(uri: str) -> None:
    assert not ephemeral_database(uri)


def test_only_memory_blob_stores_are_ephemeral() -> None:
    assert ephemeral_blobs("memory://blobs") and ephemeral_blobs("MEMORY://x")
    for url in ("/srv/blobs", "file:///srv/blobs", "s3://bucket/memory", "memory-blobs/x"):
        assert not ephemeral_blobs(url)


@pytest.mark.parametrize("uri", ["sqlite://", "sqlite:///:memory:"])
@pytest.mark.parametrize(
    "args", [["register", "ctr", "MODEL", "--owner", "o"], ["models"], ["resolve", "ctr/1"]]
)
def test_an_in_memory_store_is_refused_with_exit_6(
    cli: CLI,
    home: Path,
    model_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    uri: str,
    args: list[str],
) -> None:
    """It would vanish when the command ends: refused before anything is written,
    whether it comes from --uri, MODELBOOK_URI or --blob-uri."""
    argv = [str(model_file) if a == "MODEL" else a for a in args]
    run = cli("--uri", uri, *argv)
    assert run.code == 6, run
    assert run.err.startswith("error: database ") and "vanish" in run.err
    assert len(run.err.splitlines()) == 1
    monkeypatch.setenv("MODELBOOK_URI", uri)
    assert cli(*argv).code == 6
    monkeypatch.delenv("MODELBOOK_URI")
    run = cli("--blob-uri", "memory://blobs", *argv)
    assert run.code == 6 and "blob store 'memory://blobs'" in run.err
    assert not home.exists()


def test_download_refuses_a_destination_in_the_way_unless_overwrite(
    cli: CLI, tmp_path: Path
) -> None:
    """A non-empty destination is refused (exit 6) and left alone; --overwrite replaces
    the version's files there and keeps the others."""
    cli("register", "ctr", make_tree(tmp_path / "model", FILES), "--owner", "o", "--no-capture")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "model.pkl").write_bytes(b"old")
    (dest / "mine.txt").write_bytes(b"keep")
    refused = cli("download", "ctr/1", dest)
    assert refused.code == 6, refused
    assert "--overwrite" in refused.err and len(refused.err.splitlines()) == 1
    assert (dest / "model.pkl").read_bytes() == b"old"
    done = cli("download", "ctr/1", dest, "--overwrite", "--json").json()
    assert sorted(f["path"] for f in done["files"]) == sorted(FILES)
    assert (dest / "model.pkl").read_bytes() == FILES["model.pkl"]
    assert (dest / "mine.txt").read_bytes() == b"keep"


def test_version_json_carries_the_aliases_the_tables_show(cli: CLI, model_file: Path) -> None:
    """register, versions, show and resolve --json list the aliases of each version."""
    first = cli("register", "ctr", model_file, "--owner", "o", "--no-capture", "--json").json()
    assert first["aliases"] == []
    cli("register", "ctr", model_file, "--no-capture")
    cli("alias", "set", "ctr", "champion", "1", "--reason", "r")
    cli("alias", "set", "ctr", "stable", "1", "--reason", "r")
    cli("alias", "set", "ctr", "challenger", "2", "--reason", "r")
    listed = cli("versions", "ctr", "--json").json()["versions"]
    assert {v["number"]: v["aliases"] for v in listed} == {
        1: ["champion", "stable"],
        2: ["challenger"],
    }
    assert cli("show", "ctr/1", "--json").json()["aliases"] == ["champion", "stable"]
    assert cli("resolve", "ctr@challenger", "--json").json()["aliases"] == ["challenger"]
    assert "aliases: champion, stable" in cli("show", "ctr/1").out


# events ------------------------------------------------------------------------------


@pytest.fixture
def history(cli: CLI, model_file: Path) -> None:
    """Two models; ctr with two versions, tags and three alias moves."""
    for args in (
        ["register", "ctr", model_file, "--owner", "o", "--no-capture"],
        ["register", "ctr", model_file, "--no-capture"],
        ["register", "other", model_file, "--owner", "o", "--no-capture"],
        ["tag", "ctr/1", "team=ranking"],
        ["alias", "set", "ctr", "champion", "1", "--reason", "first release"],
        ["alias", "set", "ctr", "champion", "2", "--reason", "better"],
        ["alias", "rm", "ctr", "champion", "--reason", "incident \x1b[2K7"],
    ):
        run = cli(*args)
        assert run.code == 0, (args, run.err)


def _actions(cli: CLI, *args: str) -> list[tuple[str, str]]:
    page = cli("events", *args, "--json").json()
    return [(e["action"], e["subject"]) for e in page["events"]]


@pytest.mark.usefixtures("history")
def test_events_newest_first_filtered_by_model_and_action(cli: CLI) -> None:
    everything = _actions(cli)
    assert everything[0] == ("alias.delete", "models:/ctr@champion")
    # The oldest: the creator of the registry recorded as its first admin.
    assert len(everything) == 10 and everything[-1][0] == "role.grant"
    assert [a for a, _ in _actions(cli, "--model", "other")] == [
        "version.register",
        "model.create",
    ]
    assert [a for a, _ in _actions(cli, "--action", "alias.set")] == ["alias.set", "alias.set"]
    both = _actions(cli, "--model", "ctr", "--action", "alias.set", "--action", "alias.delete")
    assert [a for a, _ in both] == ["alias.delete", "alias.set", "alias.set"]


@pytest.mark.usefixtures("history")
def test_events_pages_with_tokens(cli: CLI) -> None:
    seen, token, pages = [], None, 0
    while True:
        args = ["--limit", "4"] + (["--page-token", token] if token else [])
        page = cli("events", *args, "--json").json()
        seen += [e["id"] for e in page["events"]]
        pages += 1
        token = page["next_page_token"]
        if token is None:
            break
    assert pages == 3 and len(seen) == 10 and seen == sorted(seen, reverse=True)
    table = cli("events", "--limit", "4")
    assert table.code == 0 and "more: --page-token" in table.err


@pytest.mark.usefixtures("history")
def test_one_models_events_page_newest_first_and_tokens_keep_their_listing(cli: CLI) -> None:
    """A model's events are paged along its chain; every event once, newest first, and a
    token of one listing is refused by another."""
    whole = [e["id"] for e in cli("events", "--model", "ctr", "--json").json()["events"]]
    seen, token = [], None
    while True:
        args = ["--model", "ctr", "--limit", "2"] + (["--page-token", token] if token else [])
        page = cli("events", *args, "--json").json()
        seen += [e["id"] for e in page["events"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == whole == sorted(whole, reverse=True) and len(whole) == 7
    first = cli("events", "--model", "ctr", "--limit", "2", "--json").json()["next_page_token"]
    for other in (["--model", "other"], [], ["--model", "ctr", "--action", "alias.set"]):
        refused = cli("events", *other, "--page-token", first)
        assert refused.code != 0 and "page token" in refused.err, refused.err


@pytest.mark.usefixtures("history")
def test_events_since_and_until_take_iso_and_relative_times(cli: CLI) -> None:
    everything = _actions(cli)
    assert _actions(cli, "--since", "1h") == everything
    assert _actions(cli, "--since", "2w", "--until", "0s") == everything
    assert _actions(cli, "--until", "1h") == []
    now = datetime.now(UTC)
    today = now.date().isoformat()
    assert _actions(cli, "--since", today, "--until", (now + timedelta(days=1)).isoformat())
    later = (now + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _actions(cli, "--since", later) == []
    assert _actions(cli, "--since", "2000-01-01", "--until", "2000-01-02") == []


@pytest.mark.usefixtures("history")
def test_events_since_is_inclusive_and_until_exclusive(cli: CLI) -> None:
    last = cli("events", "--limit", "1", "--json").json()["events"][0]
    at = last["at"]
    assert [e["id"] for e in cli("events", "--since", at, "--json").json()["events"]] == [
        last["id"]
    ]
    assert last["id"] not in [
        e["id"] for e in cli("events", "--until", at, "--json").json()["events"]
    ]


@pytest.mark.usefixtures("history")
def test_events_table_shows_who_what_and_why_escaped(cli: CLI) -> None:
    table = cli("events", "--model", "ctr")
    assert table.code == 0, table.err
    assert "alias.delete" in table.out and "carol" in table.out
    assert "incident \\x1b[2K7" in table.out and "\x1b" not in table.out
    assert "first release" in table.out


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["--since", "yesterday"], "invalid --since 'yesterday'"),
        (["--until", "7x"], "invalid --until '7x'"),
        (["--limit", "0"], "limit"),
        (["--page-token", "zzz"], "page token"),
        (["--action", "alias.teleport"], "alias.teleport"),
    ],
)
def test_events_bad_filters_are_one_line_exit_6(
    cli: CLI, model_file: Path, args: list[str], phrase: str
) -> None:
    cli("register", "ctr", model_file, "--owner", "o", "--no-capture")
    run = cli("events", *args)
    assert run.code == 6, run
    assert len(run.err.splitlines()) == 1 and phrase in run.err


def test_every_command_takes_json_and_the_root_options(cli: CLI) -> None:
    """--uri, --blob-uri and --traceback are given before the command; --json after it."""
    root = cli("--help")
    for option in ("--uri", "--blob-uri", "--traceback"):
        assert option in root.out
    commands = [
        ["register"], ["models"], ["versions"], ["show"], ["resolve"], ["download"],
        ["verify"], ["tag"], ["events"],
        ["alias", "set"], ["alias", "rm"], ["alias", "list"], ["alias", "history"],
    ]  # fmt: skip
    for command in commands:
        run = cli(*command, "--help")
        assert run.code == 0, command
        assert "--json" in run.out, command


def test_every_command_s_short_help_is_one_paragraph(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In every list of commands (``modelbook --help`` and each group's), a command's
    help is one paragraph: on a terminal wide enough for it, one line, never broken
    mid-sentence where its docstring was wrapped in the source."""
    import typer.rich_utils

    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", 2000)

    def listed(*group: str) -> dict[str, list[str]]:
        """The lines of each command's row in the Commands panel of ``group --help``."""
        run = cli(*group, "--help")
        assert run.code == 0, run.err
        panel = run.out.split("─ Commands ─", 1)[1].split("╰", 1)[0].splitlines()[1:]
        rows: dict[str, list[str]] = {}
        for text in panel:
            cells = text.strip("│").strip().split(None, 1)
            if text.startswith("│ ") and not text.startswith("│  "):
                rows[cells[0]] = [cells[1] if len(cells) > 1 else ""]
            elif cells:
                rows[list(rows)[-1]].append(" ".join(cells))
        return rows

    root = command_line()
    groups = [()] + [(name,) for name, c in root.commands.items() if hasattr(c, "commands")]
    for group in groups:
        rows = listed(*group)
        expected = root.commands[group[0]].commands if group else root.commands
        assert sorted(rows) == sorted(expected), group
        broken = {name: lines for name, lines in rows.items() if len(lines) != 1}
        assert not broken, f"{' '.join(('modelbook', *group, '--help'))}: {broken}"


def test_the_cli_is_also_python_dash_m(home: Path, model_file: Path) -> None:
    """``python -m modelbook.cli`` is the same command."""
    env = {**os.environ, "MODELBOOK_HOME": str(home), "MODELBOOK_USER": "carol"}
    done = subprocess.run(
        [sys.executable, "-m", "modelbook.cli", "register", "ctr", str(model_file),
         "--owner", "o", "--no-capture", "--json"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["uri"] == "models:/ctr/1"


@pytest.mark.parametrize(
    ("uri", "blob_uri"),
    [("sqlite:///%3Amemory%3A", None), (None, "simplecache::memory://b")],
)
def test_encoded_and_chained_in_memory_stores_are_refused(
    tmp_path: Path, uri: str | None, blob_uri: str | None
) -> None:
    from modelbook.cli import main

    (tmp_path / "m.bin").write_bytes(b"x")
    args = ["--uri", uri or f"sqlite:///{tmp_path / 'r.db'}"]
    args += ["--blob-uri", blob_uri or str(tmp_path / "blobs")]
    with pytest.raises(SystemExit) as exit_:
        main([*args, "register", "m", str(tmp_path / "m.bin"), "--owner", "o"])
    assert exit_.value.code == 6
