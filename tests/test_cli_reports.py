"""Arguments of doctor, report, lineage, impact and bom checked before any read, on
SQLite and PostgreSQL; ``-o -`` prints a report; help texts keep their brackets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from modelbook import InvalidInput, Registry

from .test_reports import _cli, build


@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.doctor(["fraud"]),
        lambda r: r.doctor(123),
        lambda r: r.doctor("foo:bar"),
        lambda r: r.doctor(stage=5),
        lambda r: r.doctor(stage=["deployed"]),
        lambda r: r.lineage(123),
        lambda r: r.lineage("models:/a/1", depth="2"),
        lambda r: r.impact(["dataset:x"]),
        lambda r: r.bom(123),
        lambda r: r.report(["models:/a/1"]),
        lambda r: r.report("models:/a/1", format=["md"]),
    ],
)
def test_arguments_of_the_wrong_shape_are_invalid_input(registry: Registry, call: Any) -> None:
    with pytest.raises(InvalidInput):
        call(registry)


def test_doctor_cli_refuses_a_name_that_is_no_model_name(
    registry: Registry,
    db_uri: str,
    blob_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ["--uri", db_uri, "--blob-uri", blob_dir]
    registry.doctor()  # the registry exists
    code, out, err = _cli(capsys, *base, "doctor", "foo:bar")
    assert code == 6 and "invalid model name 'foo:bar'" in err and out == ""


def test_report_output_dash_is_stdout(
    registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    built = build(registry, tmp_path)
    monkeypatch.setenv("MODELBOOK_URI", built.registry.db.uri)
    monkeypatch.setenv("MODELBOOK_BLOB_URI", built.registry.blob_uri)
    monkeypatch.chdir(tmp_path)
    code, out, _ = _cli(capsys, "report", "models:/ctr_ranking/2", "-o", "-")
    assert code == 0 and out.startswith("# ctr\\_ranking version 2")
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("command", ["doctor", "report", "lineage", "impact", "bom"])
def test_help_shows_square_brackets_as_written(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer

    import modelbook.cli  # noqa: F401  (registers the commands)
    from modelbook.cli.app import app

    group: Any = typer.main.get_command(app)
    cmd = group.commands[command]
    texts = [cmd.help or ""] + [getattr(p, "help", None) or "" for p in cmd.params]
    doc = " ".join(" ".join(texts).split())
    wanted = [m.replace("\\[", "[") for m in re.findall(r"\\?\[[^\]\s]*\]", doc)]
    monkeypatch.setenv("COLUMNS", "400")
    code, out, _ = _cli(capsys, command, "--help")
    shown = " ".join(out.split())
    assert code == 0 and "( " not in shown
    for text in wanted:
        assert text in shown, (text, shown)
