"""What the CLI writes: user text escaped on the terminal, never read as markup;
JSON valid under any terminal encoding; errors on one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelbook.cli.render import safe
from modelbook.errors import ERROR_KINDS, GateFailed, ModelbookError, NotFound
from modelbook.registry import Registry
from tests import test_cli
from tests.test_cli import CLI

# The fixtures of the CLI tests: a registry home in a temp folder, and one command run.
home = test_cli.home
cli = test_cli.cli

# Erases the line above: what a hostile note would do to an operator's terminal.
REWRITE = "\x1b[1A\x1b[2K"
# Characters that a terminal acts on (or that reorder the text around them).
HOSTILE = {
    "escape sequence": ("a\x1b[1A\x1b[2Kb", "a\\x1b[1A\\x1b[2Kb"),
    "newline, tab, carriage return": ("a\nb\tc\rd", "a\\nb\\tc\\rd"),
    "bell and backspace": ("a\x07\x08b", "a\\x07\\x08b"),
    "DEL": ("a\x7fb", "a\\x7fb"),
    "C1 CSI": ("a\x9b2Jb", "a\\x9b2Jb"),
    "C1 NEL": ("a\x85b", "a\\x85b"),
    "right-to-left override": ("invoice\u202egnp.exe", "invoice\\u202egnp.exe"),
    "left-to-right isolate": ("a\u2066b\u2069", "a\\u2066b\\u2069"),
    "right-to-left mark": ("a\u200fb", "a\\u200fb"),
    "line separator": ("a\u2028b", "a\\u2028b"),
    "lone surrogate": ("a\udcffb", "a\\udcffb"),
}
# Text shown exactly as written.
VERBATIM = [
    "[bold red]not bold[/bold red] [/]",
    ":smile: :thumbs_up:",
    "1.5 0x1f https://example.com 'quoted' None True",
    "naïve 模型 🙂 café",
    "back\\slash \\x1b",
    "",
]


@pytest.mark.parametrize(("raw", "shown"), HOSTILE.values(), ids=HOSTILE.keys())
def test_safe_escapes_what_a_terminal_would_act_on(raw: str, shown: str) -> None:
    assert safe(raw) == shown


@pytest.mark.parametrize("text", VERBATIM)
def test_safe_keeps_everything_else_as_written(text: str) -> None:
    assert safe(text) == text


def test_alias_history_shows_an_escape_sequence_in_a_reason_escaped(
    cli: CLI, model_file: Path
) -> None:
    """A reason that would erase the line above is shown as text, and nothing in the
    table can move the cursor."""
    cli("register", "ctr", model_file, "--owner", "o", "--no-capture")
    reason = f"rollback{REWRITE}all good"
    assert cli("alias", "set", "ctr", "champion", "1", "--reason", reason).code == 0
    history = cli("alias", "history", "ctr")
    assert history.code == 0, history.err
    assert "rollback\\x1b[1A\\x1b[2Kall good" in history.out
    assert "\x1b" not in history.out
    assert cli("alias", "history", "ctr", "--json").json()[0]["reason"] == reason


def _terminal_safe(output: str) -> bool:
    """True when no line of ``output`` holds a character :func:`safe` would escape."""
    return all(safe(line) == line for line in output.split("\n"))


def test_every_user_text_is_escaped_in_every_listing(cli: CLI, tmp_path: Path) -> None:
    """Notes, caveats, tags, params, data, repository, file names, alias reasons and event
    reasons holding control characters print escaped in tables and lines (owners and
    tasks are names: they refuse such characters, see test_names_refuse_them)."""
    evil = f"x{REWRITE}\u202e\x9b"
    art = tmp_path / f"weights{REWRITE}.bin"
    art.write_bytes(b"w")
    run = cli(
        "register", "ctr", art, "--owner", "team", "--task", "task",
        "--note", f"note{evil}", "--caveat", f"caveat{evil}", "--tag", f"t=tag{evil}",
        "--param", f"p=param{evil}", "--data-snapshot", f"snap{evil}",
        "--commit", "c" * 40, "--repo", f"r{evil}", "--no-capture",
    )  # fmt: skip
    assert run.code == 0, run.err
    assert _terminal_safe(run.out)
    # A commit is a git id: one holding such characters is refused, and shown escaped.
    refused = cli("register", "ctr", art, "--owner", "team", "--commit", f"c{evil}")
    assert refused.code == 6 and "not a git commit id" in refused.err, refused
    assert _terminal_safe(refused.err) and "cx\\x1b[1A" in refused.err
    assert cli("alias", "set", "ctr", "champion", "1", "--reason", f"why{evil}").code == 0
    assert cli("tag", "models:/ctr", f"k=v{evil}").code == 0
    for args in (
        ["models"],
        ["versions", "ctr"],
        ["show", "models:/ctr/1"],
        ["show", "models:/ctr"],
        ["resolve", "ctr@champion"],
        ["alias", "list", "ctr"],
        ["alias", "history", "ctr"],
        ["tag", "models:/ctr/1", f"k2=v{evil}"],
        ["events"],
        ["download", "ctr/1", tmp_path / f"out{REWRITE}"],
        ["verify"],
    ):
        run = cli(*args)
        assert run.code == 0, (args, run.err)
        assert _terminal_safe(run.out), (args, run.out)
        assert _terminal_safe(run.err), (args, run.err)
    shown = cli("show", "models:/ctr/1").out
    for field in ("note", "caveat", "tag", "param", "snap"):
        assert field + "x\\x1b[1A\\x1b[2K\\u202e\\x9b" in shown, field
    assert "weights\\x1b[1A\\x1b[2K.bin" in shown


def test_names_refuse_them(cli: CLI, tmp_path: Path) -> None:
    """An owner or task that holds control or invisible characters is refused (exit 6):
    two names that print alike would be two people or two tasks."""
    art = tmp_path / "w.bin"
    art.write_bytes(b"w")
    for flag in ("--owner", "--task"):
        args = ["register", "ctr", art, "--owner", "team", flag, f"x{REWRITE}"]
        run = cli(*args)
        assert run.code == 6, run.err
        assert _terminal_safe(run.err)


def test_markup_and_emoji_shortcodes_are_not_interpreted_even_on_a_terminal(
    cli: CLI, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With colours forced on, notes and reasons still print exactly as typed."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    note = ":smile: [bold]x[/bold] [link=https://evil]y[/link]"
    assert cli("register", "ctr", model_file, "--owner", "o", "--note", note).code == 0
    cli("alias", "set", "ctr", "champion", "1", "--reason", note)
    assert note in cli("show", "models:/ctr/1").out
    history = cli("alias", "history", "ctr").out
    assert note in history and "😄" not in history
    # Highlighting would wrap the number in colour codes.
    assert cli("resolve", "ctr@champion").out == "ctr/1\n"


def _installed(
    home: Path, env: dict[str, str], *args: object
) -> subprocess.CompletedProcess[bytes]:
    exe = Path(sys.executable).parent / "modelbook"
    full = {**os.environ, "MODELBOOK_HOME": str(home), "MODELBOOK_USER": "carol", **env}
    return subprocess.run(
        [str(exe), *map(str, args)], capture_output=True, env=full, timeout=120, check=False
    )


@pytest.mark.parametrize(
    "env",
    [{"PYTHONIOENCODING": "ascii"}, {"LANG": "C", "LC_ALL": "C", "PYTHONUTF8": "0"}],
    ids=["PYTHONIOENCODING=ascii", "LANG=C"],
)
def test_json_and_text_survive_any_terminal_encoding(
    home: Path, model_file: Path, env: dict[str, str]
) -> None:
    """JSON stdout is ASCII bytes that parse back to the exact text; plain output under
    an ASCII terminal shows what it cannot encode as escapes instead of failing."""
    note = f"naïve 模型 🙂 {REWRITE} \u202e"
    # Registered from a UTF-8 terminal: under a bare C locale, Python itself cannot
    # read non-ASCII arguments.
    done = _installed(home, {}, "register", "ctr", model_file, "--owner", "o",
                      "--note", note, "--no-capture")  # fmt: skip
    assert done.returncode == 0, done.stderr
    for args in (["show", "ctr/1", "--json"], ["versions", "ctr", "--json"], ["events", "--json"]):
        done = _installed(home, env, *args)
        assert done.returncode == 0, (args, done.stderr)
        done.stdout.decode("ascii")
        json.loads(done.stdout)
    assert (
        json.loads(_installed(home, env, "show", "ctr/1", "--json").stdout)["change_summary"]
        == note
    )
    shown = _installed(home, env, "show", "ctr/1")
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout.decode("ascii")
    assert "\\x1b[1A\\x1b[2K" in text and "\\u202e" in text
    assert "na\\xefve" in text


def test_errors_are_one_escaped_line_with_the_kinds_exit_code(
    cli: CLI, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every error kind exits with its own code, its message on one line, escaped."""
    cli("register", "ctr", model_file, "--owner", "o", "--no-capture")
    for kind in ERROR_KINDS:

        def fail(self: Registry, uri: str, kind: type[ModelbookError] = kind) -> None:
            raise kind(f"bad\nthing{REWRITE}")

        monkeypatch.setattr(Registry, "get_version", fail)
        run = cli("show", "ctr/1")
        assert run.code == kind.exit_code, (kind, run)
        assert run.err == "error: bad\\nthing\\x1b[1A\\x1b[2K\n"
        assert run.out == ""


