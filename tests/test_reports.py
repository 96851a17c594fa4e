"""Reports and the completeness doctor, on SQLite and PostgreSQL.

A rich version (full lineage, slices, thresholds, gates, reviews, a deploy and
a rollback) and a bare one are registered; each report section must show the
version's own values, not just its heading, in Markdown and in HTML.
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from modelbook import (
    DataRef,
    IncompleteMetadata,
    IntegrityError,
    InvalidInput,
    NotFound,
    Registry,
)
from modelbook.checklist import FIELDS
from modelbook.report_render import md_code, md_text

from .test_cli import run_main

POLICY = """
serving_aliases = ["production"]

[doctor]
required = ["code.commit", "data.snapshot", "metrics.offline", "approvals.review"]

[[tiers.low.candidate]]
check = "lineage_complete"
fields = ["code.commit"]

[[tiers.low.candidate]]
check = "metric"
rules = ["auc@test >= 0.85"]

[[tiers.low.candidate]]
check = "metric"
required = false
rules = ["auc@test{*} >= 0.80"]

[[tiers.low.approved]]
check = "approvals"
count = 1
role = "reviewer"

[tiers.medium]
[tiers.high]
"""

SECTIONS = (
    "identity",
    "history",
    "code",
    "data",
    "training",
    "environment",
    "artifacts",
    "metrics",
    "trend",
    "gates",
    "aliases",
    "incidents",
    "monitoring",
    "completeness",
    "reproduce",
)


@dataclass
class Built:
    registry: Registry
    files: dict[str, bytes]


def commit(number: int) -> str:
    """The full git commit id version ``number`` is registered with."""
    return f"c0ffee{number}".ljust(40, "0")


def _register(registry: Registry, root: Path, number: int, auc: float, apac: float) -> None:
    folder = root / f"v{number}"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(f"weights of version {number}".encode() * 50)
    (folder / "featspec.json").write_text(f'{{"version": {number}}}')
    registry.register(
        "ctr_ranking",
        folder,
        owners=["mlops@company", "ana"],
        task="ranking",
        metrics={
            "auc@test": auc,
            "auc@test{region=eu}": auc - 0.013,
            "auc@test{region=us}": auc + 0.011,
            "auc@test{region=apac}": apac,
            "logloss@test": 0.4321,
        },
        params={"lr": "0.0137", "depth": f"{7 + number}"},
        seed=4242,
        hardware="A10G x1",
        duration_seconds=3723.5,
        code={"repo": "git@example:ml/ctr.git", "commit": commit(number), "dirty": False},
        data=[
            DataRef(
                snapshot="ds_2025_10_01",
                sha256="9f" * 32,
                window="2025-09-01/2025-10-01",
                sampling="10% of users",
            )
        ],
        features="ctr_feats@v7",
        run_id=f"run-{number}",
        experiment_id="exp-ctr",
        environment={
            "python": "3.11.9",
            "frameworks": {"onnxruntime": "1.17.3"},
            "image_digest": "registry.example/ctr@sha256:" + "ab" * 32,
            "lockfile": {"path": "uv.lock", "sha256": "cd" * 32},
        },
        signature={
            "inputs": {
                "kind": "dataframe",
                "fields": [
                    {"name": "user_age", "dtype": "int64"},
                    {"name": "ctr_7d", "dtype": "float64", "nullable": True},
                ],
            },
            "outputs": {"kind": "ndarray", "fields": [{"name": "score", "dtype": "float32"}]},
        },
        capture_environment=False,
        change_summary="Added user_age | pipe <script>alert(1)</script>",
        caveats=["Under-performs on apac traffic"],
        tags={"command": "python train.py --config ctr.yaml"},
    )


@pytest.fixture
def built(registry: Registry, tmp_path: Path) -> Built:
    return build(registry, tmp_path)


def build(registry: Registry, tmp_path: Path) -> Built:
    """ctr_ranking: v1 deployed then rolled back to, v2 (the rich one) deployed and rolled
    back from, v3 registered bare."""
    if not any(g.role == "admin" for g in registry.roles()):
        # A registry the fixtures made has no admin; one made here has its creator.
        registry.grant_role("tester", "admin", first_admin=True)
    registry.set_policy(POLICY, source="policy.toml")
    registry.grant_role("rev", "reviewer")
    registry.grant_role("tester", "deployer")
    _register(registry, tmp_path, 1, 0.861, 0.812)
    _register(registry, tmp_path, 2, 0.874, 0.797)
    for n, reason in ((1, "first release"), (2, "weekly release 48")):
        uri = f"models:/ctr_ranking/{n}"
        registry.promote(uri, to="candidate")
        registry.approve(uri, comment=f"reviewed v{n}, risk low", actor="rev")
        registry.deploy(uri, reason=reason)
    registry.watch(
        "models:/ctr_ranking/2", job="mon-ctr-7", dashboard="grafana ctr", alerts=["p99_ms > 250"]
    )
    registry.observe("models:/ctr_ranking/2", "ctr@online", 0.0312)
    registry.rollback("ctr_ranking", reason_code="kpi_drop", note="conversion fell 4% in EU")
    bare = tmp_path / "bare.bin"
    bare.write_bytes(b"bare model")
    registry.register("ctr_ranking", bare, capture_environment=False)
    files = {p.name: p.read_bytes() for p in (tmp_path / "v2").iterdir() if p.is_file()}
    return Built(registry, files)


def _sections(html: str) -> dict[str, str]:
    """The HTML of each data-section, up to the next one."""
    marks = list(re.finditer(r'data-section="([a-z]+)"', html))
    return {
        m.group(1): html[m.end() : (marks[i + 1].start() if i + 1 < len(marks) else len(html))]
        for i, m in enumerate(marks)
    }


def test_every_html_section_shows_the_versions_own_values(built: Built) -> None:
    html = built.registry.report("models:/ctr_ranking/2", format="html")
    s = _sections(html)
    assert set(SECTIONS) <= set(s)
    assert "mlops@company, ana" in s["identity"] and "1.1.0" in s["identity"]
    assert "ranking" in s["identity"] and "deprecated" in s["identity"]
    assert "Registered by <b>tester</b>" in s["history"]
    assert "rev" in s["history"] and "weekly release 48" in s["history"]
    assert "c0ffee2" in s["code"] and "git@example:ml/ctr.git" in s["code"]
    assert "run-2" in s["code"] and "clean" in s["code"]
    assert "ds_2025_10_01" in s["data"] and "9f" * 32 in s["data"]
    assert "2025-09-01/2025-10-01" in s["data"] and "ctr_feats" in s["data"]
    assert "v7" in s["data"]
    assert "4242" in s["training"] and "A10G x1" in s["training"]
    assert "0.0137" in s["training"] and "3723.5" in s["training"] and ">9<" in s["training"]
    assert "ab" * 32 in s["environment"] and "cd" * 32 in s["environment"]
    assert "3.11.9" in s["environment"] and "1.17.3" in s["environment"]
    assert "user_age: int64" in s["artifacts"] and "score: float32" in s["artifacts"]
    for name, data in built.files.items():
        assert hashlib.sha256(data).hexdigest() in s["artifacts"]
        assert name in s["artifacts"]
    metrics = s["metrics"]
    assert "0.874" in metrics and "0.861" in metrics and "0.885" in metrics
    assert "auc@test &gt;= 0.85" in metrics and "auc@test{*} &gt;= 0.8" in metrics
    # apac 0.797 breaks the advisory every-slice rule: its row says so, and its dot is red
    apac = metrics[metrics.index("region=apac") :]
    assert apac.index("0.797") < apac.index('class="fail">fail<')
    assert 'class="dot bad"' in metrics and "<svg" in metrics
    trend = s["trend"]
    assert "version 1: 0.861" in trend and "version 2: 0.874" in trend
    assert 'class="pt now"' in trend
    assert "lineage_complete" in s["gates"] and "present: code.commit" in s["gates"]
    assert "reviewed v2, risk low" in s["gates"]
    assert "weekly release 48" in s["aliases"] and "rollback (kpi_drop)" in s["aliases"]
    assert "conversion fell 4% in EU" in s["incidents"]
    assert "production rolled back to version 1 (kpi_drop)" in s["incidents"]
    assert "Under-performs on apac traffic" in s["incidents"]
    assert "mon-ctr-7" in s["monitoring"] and "p99_ms &gt; 250" in s["monitoring"]
    assert "0.0312" in s["monitoring"]
    assert "29 of 29" in s["completeness"]
    assert f"git checkout --detach {commit(2)} --" in s["reproduce"]
    assert "uv sync --frozen" in s["reproduce"]
    assert "seed = 4242" in s["reproduce"] and "python train.py --config ctr.yaml" in s["reproduce"]


def _charts(html: str) -> dict[str, ET.Element]:
    """Each chart's SVG by its aria-label."""
    found = (ET.fromstring(m) for m in re.findall(r"<svg .*?</svg>", html, re.S))
    return {svg.attrib["aria-label"]: svg for svg in found if "aria-label" in svg.attrib}


