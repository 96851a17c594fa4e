"""A lineage graph as a text tree, a Mermaid flowchart or a Graphviz DOT digraph.

Pure functions over :class:`~modelbook.lineage.LineageGraph`. Node ids in
Mermaid and DOT are generated (``n0``, ``n1`` ...), never user text; every
label is escaped character by character, so quotes, backslashes, ``<>``,
newlines, control and bidirectional characters in a snapshot id or a
repository can neither end a label nor reach the terminal raw. In Mermaid
anything but ASCII letters, digits, space and ``._-/:@=,+()[]`` becomes a
reference (``#34;``); in DOT, other ASCII becomes a reference (``&#34;``), a
backslash is doubled, printable characters beyond ASCII are kept as written
and characters that are not printable are shown as ``\\x1b``, ``\\u202e``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from .display import escape, hidden
from .lineage import Edge, LineageGraph, Node

_PLAIN = re.compile(r"[A-Za-z0-9 ._\-/:@=,+()\[\]]")
# The order a version's inputs are listed in, by relation.
#: Tree levels indented in the text tree; deeper lines keep that indent and
#: say their depth (``[depth 40]``).
MAX_INDENT = 32
_ORDER = ("code", "data", "features", "run", "experiment", "environment", "parent")


def _same(text: str) -> str:
    return text


def mermaid_text(text: str) -> str:
    """``text`` safe inside a quoted Mermaid label (``#34;`` for ``"`` ...)."""
    return "".join(ch if _PLAIN.fullmatch(ch) else f"#{ord(ch)};" for ch in text)


def dot_text(text: str) -> str:
    """``text`` safe inside a quoted DOT string (``&#34;`` for ``"`` ...).

    Printable characters beyond ASCII (``é``, ``☃``, an emoji) are written as
    they are: Graphviz 2.43 turns a reference to a character outside the Basic
    Multilingual Plane into invalid UTF-8 in its SVG. ASCII punctuation that
    DOT or an HTML-like label reads is written as a reference; a character that
    is not printable (a control or bidirectional character) is written as
    visible text, ``\\u202e``. A backslash is written ``\\\\``: Graphviz reads
    character references before a label's backslash escapes, so ``&#92;n``
    would still break the line.
    """
    return "".join(_dot_char(ch) for ch in text)


def _dot_char(ch: str) -> str:
    if _PLAIN.fullmatch(ch) or (ord(ch) > 127 and ch.isprintable()):
        return ch
    if ch == "\\":
        return "\\\\"
    if ch.isprintable() or not hidden(ch):
        return f"&#{ord(ch)};"
    # The escape the text tree writes, its backslash doubled for DOT.
    return escape(ch).replace("\\", "\\\\")


def _caption(node: Node) -> str:
    """What a node is called in a diagram: its label, and a version's stage and aliases."""
    if node.kind != "version":
        return node.label
    extra = [str(node.attrs.get("stage", ""))]
    aliases = node.attrs.get("aliases") or ()
    if aliases:
        extra.append(" ".join(f"@{a}" for a in aliases))
    return f"{node.label} [{', '.join(e for e in extra if e)}]"


def _edge_caption(edge: Edge, short: bool = True) -> str:
    """The relation, its detail (a dataset's role) and what the target version
    recorded about the source (``sha256``, ``repo``; a hash cut to 12 characters
    in diagrams, where the full value is one ``--format json`` away)."""
    text = f"{edge.relation} ({edge.detail})" if edge.detail else edge.relation
    for key, value in sorted(edge.attrs.items()):
        shown = value[:12] if short and key == "sha256" and len(value) > 12 else value
        text += f" {key}={shown}"
    return text


def _ids(graph: LineageGraph) -> dict[str, str]:
    return {node.id: f"n{i}" for i, node in enumerate(graph.nodes)}


_MERMAID_SHAPES = {"version": ('["', '"]'), "dataset": ('[("', '")]'), "commit": ('{{"', '"}}')}


def to_mermaid(graph: LineageGraph, escape: Callable[[str], str] = _same) -> str:
    """A Mermaid ``flowchart LR``: inputs on the left, what was made from them on the right.

    The root version has class ``root``, deployed versions class ``deployed``.
    ``escape`` first makes each label's text visible (the CLI's ``safe`` shows a
    newline or an escape character as ``\\n``, ``\\x1b``).
    """
    ids = _ids(graph)
    lines = ["flowchart LR"]
    for node in graph.nodes:
        left, right = _MERMAID_SHAPES.get(node.kind, ('("', '")'))
        lines.append(f"  {ids[node.id]}{left}{mermaid_text(escape(_caption(node)))}{right}")
    for edge in graph.edges:
        label = mermaid_text(escape(_edge_caption(edge)))
        lines.append(f'  {ids[edge.source]} -->|"{label}"| {ids[edge.target]}')
    lines.append("  classDef root stroke-width:3px")
    lines.append("  classDef deployed fill:#d4f7d4")
    lines.append(f"  class {ids[graph.root]} root")
    deployed = [ids[n.id] for n in graph.nodes if n.attrs.get("deployed") is True]
    if deployed:
        lines.append(f"  class {','.join(deployed)} deployed")
    if graph.truncated:
        # A note of its own (ids of nodes are n0, n1 ...): the drawing is not all there is.
        lines.append(f'  cut>"{mermaid_text(_cut_note(graph))}"]')
        lines.append("  classDef cut stroke-dasharray:4 4")
        lines.append("  class cut cut")
    return "\n".join(lines) + "\n"


def _cut_note(graph: LineageGraph) -> str:
    return f"more beyond depth {graph.depth}: raise --depth to see them"


_DOT_SHAPES = {"version": "box", "dataset": "cylinder", "commit": "hexagon"}


def to_dot(graph: LineageGraph, escape: Callable[[str], str] = _same) -> str:
    """A Graphviz ``digraph`` (left to right); the root is bold, deployed versions
    filled. ``escape`` as for :func:`to_mermaid`."""
    ids = _ids(graph)
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for node in graph.nodes:
        attrs = [
            f'label="{dot_text(escape(_caption(node)))}"',
            f"shape={_DOT_SHAPES.get(node.kind, 'ellipse')}",
        ]
        if node.id == graph.root:
            attrs.append("penwidth=3")
        if node.attrs.get("deployed") is True:
            attrs.append('style=filled, fillcolor="#d4f7d4"')
        lines.append(f"  {ids[node.id]} [{', '.join(attrs)}];")
    for edge in graph.edges:
        label = dot_text(escape(_edge_caption(edge)))
        lines.append(f'  {ids[edge.source]} -> {ids[edge.target]} [label="{label}"];')
    if graph.truncated:
        lines.append(f'  cut [label="{dot_text(_cut_note(graph))}", shape=note, style=dashed];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_text(graph: LineageGraph, escape: Callable[[str], str]) -> str:
    """A tree: the root, what it was made from (inputs and parents, recursively), and
    the versions made from it. A version reached twice is expanded once. Lines
    deeper than :data:`MAX_INDENT` levels keep that indent and begin
    ``[depth N]``.

    ``escape`` makes user text safe for the terminal (the CLI's ``safe``).
    """
    nodes = {n.id: n for n in graph.nodes}
    ups: dict[str, list[Edge]] = {}
    downs: dict[str, list[Edge]] = {}
    for edge in graph.edges:
        ups.setdefault(edge.target, []).append(edge)
        if edge.relation == "parent":
            downs.setdefault(edge.source, []).append(edge)
    for edges in ups.values():
        edges.sort(key=lambda e: (_ORDER.index(e.relation), e.source))
    for edges in downs.values():
        edges.sort(key=lambda e: e.target)

    def describe(node: Node) -> str:
        if node.kind == "version":
            return escape(f"{node.id}  {_caption(node)}")
        extra = "".join(f"  {k}={v}" for k, v in sorted(node.attrs.items()))
        return escape(f"{node.id}{extra}")

    out = [describe(nodes[graph.root])]
    seen = {graph.root}

    def walk(up: bool) -> Iterator[str]:
        # An explicit stack, not recursion: a chain of thousands of parents is
        # as deep as the tree gets. Each frame: the edges left to show at one
        # level, that level's prefix, and its depth (1: the root's inputs).
        def level(node_id: str) -> list[Edge]:
            return list(ups.get(node_id, []) if up else downs.get(node_id, []))

        stack: list[tuple[list[Edge], str, int]] = [(level(graph.root), "", 1)]
        while stack:
            edges, prefix, depth = stack[-1]
            if not edges:
                stack.pop()
                continue
            edge = edges.pop(0)
            last = not edges
            other = edge.source if up else edge.target
            node = nodes[other]
            name = escape(_edge_caption(edge, short=False)) if up else "child"
            repeat = node.kind == "version" and other in seen
            tail = "  (shown above)" if repeat else ""
            mark = f"[depth {depth}] " if depth > MAX_INDENT else ""
            branch = "└── " if last else "├── "
            yield f"{prefix}{branch}{mark}{name}: {describe(node)}{tail}"
            if node.kind == "version" and not repeat:
                seen.add(other)
                # Past MAX_INDENT levels the indent stops growing (the line
                # names its depth instead), so output stays linear in depth.
                inner = prefix
                if depth < MAX_INDENT:
                    inner = prefix + ("    " if last else "│   ")
                stack.append((level(other), inner, depth + 1))

    if graph.direction in ("both", "up"):
        out.extend(walk(True))
    if graph.direction in ("both", "down") and downs.get(graph.root):
        out.append("made into:")
        out.extend(walk(False))
    elif graph.direction == "down":
        out.append("made into: no version names it as a parent")
    if graph.truncated:
        out.append(f"({_cut_note(graph)})")
    return "\n".join(out) + "\n"
