"""The ``modelbook`` command line, driven in-process through ``modelbook.cli.main``
(and once through the installed entry point), with MODELBOOK_HOME in a temp folder."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelbook import Registry
from modelbook.cli import main


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        assert self.code == 0, (self.code, self.err)
        return json.loads(self.out)


CLI = Callable[..., Run]


def run_main(args: Iterable[object], capsys: pytest.CaptureFixture[str]) -> Run:
    """Run one CLI command in this process: its exit code, stdout and stderr."""
    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return Run(code, out, err)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    for var in ("MODELBOOK_URI", "MODELBOOK_BLOB_URI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MODELBOOK_HOME", str(path))
    monkeypatch.setenv("MODELBOOK_USER", "carol")
    return path


@pytest.fixture
def cli(home: Path, capsys: pytest.CaptureFixture[str]) -> CLI:
    """Run one CLI command in-process; returns exit code, stdout and stderr."""

    return lambda *args: run_main(args, capsys)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def blob_of(home: Path, digest: str) -> Path:
    return next(p for p in (home / "blobs").rglob(digest) if p.is_file())


FILES = {
    "model.pkl": b"pickled model " * 100,
    "config/params.json": b'{"depth": 6}',
    "config/vocab/words.txt": b"a\nb\n",
}


# register ----------------------------------------------------------------------------


def test_register_with_every_option_prints_the_version_as_json(
    cli: CLI, tmp_path: Path, home: Path
) -> None:
    """--json prints number, semver, artifacts {path,size,sha256}, metrics with slices,
    tags, params, data, commit and note, exactly as stored."""
    src = make_tree(tmp_path / "model", FILES)
    data = cli(
        "register",
        "ctr",
        src,
        "--owner",
        "alice",
        "--owner",
        "bob",
        "--task",
        "classification",
        "--risk",
        "high",
        "--metric",
        "auc{region=eu}=0.91",
        "--metric",
        "auc@test=0.88",
        "--tag",
        "team=ranking",
        "--tag",
        "query=a=b",
        "--param",
        "depth=6",
        "--param",
        "lr=0.1",
        "--data-snapshot",
        "snap-2024-06-01",
        "--commit",
        "abc123" + "0" * 34,
        "--semver",
        "2.0.0",
        "--note",
        "first cut",
        "--seed",
        "7",
        "--json",
    ).json()
    assert data["number"] == 1
    assert data["semver"] == "2.0.0"
    assert data["uri"] == "models:/ctr/1"
    assert data["artifacts"] == [
        {"path": rel, "size": len(FILES[rel]), "sha256": sha(FILES[rel])} for rel in sorted(FILES)
    ]
    metrics = {(m["name"], m["split"], json.dumps(m["slice"])): m["value"] for m in data["metrics"]}
    assert metrics == {
        ("auc", None, json.dumps({"region": "eu"})): 0.91,
        ("auc", "test", json.dumps({})): 0.88,
    }
    assert data["tags"] == {"team": "ranking", "query": "a=b"}
    assert data["training"]["params"] == {"depth": "6", "lr": "0.1"}
    assert data["training"]["seed"] == 7
    assert [d["snapshot"] for d in data["lineage"]["data"]] == ["snap-2024-06-01"]
    assert data["lineage"]["code"]["commit"] == "abc123" + "0" * 34
    assert data["change_summary"] == "first cut"
    assert data["created_by"] == "carol"
    assert data["stage"] == "staging"

    with Registry(home=home) as reg:
        stored = reg.get_version("models:/ctr/1")
        assert {"uri": stored.uri, "name": stored.model, **stored.model_dump(mode="json")} == data
        model = reg.get_model("ctr")
    assert (model.owners, model.task, model.risk_tier) == (
        ("alice", "bob"),
        "classification",
        "high",
    )


def test_register_json_names_the_model_as_name(cli: CLI, model_file: Path) -> None:
    """The documented JSON of a version carries the model under 'name'."""
    data = cli("register", "ctr", model_file, "--owner", "alice", "--json").json()
    assert data["name"] == "ctr"
    assert data["number"] == 1


def test_register_prints_a_readable_line(cli: CLI, model_file: Path) -> None:
    """Without --json, register says what it stored."""
    run = cli("register", "ctr", model_file, "--owner", "alice")
    assert run.code == 0, run.err
    assert "models:/ctr/1" in run.out and "1.0.0" in run.out and "4096" in run.out
    run = cli("register", "ctr", model_file)
    assert run.code == 0 and "models:/ctr/2" in run.out and "semver 1.0.1" in run.out
    assert "PATCH change from models:/ctr/1:\n  the same contract and the same artifacts" in run.out
    model_file.write_bytes(b"retrained")
    run = cli("register", "ctr", model_file)
    assert run.code == 0 and "semver 1.1.0" in run.out
    assert "MINOR change from models:/ctr/2:\n  artifacts changed (model.bin)" in run.out
    shown = cli("show", "models:/ctr/3")
    assert "MINOR change from models:/ctr/2:" in shown.out
    refused = cli("register", "ctr", model_file, "--semver", "1.1.1", "--tolerance", "0.5")
    assert refused.code == 0, refused.err
    bad = cli("register", "ctr", model_file, "--tolerance", "7")
    assert bad.code == 6 and "tolerance must be a number from 0 to 1" in bad.err


def test_register_says_which_model_fields_an_existing_model_kept(
    cli: CLI, model_file: Path
) -> None:
    """Owners, task and description come from a model's first registration; a later
    one that gives others says on stderr that they were not applied."""
    assert cli("register", "ctr", model_file, "--owner", "alice", "--task", "ranking").code == 0
    same = cli("register", "ctr", model_file, "--owner", "alice", "--task", "ranking")
    assert same.code == 0 and "not applied" not in same.err
    run = cli("register", "ctr", model_file, "--owner", "mallory\x1b[2J", "--task", "ranking")
    assert run.code == 0 and "models:/ctr/3" in run.out
    assert "note: model ctr already existed; --owner was not applied (it keeps ('alice',))" in (
        run.err
    )
    assert "\x1b" not in run.err and "--task" not in run.err


# reading -----------------------------------------------------------------------------


def test_models_and_versions_listing(cli: CLI, model_file: Path) -> None:
    """models and versions list newest first, page with tokens, and show aliases."""
    for n in range(3):
        model_file.write_bytes(bytes([n]) * 4096)
        assert cli("register", "alpha", model_file, "--owner", "o", "--no-capture").code == 0
    assert cli("register", "beta", model_file, "--owner", "o", "--no-capture").code == 0

    models = cli("models", "--json").json()
    assert [m["name"] for m in models["models"]] == ["beta", "alpha"]
    assert models["models"][1]["latest_version"] == 3
    table = cli("models")
    assert table.code == 0 and "alpha" in table.out and "beta" in table.out

    page = cli("versions", "alpha", "--limit", "2", "--json").json()
    assert [v["number"] for v in page["versions"]] == [3, 2]
    assert page["next_page_token"]
    rest = cli(
        "versions", "alpha", "--limit", "2", "--page-token", page["next_page_token"], "--json"
    ).json()
    assert [v["number"] for v in rest["versions"]] == [1]
    assert rest["next_page_token"] is None
    oldest = cli("versions", "alpha", "--oldest-first", "--json").json()
    assert [v["semver"] for v in oldest["versions"]] == ["1.0.0", "1.1.0", "1.2.0"]

    assert cli("alias", "set", "alpha", "champion", "2", "--reason", "r").code == 0
    text = cli("versions", "alpha")
    assert text.code == 0
    row = next(line for line in text.out.splitlines() if "1.1.0" in line)
    assert "champion" in row
    more = cli("versions", "alpha", "--limit", "1")
    assert "--page-token" in more.err


def test_show_and_resolve(cli: CLI, model_file: Path) -> None:
    """show and resolve --json print the whole version (show with its annotations);
    resolve alone prints NAME/NUMBER."""
    for n in range(2):
        model_file.write_bytes(bytes([n]) * 4096)
        cli("register", "ctr", model_file, "--owner", "o", "--metric", "auc=0.9")
    cli("alias", "set", "ctr", "champion", "1", "--reason", "go live")

    shown = cli("show", "models:/ctr/2", "--json").json()
    # show adds what was recorded on the version since registration (none here).
    assert shown.pop("annotations")["comments"] == []
    assert shown == cli("resolve", "models:/ctr/2", "--json").json()
    assert shown["number"] == 2 and shown["semver"] == "1.1.0"
    assert cli("resolve", "models:/ctr/1.1.0").out.strip() == "ctr/2"
    assert cli("resolve", "models:/ctr@champion").out.strip() == "ctr/1"
    assert cli("resolve", "ctr/latest").out.strip() == "ctr/2"

    text = cli("show", "models:/ctr@champion")
    assert text.code == 0
    assert "1.0.0" in text.out and "model.bin" in text.out and "auc" in text.out
    assert sha(bytes([0]) * 4096) in text.out

    model = cli("show", "models:/ctr", "--json").json()
    assert model["name"] == "ctr" and model["aliases"] == {"champion": 1}


# aliases -----------------------------------------------------------------------------


def test_alias_set_move_history_list_and_rm(cli: CLI, model_file: Path) -> None:
    """Aliases move with reasons and --expect; history lists every move newest first."""
    for n in range(3):
        model_file.write_bytes(bytes([n]) * 4096)
        cli("register", "ctr", model_file, "--owner", "o", "--no-capture")
    run = cli("alias", "set", "ctr", "champion", "1", "--reason", "first release")
    assert run.code == 0 and "models:/ctr@champion -> 1" in run.out
    moved = cli(
        "alias", "set", "ctr", "champion", "2", "--reason", "better", "--expect", "1", "--json"
    ).json()
    assert moved["version"] == 2 and moved["updated_by"] == "carol"
    conflict = cli("alias", "set", "ctr", "champion", "3", "--reason", "x", "--expect", "1")
    assert conflict.code == 5
    assert cli("alias", "set", "ctr", "staging", "1.2.0", "--reason", "try it").code == 0

    listed = cli("alias", "list", "ctr", "--json").json()
    assert [(a["name"], a["version"]) for a in listed] == [("champion", 2), ("staging", 3)]
    assert "champion" in cli("alias", "list", "ctr").out

    assert cli("alias", "rm", "ctr", "champion", "--reason", "incident 7").code == 0
    assert cli("resolve", "ctr@champion").code == 3

    history = cli("alias", "history", "ctr", "--json").json()
    assert [(e["alias"], e["from_version"], e["to_version"], e["reason"]) for e in history] == [
        ("champion", 2, None, "incident 7"),
        ("staging", None, 3, "try it"),
        ("champion", 1, 2, "better"),
        ("champion", None, 1, "first release"),
    ]
    assert {e["actor"] for e in history} == {"carol"}
    only = cli("alias", "history", "ctr", "staging", "--json").json()
    assert [e["reason"] for e in only] == ["try it"]
    table = cli("alias", "history", "ctr")
    assert table.code == 0 and "incident 7" in table.out and "first release" in table.out


# download, tag, verify -----------------------------------------------------------------


def test_download_writes_identical_files(cli: CLI, tmp_path: Path) -> None:
    """download recreates the registered tree byte for byte."""
    src = make_tree(tmp_path / "model", FILES)
    cli("register", "ctr", src, "--owner", "o")
    dest = tmp_path / "restored"
    data = cli("download", "models:/ctr/1", dest, "--json").json()
    assert sorted(f["path"] for f in data["files"]) == sorted(FILES)
    got = {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    assert got == FILES
    again = cli("download", "ctr/latest", tmp_path / "again")
    assert again.code == 0 and "verified" in again.out
    assert (tmp_path / "again" / "model.pkl").read_bytes() == FILES["model.pkl"]


def test_tag_sets_and_removes_tags(cli: CLI, model_file: Path) -> None:
    """tag sets KEY=VALUE on a version or a model, and --rm removes keys."""
    cli("register", "ctr", model_file, "--owner", "o", "--tag", "team=ranking")
    got = cli("tag", "models:/ctr/1", "reviewed=yes", "ticket=ML-1", "--json").json()
    assert got["tags"] == {"team": "ranking", "reviewed": "yes", "ticket": "ML-1"}
    assert cli("tag", "models:/ctr/1", "--rm", "ticket").code == 0
    shown = cli("show", "models:/ctr/1", "--json").json()
    assert shown["tags"] == {"team": "ranking", "reviewed": "yes"}
    assert cli("tag", "models:/ctr", "env=prod").code == 0
    assert cli("show", "models:/ctr", "--json").json()["tags"] == {"env": "prod"}


def test_verify_passes_then_names_corrupt_and_missing_files(
    cli: CLI, tmp_path: Path, home: Path, model_file: Path
) -> None:
    """verify exits 0 when clean; after tampering it names each bad file and exits with
    the integrity code 7, as does a download of a tampered version."""
    src = make_tree(tmp_path / "model", FILES)
    cli("register", "ctr", src, "--owner", "o")
    cli("register", "other", model_file, "--owner", "o")
    clean = cli("verify")
    assert clean.code == 0 and "OK" in clean.out

    blob_of(home, sha(FILES["model.pkl"])).write_bytes(b"tampered")
    blob_of(home, sha(FILES["config/params.json"])).unlink()
    bad = cli("verify")
    assert "models:/ctr/1 model.pkl" in bad.err and "corrupt" in bad.err
    assert "models:/ctr/1 config/params.json" in bad.err and "missing" in bad.err
    assert "vocab" not in bad.err
    report = cli("verify", "ctr", "--json")
    problems = json.loads(report.out)["problems"]
    assert sorted((p["path"], p["kind"]) for p in problems) == [
        ("config/params.json", "missing"),
        ("model.pkl", "corrupt"),
    ]
    assert cli("verify", "other").code == 0

    dest = tmp_path / "out"
    failed = cli("download", "models:/ctr/1", dest)
    assert failed.code == 7
    assert len(failed.err.strip().splitlines()) == 1
    assert not (dest / "model.pkl").exists()
    assert (bad.code, report.code) == (7, 7)


def test_usage_errors_are_short_and_exit_2(cli: CLI) -> None:
    """A missing argument, a non-integer option or an unknown command prints a usage
    message (no traceback) and exits 2."""
    for args in (["register"], ["models", "--limit", "many"], ["no-such-command"]):
        run = cli(*args)
        assert run.code == 2, (args, run)
        assert "Traceback" not in run.err
        assert run.err.strip()


# user text is shown as typed ------------------------------------------------------------


def test_note_with_brackets_is_shown_verbatim(cli: CLI, model_file: Path) -> None:
    """A change note containing [brackets] is printed as typed by show."""
    note = "fix [/] parsing of [bold]x[/bold]"
    assert cli("register", "ctr", model_file, "--owner", "o", "--note", note).code == 0
    shown = cli("show", "models:/ctr/1")
    assert shown.code == 0, shown.err
    assert note in shown.out


def test_file_names_and_tags_with_brackets_are_shown_verbatim(cli: CLI, tmp_path: Path) -> None:
    """Artifact paths and tag values containing [brackets] are printed as typed."""
    art = tmp_path / "weights[v2].bin"
    art.write_bytes(b"w")
    assert cli("register", "ctr", art, "--owner", "o", "--tag", "k=[red]x").code == 0
    shown = cli("show", "models:/ctr/1")
    assert shown.code == 0, shown.err
    assert "weights[v2].bin" in shown.out
    assert "k=[red]x" in shown.out
    tagged = cli("tag", "models:/ctr/1", "k2=[green]y")
    assert tagged.code == 0 and "k2=[green]y" in tagged.out


def test_alias_reason_with_brackets_is_shown_verbatim(cli: CLI, model_file: Path) -> None:
    """An alias reason containing [brackets] is printed as typed by alias history."""
    cli("register", "ctr", model_file, "--owner", "o")
    reason = "[red]urgent[/red] rollback [/]"
    assert cli("alias", "set", "ctr", "champion", "1", "--reason", reason).code == 0
    history = cli("alias", "history", "ctr")
    assert history.code == 0, history.err
    assert reason in history.out


# other databases and the installed command ---------------------------------------------


def test_cli_on_a_database_given_by_uri(
    cli: CLI, db_uri: str, tmp_path: Path, home: Path, model_file: Path
) -> None:
    """--uri and --blob-uri point the CLI at any database (SQLite and PostgreSQL)."""
    blobs = tmp_path / "elsewhere"
    base = ("--uri", db_uri, "--blob-uri", blobs)
    data = cli(*base, "register", "ctr", model_file, "--owner", "o", "--json").json()
    assert data["number"] == 1
    assert cli(*base, "register", "ctr", model_file).code == 0
    assert cli(*base, "alias", "set", "ctr", "champion", "2", "--reason", "r").code == 0
    assert cli(*base, "resolve", "ctr@champion").out.strip() == "ctr/2"
    assert [v["number"] for v in cli(*base, "versions", "ctr", "--json").json()["versions"]] == [
        2,
        1,
    ]
    assert cli(*base, "verify").code == 0
    assert cli(*base, "download", "ctr/1", tmp_path / "dl").code == 0
    assert (tmp_path / "dl" / "model.bin").read_bytes() == model_file.read_bytes()
    assert not (home / "registry.db").exists()
    assert any(p.is_file() for p in blobs.rglob("*"))


def test_installed_command(home: Path, model_file: Path) -> None:
    """The installed 'modelbook' script works and maps errors to exit codes."""
    exe = Path(sys.executable).parent / "modelbook"
    env = {**os.environ, "MODELBOOK_HOME": str(home), "MODELBOOK_USER": "carol"}

    def run(*args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(exe), *map(str, args)], capture_output=True, text=True, env=env, timeout=120
        )

    ok = run("register", "ctr", model_file, "--owner", "o", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["semver"] == "1.0.0"
    missing = run("resolve", "models:/ctr/9")
    assert missing.returncode == 3
    assert missing.stderr.strip().splitlines() == [
        line for line in missing.stderr.strip().splitlines() if line.startswith("error: ")
    ]
    assert len(missing.stderr.strip().splitlines()) == 1
    assert "models:/ctr/9" in missing.stderr