def _ticks_by_row(svg: ET.Element) -> dict[str, tuple[float, dict[str, float]]]:
    """For each dot of a slice chart: its x, and the x of each threshold tick crossing its
    row, by the tick's title."""
    svg_ticks = [t for t in svg.iter("line") if t.get("class") == "thr"]
    rows = {}
    for dot in svg.iter("circle"):
        label = (dot.findtext("title") or "").rsplit(": ", 1)[0]
        y = float(dot.attrib["cy"])
        ticks = {
            t.findtext("title") or "": float(t.attrib["x1"])
            for t in svg_ticks
            if float(t.attrib["y1"]) < y < float(t.attrib["y2"])
        }
        rows[label] = (float(dot.attrib["cx"]), ticks)
    return rows


def test_each_slice_row_is_drawn_against_its_own_thresholds(built: Built) -> None:
    """The policy holds auc@test to >= 0.85 and each of its slices to >= 0.8: the
    chart drew the slices' 0.8 line across the overall row too, as the table did not."""
    reg = built.registry
    # A second gate on the overall value: a row held to two rules shows both.
    reg.set_policy(
        POLICY + '\n[[tiers.low.approved]]\ncheck = "metric"\nrules = ["auc@test >= 0.87"]\n',
        source="policy.toml",
    )
    html = reg.report("models:/ctr_ranking/2", format="html")
    charts = _charts(html)
    rows = _ticks_by_row(charts["auc@test by slice"])
    assert {label: set(ticks) for label, (_, ticks) in rows.items()} == {
        "overall": {"overall: threshold >= 0.85", "overall: threshold >= 0.87"},
        "region=apac": {"region=apac: threshold >= 0.8"},
        "region=eu": {"region=eu: threshold >= 0.8"},
        "region=us": {"region=us: threshold >= 0.8"},
    }
    # Every tick sits where its limit lies on the dots' axis (x is linear in the value).
    values = {"overall": 0.874, "region=apac": 0.797, "region=eu": 0.861, "region=us": 0.885}
    (x0, _), (x1, _) = rows["region=apac"], rows["region=us"]
    scale = (x1 - x0) / (values["region=us"] - values["region=apac"])
    for label, (x, ticks) in rows.items():
        assert x == pytest.approx(x0 + (values[label] - 0.797) * scale, abs=0.2)
        for title, tick in ticks.items():
            limit = float(title.rsplit(" ", 1)[1])
            assert tick == pytest.approx(x0 + (limit - 0.797) * scale, abs=0.2), title
    labels = {t.text for t in charts["auc@test by slice"].iter() if t.get("class") == "ctl"}
    assert labels == {">= 0.8", ">= 0.85", ">= 0.87"}
    trend = charts["auc@test across versions"]
    lines = {t.findtext("title") for t in trend.iter("line") if t.get("class") == "thr"}
    assert lines == {"threshold >= 0.85", "threshold >= 0.87"}
    md = reg.report("models:/ctr_ranking/2", format="md")
    assert "Thresholds: \\>= 0.85; \\>= 0.87." in md


