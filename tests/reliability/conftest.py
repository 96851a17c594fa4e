"""Fixtures of the reliability suite and the summary of its figures."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import SOAK, Figures


@pytest.fixture
def figures(request: pytest.FixtureRequest, record_property: object) -> Iterator[Figures]:
    """Counts of what a test did (iterations, kills, examples), reported at the end."""
    fig = Figures(request.node.nodeid)
    yield fig
    fig["seconds"] = round(time.monotonic() - fig.started, 1)
    fig["soak"] = SOAK
    request.node.user_properties.append(("figures", json.dumps(fig.values, sort_keys=True)))
    out = os.environ.get("MODELBOOK_RELIABILITY_FIGURES")
    if out:
        line = json.dumps({"test": fig.test_id, **fig.values}, sort_keys=True)
        with open(out, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    rows = set()
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "teardown":
                continue
            for key, value in getattr(report, "user_properties", []):
                if key == "figures":
                    rows.add((report.nodeid, value))
    if rows:
        terminalreporter.section("reliability figures")
        for nodeid, value in sorted(rows):
            terminalreporter.write_line(f"{nodeid} {value}")


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path
