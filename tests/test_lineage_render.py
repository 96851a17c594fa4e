"""Lineage graphs rendered as Mermaid, DOT and a text tree, with hostile labels: quotes,
brackets, arrows, newlines, backslashes, ``<>``, ``&`` and ``#`` references, terminal
escapes and bidirectional overrides in snapshot ids, repositories and roles. Each
output is checked line by line against its grammar, and every label decodes back to
exactly the text it shows; Graphviz itself renders the DOT when it is installed."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime

import pytest

from modelbook.cli.render import safe
from modelbook.domain import Version
from modelbook.lineage import GraphBuilder, LineageGraph
from modelbook.lineage_render import to_dot, to_mermaid, to_text

HOSTILE = [
    'x"] --> evil["pwn',
    "two\nlines\r\tand\x1b[2J cleared",
    "<script>alert(1)</script>",
    "#quot; &amp; &#34; \\n \\\\ end",
    "rtl \u202e override | pipe ; }} {{ ]] ((",
    "graph TD; click n0 call evil()",
    "snowman \u2603 caf\u00e9 \U0001f600",
]


def version(number: int, snapshot: str, role: str, parents: tuple[str, ...] = ()) -> Version:
    return Version.model_validate(
        {
            "model": "m",
            "number": number,
            "semver": f"1.0.{number}",
            "artifacts": [],
            "lineage": {
                "code": {"repo": 'git@x:"quoted"/<repo>.git', "commit": "c" * 40},
                "data": [{"snapshot": snapshot, "role": role}],
                "features": {"name": "fs", "version": '3"]'},
                "run_id": "run\n1",
                "parents": list(parents),
            },
            "created_by": "me",
            "created_at": datetime(2025, 10, 1, tzinfo=UTC),
            "aliases": ["production"] if number == 2 else [],
        }
    )


def hostile_graph() -> LineageGraph:
    builder = GraphBuilder()
    root = None
    for i, text in enumerate(HOSTILE, start=1):
        v = version(i, text, text[::-1], (f"m/{i - 1}",) if i > 1 else ())
        vid = builder.add_version(v, ["production"])
        builder.add_inputs(v)
        if i > 1:
            builder.add_parent(f"models:/m/{i - 1}", vid)
        root = root or vid
    assert root is not None
    return builder.graph(root, "both", None, False)


def captions(graph: LineageGraph) -> tuple[list[str], list[str]]:
    """What each node and edge shows, in order, as the renderers compute it."""
    from modelbook.lineage_render import _caption, _edge_caption

    return [safe(_caption(n)) for n in graph.nodes], [safe(_edge_caption(e)) for e in graph.edges]


PLAIN = r"[A-Za-z0-9 ._\-/:@=,+()\[\]]"


def test_mermaid_is_one_statement_a_line_and_labels_decode_to_what_they_show() -> None:
    graph = hostile_graph()
    text = to_mermaid(graph, safe)
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    inner = rf"((?:{PLAIN}|#\d+;)*)"
    node = re.compile(
        rf'  n(\d+)(?:\["{inner}"\]|\[\("{inner}"\)\]|\{{\{{"{inner}"\}}\}}|\("{inner}"\))'
    )
    edge = re.compile(rf'  n(\d+) -->\|"{inner}"\| n(\d+)')
    nodes, edges = captions(graph)
    shown_nodes, shown_edges = [], []
    for line in lines[1:]:
        if m := node.fullmatch(line):
            label = next(g for g in m.groups()[1:] if g is not None)
            shown_nodes.append(re.sub(r"#(\d+);", lambda x: chr(int(x[1])), label))
        elif m := edge.fullmatch(line):
            shown_edges.append(re.sub(r"#(\d+);", lambda x: chr(int(x[1])), m[2]))
            assert int(m[1]) < len(graph.nodes) and int(m[3]) < len(graph.nodes)
        else:
            assert re.fullmatch(r"  classDef \w+ [\w:#-]+|  class n\d+(,n\d+)* \w+", line), line
    assert shown_nodes == nodes and shown_edges == edges
    deployed = [i for i, n in enumerate(graph.nodes) if n.id == "models:/m/2"]
    assert f"  class n{deployed[0]} deployed" in lines and "  class n0 root" in lines
    assert not any(ch in text for ch in "\x1b\u202e\r\t")


DOT_INNER = rf"((?:{PLAIN}|[^\x00-\x7f]|&#\d+;|\\\\)*)"


def _dot_decode(label: str) -> str:
    return re.sub(r"&#(\d+);|\\\\", lambda x: "\\" if x[1] is None else chr(int(x[1])), label)


def test_dot_is_one_statement_a_line_and_labels_decode_to_what_they_show() -> None:
    graph = hostile_graph()
    text = to_dot(graph, safe)
    lines = text.splitlines()
    assert lines[:3] == ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    assert lines[-1] == "}"
    node = re.compile(
        rf'  n(\d+) \[label="{DOT_INNER}", shape=\w+(, penwidth=3)?'
        r'(, style=filled, fillcolor="#d4f7d4")?\];'
    )
    edge = re.compile(rf'  n(\d+) -> n(\d+) \[label="{DOT_INNER}"\];')
    shown_nodes, shown_edges = [], []
    for line in lines[3:-1]:
        if m := node.fullmatch(line):
            shown_nodes.append(_dot_decode(m[2]))
        else:
            m = edge.fullmatch(line)
            assert m, line
            shown_edges.append(_dot_decode(m[3]))
    assert (shown_nodes, shown_edges) == captions(graph)


@pytest.mark.skipif(
    shutil.which("dot") is None and os.environ.get("CI") != "true",
    reason="Graphviz is not installed (make test installs it; under CI=true this fails)",
)
def test_graphviz_renders_every_label_as_written() -> None:
    graph = hostile_graph()
    out = subprocess.run(
        ["dot", "-Tsvg"], input=to_dot(graph, safe), capture_output=True, text=True, check=True
    )
    texts = [html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", out.stdout)]
    nodes, edges = captions(graph)
    for caption in nodes + edges:
        assert caption in texts


def test_text_tree_shows_every_input_and_parent_escaped() -> None:
    graph = hostile_graph()
    text = to_text(graph, safe)
    lines = text.splitlines()
    assert lines[0] == safe("models:/m/1  m v1 (1.0.1) [staging]")
    assert not any(ch in text for ch in "\x1b\u202e\r\t")
    # Down from version 1: each later version once, as a chain of children.
    made = lines[lines.index("made into:") + 1 :]
    assert [line.split("child: ")[1].split()[0] for line in made] == [
        f"models:/m/{i}" for i in range(2, len(HOSTILE) + 1)
    ]
    for snapshot in HOSTILE[:1]:
        assert any(safe(f"dataset:{snapshot}") in line for line in lines)


def test_text_tree_expands_a_version_reached_twice_once() -> None:
    builder = GraphBuilder()
    versions = [
        version(1, "a", "train"),
        version(2, "b", "train", ("m/1",)),
        version(3, "c", "train", ("m/1",)),
        version(4, "d", "train", ("m/2", "m/3")),
    ]
    for v in versions:
        builder.add_version(v, [])
        builder.add_inputs(v)
    for child, parent in ((2, 1), (3, 1), (4, 2), (4, 3)):
        builder.add_parent(f"models:/m/{parent}", f"models:/m/{child}")
    text = to_text(builder.graph("models:/m/4", "up", None, False), safe)
    assert text.count("parent: models:/m/1") == 2
    assert text.count("(shown above)") == 1
    assert text.count("dataset:a") == 1
    leaf = to_text(builder.graph("models:/m/4", "down", None, False), safe)
    assert leaf.splitlines()[1:] == ["made into: no version names it as a parent"]
    truncated = to_text(builder.graph("models:/m/4", "up", 1, True), safe)
    assert truncated.splitlines()[-1] == "(more beyond depth 1: raise --depth to see them)"


def test_dot_keeps_characters_beyond_ascii_and_graphviz_writes_valid_svg() -> None:
    graph = hostile_graph()
    text = to_dot(graph, safe)
    assert "\U0001f600" in text and "&#128512;" not in text and "\u2603" in text
    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed")
    import xml.etree.ElementTree as ET

    svg = subprocess.run(["dot", "-Tsvg"], input=text.encode(), capture_output=True, check=True)
    root = ET.fromstring(svg.stdout.decode("utf-8"))
    shown = "".join(root.itertext())
    assert "snowman \u2603 caf\u00e9 \U0001f600" in shown


def test_dot_shows_characters_that_do_not_print_as_visible_text() -> None:
    from modelbook.lineage_render import dot_text

    assert dot_text("a\x1bb\u202ec") == "a\\\\x1bb\\\\u202ec"


def chain(length: int) -> LineageGraph:
    builder = GraphBuilder()
    for i in range(1, length + 1):
        v = version(i, f"ds{i}", "train", (f"m/{i - 1}",) if i > 1 else ())
        vid = builder.add_version(v, [])
        builder.add_inputs(v)
        if i > 1:
            builder.add_parent(f"models:/m/{i - 1}", vid)
    return builder.graph(f"models:/m/{length}", "up", None, False)


def test_text_tree_of_a_long_parent_chain_is_linear_and_says_the_depth() -> None:
    from modelbook.lineage_render import MAX_INDENT

    text = to_text(chain(1000), safe)
    lines = text.splitlines()
    parents = [ln for ln in lines if "parent: models:/m/" in ln]
    assert len(parents) == 999
    assert (
        parents[-1]
        .lstrip(" \u2502")
        .startswith("\u2514\u2500\u2500 [depth 999] parent: models:/m/1")
    )
    widest = max(len(ln) - len(ln.lstrip(" \u2502")) for ln in lines)
    assert widest == 4 * (MAX_INDENT - 1)
    # Twice the chain, about twice the text: not four times.
    assert len(to_text(chain(2000), safe)) < 2.2 * len(text)
    down = chain(1000).model_copy(update={"root": "models:/m/1", "direction": "down"})
    below = to_text(down, safe).splitlines()
    assert sum("child: models:/m/" in ln for ln in below) == 999