def test_markdown_report_has_every_section_with_its_values(built: Built) -> None:
    md = built.registry.report("models:/ctr_ranking@production", format="md")
    # The alias resolves to version 1 after the rollback.
    assert md.startswith("# ctr\\_ranking version 1 (1.0.0)")
    for heading in (
        "## Identity and owners",
        "## Registration and promotion",
        "## Code",
        "## Data and features",
        "## Training set-up",
        "## Environment",
        "## Artifacts and signature",
        "## Metrics against the policy's thresholds",
        "### auc@test across versions",
        "## Gate evidence and approvals",
        "## Alias history",
        "## Incidents and caveats",
        "### Monitoring",
        "## Completeness:",
        "## How to reproduce",
    ):
        assert heading in md
    assert f"| commit | {commit(1)} |" in md
    assert "| auc | test | region=apac | 0.812 | auc@test{\\*} \\>= 0.8 | candidate | pass |" in md
    assert "| 1 (this) | 0.861 |" in md and "| 2 | 0.874 |" in md
    assert "| production | 1 | 2 | tester | weekly release 48 |" in md
    assert f"git checkout --detach {commit(1)} --" in md


def test_user_text_cannot_break_the_markdown_or_the_html(built: Built) -> None:
    md = built.registry.report("models:/ctr_ranking/2", format="md")
    assert "Added user\\_age \\| pipe \\<script\\>alert(1)\\</script\\>" in md
    assert "<script>" not in md
    html = built.registry.report("models:/ctr_ranking/2", format="html")
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_bidirectional_overrides_are_shown_as_escapes(registry: Registry, tmp_path: Path) -> None:
    """U+202E in a file name, a note or a tag would make a page show ``exe.txt`` for
    ``txt.exe``; both formats write it as ``\\u202e``, as the CLI does."""
    path = tmp_path / "model\u202etxt.exe"
    path.write_bytes(b"weights")
    registry.register(
        "bidi",
        [path],
        owners=["o"],
        change_summary="fixed \u202egnp.exe",
        tags={"note": "\u2066isolated\u2069"},
        capture_environment=False,
    )
    for fmt in ("md", "html"):
        text = registry.report("models:/bidi/1", format=fmt)
        assert not any(ch in text for ch in "\u202e\u2066\u2069"), fmt
        # Markdown escapes the escape's backslash too (it renders as one).
        shown = text.replace("\\\\", "\\") if fmt == "md" else text
        assert "\\u202etxt.exe" in shown and "\\u2066isolated\\u2069" in shown, fmt


