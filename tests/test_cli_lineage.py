"""``modelbook lineage``, ``impact`` and ``bom`` on SQLite and PostgreSQL, run in-process:
each format says what the Python API says, bad input exits with its kind's code and
writes nothing, and a bill of materials goes whole to stdout or to ``--output``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelbook import Registry

from .test_cli import Run, run_main
from .test_release_flow import ADMIN, OPEN, make_flow

CLI = Callable[..., Run]


def in_process(db_uri: str, blob_dir: Path, capsys: pytest.CaptureFixture[str]) -> CLI:
    """A runner of CLI commands in this process against ``db_uri`` and ``blob_dir``."""

    return lambda *args: run_main(["--uri", db_uri, "--blob-uri", blob_dir, *args], capsys)


@pytest.fixture
def cli(
    registry: Registry,
    db_uri: str,
    blob_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> CLI:
    """A registry of fraud 1 > 2 (2 deployed) and churn 1 (parent fraud 1), and a runner
    of CLI commands against it."""
    monkeypatch.setenv("MODELBOOK_USER", "carol")
    flow = make_flow(registry, tmp_path)
    registry.set_policy(OPEN, actor=ADMIN)
    flow.add("fraud", data=["ds_2025_10_01"], code={"commit": "c" * 40}, run_id="run-1")
    flow.deployed("fraud", data=["ds_2025_11_01"], parents=["models:/fraud/1"])
    flow.add("churn", data=['odd "snap"\nshot'], parents=["models:/fraud/1"])

    return in_process(db_uri, blob_dir, capsys)


def test_lineage_json_is_the_python_graph(cli: CLI, registry: Registry) -> None:
    for args, direction in (((), "both"), (("--up",), "up"), (("--down",), "down")):
        run = cli("lineage", "models:/fraud/1", "--format", "json", *args)
        assert run.code == 0, run.err
        expected = registry.lineage("models:/fraud/1", direction=direction)
        assert json.loads(run.out) == expected.model_dump(mode="json")
    run = cli("lineage", "fraud@production", "--format", "json", "--depth", "1", "--up")
    assert json.loads(run.out)["root"] == "models:/fraud/2"
    assert json.loads(run.out)["truncated"] is False


def test_lineage_and_impact_json_give_one_fact_one_type(cli: CLI) -> None:
    """deployed is a boolean and aliases a list in both, as Impact's Dependent has them."""
    graph = json.loads(cli("lineage", "models:/fraud/1", "--format", "json").out)
    hit = json.loads(cli("impact", "models:/fraud/1", "--json").out)
    nodes = {n["id"]: n["attrs"] for n in graph["nodes"] if n["kind"] == "version"}
    assert nodes["models:/fraud/2"]["deployed"] is True
    assert nodes["models:/fraud/1"]["deployed"] is False
    for dependent in hit["versions"]:
        attrs = nodes[dependent["uri"]]
        assert attrs["deployed"] is dependent["deployed"]
        assert attrs["aliases"] == dependent["aliases"]
        assert attrs["semver"] == dependent["semver"] and attrs["stage"] == dependent["stage"]
    assert nodes["models:/fraud/2"]["aliases"] == ["production"]
    assert nodes["models:/fraud/1"]["aliases"] == []


def test_lineage_text_mermaid_and_dot(cli: CLI) -> None:
    text = cli("lineage", "models:/fraud/1")
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    assert lines[0] == "models:/fraud/1  fraud v1 (1.0.0) [staging]"
    assert "├── code: commit:" + "c" * 40 in lines
    assert "made into:" in lines, text.out
    assert any(
        "child: models:/fraud/2  fraud v2 (" in line and line.endswith(") [deployed, @production]")
        for line in lines
    ), text.out
    mermaid = cli("lineage", "models:/churn/1", "--format", "mermaid", "--up")
    assert mermaid.code == 0 and mermaid.out.startswith("flowchart LR\n")
    assert "odd #34;snap#34;#92;nshot" in mermaid.out
    dot = cli("lineage", "models:/churn/1", "--format", "dot")
    assert dot.code == 0 and dot.out.startswith("digraph lineage {\n")
    assert "odd &#34;snap&#34;\\\\nshot" in dot.out


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("models:/fraud/1", "--up", "--down"), 6, "not both"),
        (("models:/fraud/1", "--format", "svg"), 6, "text, mermaid, dot, json"),
        (("models:/fraud/1", "--depth", "0"), 6, "at least 1"),
        (("models:/fraud/9",), 3, "not found"),
        (("models:/nobody/1",), 3, "not found"),
        (("models:/fraud",), 6, "names a model"),
    ],
)
def test_lineage_bad_input(cli: CLI, args: tuple[str, ...], code: int, says: str) -> None:
    run = cli("lineage", *args)
    assert run.code == code and says in run.err and run.out == ""


