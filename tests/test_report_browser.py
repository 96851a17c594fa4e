"""The HTML report in a real browser: Debian's headless Chromium (``make browser``).

Chromium prints the page to PDF, takes a screenshot and dumps the DOM it
built; its network log must hold no http(s) request, so the page is complete
offline. Without Chromium the test is skipped locally and fails under CI.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from modelbook import Registry

from .conftest import IN_CI
from .test_reports import SECTIONS, build

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


@pytest.fixture
def chromium() -> Path:
    if not os.access(CHROMIUM, os.X_OK):
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing: CI needs it (make browser installs it)")
        pytest.skip(f"{CHROMIUM} is missing (make browser installs Debian's chromium)")
    return CHROMIUM


def _run(chromium: Path, work: Path, name: str, *args: str) -> tuple[str, Path]:
    """Run Chromium once on a fresh profile; returns its stdout and its network log."""
    profile = work / f"profile-{name}"
    profile.mkdir()
    net_log = work / f"net-{name}.json"
    done = subprocess.run(
        [str(chromium), *FLAGS, f"--user-data-dir={profile}", f"--log-net-log={net_log}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, net_log


def _page_requests(net_log: Path) -> list[str]:
    """The URLs the page asked for, from Chromium's network log.

    The browser's own background traffic (time, updates, accounts) is started
    with no origin; what a document loads carries the document's origin as
    initiator (``null`` for a file:// page).
    """
    log = json.loads(net_log.read_text(encoding="utf-8"))
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        str(e["params"].get("url"))
        for e in log["events"]
        if e["type"] == start
        and e.get("params", {}).get("initiator") not in (None, "not an origin")
        and not str(e["params"].get("url", "")).startswith("file:")
    ]


def test_chromium_renders_prints_and_fetches_nothing(
    chromium: Path, tmp_path: Path, blob_dir: Path
) -> None:
    registry = Registry(f"sqlite:///{tmp_path / 'r.db'}", blob_uri=str(blob_dir), actor="tester")
    with registry:
        html = build(registry, tmp_path).registry.report("models:/ctr_ranking/2", format="html")
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    url = page.as_uri()

    dom, log_dom = _run(chromium, tmp_path, "dom", "--dump-dom", url)
    for section in SECTIONS:
        assert f'data-section="{section}"' in dom, section
    assert "c0ffee2" in dom and "<svg" in dom

    pdf = tmp_path / "report.pdf"
    _, log_pdf = _run(
        chromium, tmp_path, "pdf", "--no-pdf-header-footer", f"--print-to-pdf={pdf}", url
    )
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000

    png = tmp_path / "report.png"
    _, log_png = _run(
        chromium,
        tmp_path,
        "png",
        "--hide-scrollbars",
        "--window-size=1100,1600",
        f"--screenshot={png}",
        url,
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000

    for log in (log_dom, log_pdf, log_png):
        assert _page_requests(log) == [], log.name


def test_the_network_check_sees_a_page_that_fetches(chromium: Path, tmp_path: Path) -> None:
    """The check above would catch a page that loads anything from the network."""
    page = tmp_path / "fetches.html"
    page.write_text('<!DOCTYPE html><img src="http://127.0.0.1:9/x.png"><p>x</p>')
    _, log = _run(chromium, tmp_path, "control", "--dump-dom", page.as_uri())
    assert _page_requests(log) == ["http://127.0.0.1:9/x.png"]