def test_md_escaping_keeps_tables_and_fences_whole() -> None:
    assert md_text("a|b\nc\x1b[2J*d*") == "a\\|b c\\\\x1b\\[2J\\*d\\*"
    block = md_code(["echo ```", "x"])
    fence = block.splitlines()[0]
    assert fence == "````" and block.endswith("\n````")


def test_html_is_one_self_contained_file(built: Built) -> None:
    html = built.registry.report("models:/ctr_ranking/2", format="html")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    lowered = html.lower()
    for needle in ("http://", "https://", "src=", "href=", "url(", "@import", "<link", "<script"):
        assert needle not in lowered, needle
    assert "<style>" in html and "@media print" in html and "size: A4" in html


def test_a_bare_version_is_reported_with_each_gap_marked(built: Built) -> None:
    md = built.registry.report("models:/ctr_ranking/3", format="md")
    assert "| commit | *not recorded* |" in md
    assert "*No data snapshot recorded.*" in md
    assert "**Not recorded:** the commit (code.commit)" in md
    assert "**Not recorded:** the data snapshot (lineage.data)" in md
    assert "**Not recorded:** the random seed (training.seed)" in md
    assert "**Not recorded:** a lock file or a container image" in md
    assert "### 1. Check out the code (incomplete)" in md
    # identity, owners, files: 5 of 29 fields
    assert "Completeness: **17 %**" in md and "(5 of 29 checklist fields)" in md


def test_report_refuses_an_unknown_format_and_version(built: Built) -> None:
    with pytest.raises(InvalidInput, match="unknown report format 'pdf'"):
        built.registry.report("models:/ctr_ranking/2", format="pdf")
    with pytest.raises(NotFound):
        built.registry.report("models:/ctr_ranking/9")


def test_doctor_lists_the_worst_first(built: Built) -> None:
    result = built.registry.doctor()
    assert result.checked == 3
    # v2 answers the whole checklist; v1 lacks its monitoring; v3 almost everything.
    assert [e.number for e in result.entries] == [3, 1]
    bare, served = result.entries
    assert bare.present == 5 and bare.total == len(FIELDS)
    assert bare.missing_required == (
        "code.commit",
        "data.snapshot",
        "metrics.offline",
        "approvals.review",
    )
    assert served.stage == "deployed" and served.missing == (
        "online.monitoring_job",
        "online.alerts",
    )
    assert not served.failing and result.ok
    result.check()  # nothing deployed lacks a required field
    assert [e.number for e in built.registry.doctor(stage="deployed").entries] == [1]