def test_impact_table_json_and_deployed_only(cli: CLI, registry: Registry) -> None:
    run = cli("impact", "dataset:ds_2025_10_01")
    assert run.code == 0, run.err
    assert run.out.splitlines()[0] == "dataset:ds_2025_10_01: 3 version(s) depend on it, 1 deployed"
    assert "via models:/fraud/1" in run.out and "yes (production)" in run.out
    body = json.loads(cli("impact", "commit:CCCCCCC", "--json").out)
    assert body.pop("total") == 3 and body.pop("deployed_total") == 1
    assert body == registry.impact("commit:ccccccc").model_dump(mode="json")
    assert [v["uri"] for v in body["versions"]] == [
        "models:/churn/1",
        "models:/fraud/1",
        "models:/fraud/2",
    ]
    live = json.loads(cli("impact", "run:run-1", "--json", "--deployed").out)
    assert [v["uri"] for v in live["versions"]] == ["models:/fraud/2"]
    assert live["total"] == 3 and live["deployed_total"] == 1


@pytest.mark.parametrize("ref", ["dataset:ds_2025_10_0", "dataset:unused", "commit:cccccc0"])
def test_impact_of_a_reference_nothing_names_says_so(cli: CLI, ref: str) -> None:
    run = cli("impact", ref)
    assert run.code == 3 and run.out == "" and f"nothing in the registry names {ref}" in run.err
    body = json.loads(cli("impact", ref, "--json").out)
    assert body["known"] is False and body["versions"] == [] and body["total"] == 0
    if ref == "dataset:ds_2025_10_0":
        assert "did you mean dataset:ds_2025_10_01" in run.err
        assert body["suggestions"][0] == "dataset:ds_2025_10_01"
    spaced = cli("impact", "dataset:ds_2025_10_01 ")
    assert spaced.code == 0 and spaced.out.startswith("dataset:ds_2025_10_01: 3 version(s)")


def test_impact_rows_show_a_bounded_chain() -> None:
    from modelbook.cli.lineage import _how
    from modelbook.impact import Dependent

    def dep(n: int) -> Dependent:
        return Dependent(
            uri=f"models:/m/{n}",
            model="m",
            number=n,
            semver="1.0.0",
            stage="candidate",
            direct=n == 1,
            parent=None if n == 1 else f"models:/m/{n - 1}",
            origin=None if n == 1 else "models:/m/1",
            hops=n - 1,
        )

    assert _how(dep(1)) == "direct"
    assert _how(dep(2)) == "via models:/m/1"
    assert _how(dep(3)) == "via models:/m/1 > models:/m/2"
    assert _how(dep(1200)) == "via models:/m/1 > ... > models:/m/1199 (1199 links)"


def test_lineage_json_flag_is_format_json(cli: CLI) -> None:
    assert (
        cli("lineage", "fraud/1", "--json").out == cli("lineage", "fraud/1", "--format", "json").out
    )
    run = cli("lineage", "fraud/1", "--json", "--format", "dot")
    assert run.code == 6 and "not both" in run.err


def test_impact_bad_input(cli: CLI) -> None:
    run = cli("impact", "table:x")
    assert run.code == 6 and "dataset:SNAPSHOT" in run.err and "commit:SHA" in run.err
    assert cli("impact", "models:/fraud/7").code == 3


def test_bom_to_stdout_and_to_a_file(cli: CLI, tmp_path: Path, registry: Registry) -> None:
    run = cli("bom", "models:/fraud@production", "--format", "cyclonedx")
    assert run.code == 0, run.err
    doc: dict[str, Any] = json.loads(run.out)
    assert doc["specVersion"] == "1.6"
    assert doc["metadata"]["component"]["version"] == registry.get_version("fraud/2").semver
    out = tmp_path / "exports" / "fraud.cdx.json"
    out.parent.mkdir()
    written = cli("bom", "models:/fraud/2", "--output", out)
    assert written.code == 0 and written.out == ""
    saved = json.loads(out.read_text())
    for key in ("serialNumber", "metadata"):
        saved.pop(key), doc.pop(key)
    assert saved == doc
    assert [p.name for p in out.parent.iterdir()] == ["fraud.cdx.json"]


def test_bom_bad_input_writes_nothing(cli: CLI, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    run = cli("bom", "models:/fraud/1", "--format", "spdx", "--output", target)
    assert run.code == 6 and "cyclonedx" in run.err and not target.exists()
    assert cli("bom", "models:/fraud/9", "--output", target).code == 3 and not target.exists()
    missing = tmp_path / "no" / "such" / "dir.json"
    run = cli("bom", "models:/fraud/1", "--output", missing)
    assert run.code == 6 and "cannot write" in run.err


def test_bom_output_dash_is_stdout(
    cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    run = cli("bom", "models:/fraud/1", "-o", "-")
    assert run.code == 0 and json.loads(run.out)["specVersion"] == "1.6"
    assert not (tmp_path / "-").exists()