def test_a_refused_gate_is_one_error_line_listing_its_failing_checks(
    cli: CLI, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gate's message names a failing check a line (its items); the error line joins them
    with semicolons instead of showing a literal newline, and user text stays escaped."""
    cli("register", "ctr", model_file, "--owner", "o", "--no-capture")

    def refuse(self: Registry, uri: str) -> None:
        raise GateFailed(
            "models:/ctr/1 cannot enter 'candidate': 2 required check(s) failed",
            items=[
                "lineage_complete: missing code.commit",
                f"metric: auc on 'a\nb{REWRITE}' is 0.5",
            ],
        )

    monkeypatch.setattr(Registry, "get_version", refuse)
    run = cli("show", "ctr/1")
    assert run.code == 9
    assert run.err == (
        "error: models:/ctr/1 cannot enter 'candidate': 2 required check(s) failed; "
        "lineage_complete: missing code.commit; metric: auc on 'a\\nb\\x1b[1A\\x1b[2K' is 0.5\n"
    )


def test_gate_failed_and_permission_denied_have_codes_9_and_10() -> None:
    codes = {k.__name__: k.exit_code for k in ERROR_KINDS}
    assert (codes["GateFailed"], codes["PermissionDenied"]) == (9, 10)
    assert len(set(codes.values())) == len(codes)


def test_an_unexpected_error_is_one_line_exit_1_and_traceback_shows_it(
    cli: CLI, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli("register", "ctr", model_file, "--owner", "o", "--no-capture")

    def boom(self: Registry, uri: str) -> None:
        raise RuntimeError("boom\x1b[2J")

    monkeypatch.setattr(Registry, "resolve", boom)
    run = cli("resolve", "ctr/1")
    assert run.code == 1
    assert run.err.splitlines() == [
        "error: unexpected RuntimeError: boom\\x1b[2J (--traceback shows where)"
    ]
    shown = cli("--traceback", "resolve", "ctr/1")
    assert shown.code == 1
    lines = shown.err.splitlines()
    assert lines[0] == "Traceback (most recent call last):" and "in boom" in shown.err
    assert lines[-2:] == [
        "RuntimeError: boom\\x1b[2J",
        "error: unexpected RuntimeError: boom\\x1b[2J",
    ]
    assert "\x1b" not in shown.err


def test_traceback_keeps_the_exit_code_of_the_error_kind(
    cli: CLI, db_uri: str, model_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--traceback prints the stack and then exits as the command would without it:
    a script that adds it to see why still sees the same status."""
    monkeypatch.setenv("MODELBOOK_URI", db_uri)
    cli("register", "ctr", model_file, "--owner", "o", "--no-capture")
    for args, code in (
        (("resolve", "ctr/7"), NotFound.exit_code),
        (("register", "ctr", model_file, "--metric", "auc=x"), 6),
        (("alias", "set", "ctr", "prod", "1", "--reason", "r", "--expect", "2"), 5),
    ):
        plain = cli(*args)
        shown = cli("--traceback", *args)
        assert plain.code == shown.code == code, (args, plain, shown)
        assert shown.err.startswith("Traceback (most recent call last):\n")
        assert shown.err.splitlines()[-1] == plain.err.splitlines()[-1]
        assert shown.out == plain.out


@pytest.mark.parametrize("kind", ERROR_KINDS, ids=lambda k: k.__name__)
def test_traceback_keeps_every_kind_s_exit_code(
    cli: CLI, model_file: Path, monkeypatch: pytest.MonkeyPatch, kind: type[ModelbookError]
) -> None:
    cli("register", "ctr", model_file, "--owner", "o", "--no-capture")

    def fail(self: Registry, uri: str) -> None:
        raise kind("no")

    monkeypatch.setattr(Registry, "resolve", fail)
    run = cli("--traceback", "resolve", "ctr/1")
    assert run.code == kind.exit_code
    assert "Traceback" in run.err and run.err.splitlines()[-1] == "error: no"