def test_doctor_fails_for_a_deployed_version_missing_a_required_field(
    built: Built, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = built.registry
    # A stricter policy: the deployed version 1 has no monitoring job.
    reg.set_policy(
        POLICY.replace('"approvals.review"]', '"approvals.review", "online.monitoring_job"]'),
        source="policy.toml",
    )
    result = reg.doctor()
    # The deployed version that fails comes before the bare one, worse as it is.
    assert [e.number for e in result.entries] == [1, 3]
    first = result.entries[0]
    assert first.failing and first.stage == "deployed"
    assert first.missing_required == ("online.monitoring_job",)
    assert first.score > result.entries[1].score
    with pytest.raises(IncompleteMetadata) as err:
        result.check()
    assert err.value.exit_code == 13
    assert err.value.missing == {"models:/ctr_ranking/1": ("online.monitoring_job",)}

    monkeypatch.setenv("MODELBOOK_URI", reg.db.uri)
    monkeypatch.setenv("MODELBOOK_BLOB_URI", reg.blob_uri)
    code, out, err_text = _cli(capsys, "doctor", "ctr_ranking", "--stage", "deployed")
    assert code == 13
    assert "models:/ctr_ranking/1" in out and "online.monitoring_job" in out
    assert "ctr_ranking/3" not in out
    assert err_text.startswith("error: 1 deployed version(s) miss required metadata")
    code, out, _ = _cli(capsys, "doctor", "--json")
    assert code == 13 and '"failing": 1' in out
    code, out, _ = _cli(capsys, "doctor", "ctr_ranking", "--stage", "staging")
    assert code == 0 and "ctr_ranking/3" in out
    code, _, err_text = _cli(capsys, "doctor", "--stage", "shipped")
    assert code == 6 and "unknown stage 'shipped'" in err_text
    code, _, err_text = _cli(capsys, "doctor", "nope")
    assert code == 3


def test_doctor_fails_when_a_version_cannot_be_read(
    built: Built, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A gate that passed over a damaged entry would pass a deployed version nobody can
    read: the run names it and exits 7, the other versions still listed."""
    reg = built.registry
    with reg.db.engine.begin() as conn:
        trigger = (
            "versions_frozen ON versions" if reg.db.dialect == "postgresql" else ("versions_frozen")
        )
        conn.execute(sa.text(f"DROP TRIGGER {trigger}"))
        conn.execute(sa.text("UPDATE versions SET doc = 'null' WHERE number = 1"))
    result = reg.doctor()
    assert [e.number for e in result.entries] == [3]
    assert len(result.unreadable) == 1 and "models:/ctr_ranking/1" in result.unreadable[0]
    assert not result.ok
    with pytest.raises(IntegrityError, match=r"1 version\(s\) cannot be read.*ctr_ranking/1"):
        result.check()

    monkeypatch.setenv("MODELBOOK_URI", reg.db.uri)
    monkeypatch.setenv("MODELBOOK_BLOB_URI", reg.blob_uri)
    code, out, err_text = _cli(capsys, "doctor", "--stage", "deployed")
    assert code == 7, (out, err_text)
    assert "unreadable: " in err_text and "models:/ctr_ranking/1" in err_text
    code, out, _ = _cli(capsys, "doctor", "--json")
    assert code == 7 and "models:/ctr_ranking/1" in json.loads(out)["unreadable"][0]


def test_report_cli_writes_the_file_whole(
    built: Built,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MODELBOOK_URI", built.registry.db.uri)
    monkeypatch.setenv("MODELBOOK_BLOB_URI", built.registry.blob_uri)
    target = tmp_path / "report.html"
    code, out, err = _cli(
        capsys, "report", "models:/ctr_ranking/2", "--format", "html", "--output", target
    )
    assert code == 0 and out == "" and "wrote" in err
    assert 'data-section="reproduce"' in target.read_text(encoding="utf-8")
    code, out, _ = _cli(capsys, "report", "models:/ctr_ranking/2")
    assert code == 0 and out.startswith("# ctr\\_ranking version 2")
    code, _, err = _cli(capsys, "report", "models:/ctr_ranking/2", "--format", "pdf")
    assert code == 6 and "unknown report format" in err
    # The bill of materials is written the same way; a folder that is not there is
    # a clear error, and nothing is left behind.
    bom = tmp_path / "bom.json"
    code, out, err = _cli(capsys, "bom", "models:/ctr_ranking/2", "-o", bom)
    assert code == 0 and out == "" and json.loads(bom.read_text())["bomFormat"] == "CycloneDX"
    code, _, err = _cli(capsys, "bom", "models:/ctr_ranking/2", "-o", tmp_path / "no" / "b.json")
    assert code == 6 and "cannot write" in err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def _cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    run = run_main(args, capsys)
    return run.code, run.out, run.err
