"""The HTML report on paper: one A4 page for a typical version, a long list cut short.

The print style sheet lays the cards out in three columns at 7.5 pt; a list
longer than a few items shows its first ones on paper and a line saying how
many more the screen version has. Chromium prints the pages whose count is
checked (skipped locally without it, failing under CI, as in
test_report_browser).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from modelbook import DataRef, Registry

from .test_report_browser import _run, chromium  # noqa: F401 (chromium is a fixture)
from .test_reports import build

MORE = re.compile(r"and (\d+) more ([a-z ]+) \(see the screen version or --format md\)")


class _Elements(HTMLParser):
    """Each element's card (data-section of the nearest section), its classes, and the
    text inside it."""

    VOID = frozenset({"br", "meta", "img", "input", "hr", "link", "circle", "line"})

    def __init__(self) -> None:
        super().__init__()
        self.open: list[tuple[str, str, int]] = []  # tag, section, index in found
        self.found: list[tuple[str, set[str], list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.VOID:
            return
        a = dict(attrs)
        section = self.open[-1][1] if self.open else ""
        if tag == "section" and a.get("data-section"):
            section = a["data-section"] or ""
        self.found.append((section, set((a.get("class") or "").split()), []))
        self.open.append((tag, section, len(self.found) - 1))

    def handle_endtag(self, tag: str) -> None:
        while self.open and tag not in self.VOID:
            if self.open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, _, index in self.open:
            self.found[index][2].append(data)


def _elements(html: str) -> list[tuple[str, set[str], str]]:
    parser = _Elements()
    parser.feed(html)
    return [(s, c, " ".join("".join(t).split())) for s, c, t in parser.found]


def _cut_and_more(html: str) -> dict[str, tuple[int, list[tuple[int, str]]]]:
    """By section: how many elements print hides, and each "and N more" line's N and noun."""
    found: dict[str, tuple[int, list[tuple[int, str]]]] = {}
    for section, classes, text in _elements(html):
        cut, more = found.get(section, (0, []))
        if "print-cut" in classes:
            cut += 1
        if "print-only" in classes and "more" in classes:
            m = MORE.fullmatch(text)
            assert m, text
            more = [*more, (int(m.group(1)), m.group(2))]
        found[section] = (cut, more)
    return found


def _big(registry: Registry, root: Path) -> str:
    """A version with more data snapshots, files, reviews, alias moves, incidents and
    parameters than a page holds; returns its HTML report."""
    folder = root / "big"
    folder.mkdir()
    for i in range(10):
        (folder / f"part-{i:02d}.bin").write_bytes(f"shard {i}".encode() * 20)
    registry.register(
        "ctr_ranking",
        folder,
        owners=["mlops@company"],
        metrics={"auc@test": 0.88},
        params={f"p{i:02d}": str(i) for i in range(14)},
        seed=1,
        code={"repo": "git@example:ml/ctr.git", "commit": "d" * 40, "dirty": False},
        data=[DataRef(snapshot=f"ds_{i:02d}", sha256=f"{i:02x}" * 32) for i in range(9)],
        capture_environment=False,
        caveats=[f"caveat {i}" for i in range(6)],
    )
    uri = "models:/ctr_ranking/4"
    registry.promote(uri, to="candidate")
    for i in range(7):
        registry.grant_role(f"rev{i}", "reviewer")
        registry.approve(uri, comment=f"looked at shard set {i}", actor=f"rev{i}")
    for i in range(8):
        registry.set_alias("ctr_ranking", f"canary{i}", 4, reason=f"canary {i}")
    for i in range(6):
        registry.comment(uri, f"latency spike {i}", kind="incident")
    return registry.report(uri, format="html")


@pytest.fixture
def reports(tmp_path: Path, blob_dir: Path) -> dict[str, str]:
    registry = Registry(f"sqlite:///{tmp_path / 'r.db'}", blob_uri=str(blob_dir), actor="tester")
    with registry:
        build(registry, tmp_path)
        return {
            "typical": registry.report("models:/ctr_ranking/2", format="html"),
            "big": _big(registry, tmp_path),
        }


def _style(html: str) -> str:
    return " ".join(re.search(r"<style>(.*?)</style>", html, re.S).group(1).split())  # type: ignore[union-attr]


def test_the_print_rules_set_an_a4_page_in_columns(reports: dict[str, str]) -> None:
    style = _style(reports["typical"])
    assert "@page { size: A4; margin: 7mm; }" in style
    screen, _, paper = style.partition("@media print {")
    assert ".print-only { display: none; }" in screen
    assert ".print-cut, .seconds { display: none !important; }" in paper
    assert "columns: 3;" in paper and "font: 7.5pt/" in paper
    sizes = [float(x) for x in re.findall(r"font(?:-size)?: ?(\d+(?:\.\d+)?)pt", paper)]
    assert sizes and min(sizes) >= 7, sizes


def test_a_typical_versions_lists_are_whole_on_paper(reports: dict[str, str]) -> None:
    for section, (cut, more) in _cut_and_more(reports["typical"]).items():
        assert (cut, more) == (0, []), section


def test_long_lists_show_their_first_items_and_how_many_more(reports: dict[str, str]) -> None:
    found = _cut_and_more(reports["big"])
    expected = {
        "data": [(7, "data snapshots")],
        "training": [(4, "parameters")],
        "artifacts": [(4, "files")],
        "gates": [(3, "reviews")],
        "aliases": [(3, "alias moves")],
        "incidents": [(2, "incidents"), (2, "caveats")],
        "reproduce": [(2, "gaps"), (2, "commands")],
    }
    for section, more in expected.items():
        cut, lines = found[section]
        assert lines == more, section
        assert cut == sum(n for n, _ in more), section
    assert {s for s, (cut, lines) in found.items() if cut or lines} == set(expected)
    # The screen shows every item: the cut ones are only hidden by the print rules.
    html = reports["big"]
    for name in ("ds_08", "part-09.bin", "looked at shard set 6", "canary 7", "latency spike 5"):
        assert name in html, name


def _pages(pdf: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page\b", pdf.read_bytes()))


def test_chromium_prints_a_typical_version_on_one_a4_page(
    chromium: Path,  # noqa: F811
    reports: dict[str, str],
    tmp_path: Path,
) -> None:
    counts = {}
    for name, html in reports.items():
        page = tmp_path / f"{name}.html"
        page.write_text(html, encoding="utf-8")
        pdf = tmp_path / f"{name}.pdf"
        _run(
            chromium,
            tmp_path,
            name,
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf}",
            page.as_uri(),
        )
        counts[name] = _pages(pdf)
        # A4 portrait in PostScript points
        box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf.read_bytes())
        assert box and [round(float(x)) for x in box.groups()] == [595, 842], name
    assert counts["typical"] == 1, counts
    assert counts["big"] <= 2, counts
