"""The lineage graph and impact references, as pure values and rules.

A lineage graph has one node per thing a version was made from or made into,
each with a kind and an id that is also how it is named on the command line:

=============  ==============================  =========================================
kind           id                              comes from (frozen at registration)
=============  ==============================  =========================================
version        ``models:/NAME/N``              the version itself, its parents' refs
dataset        ``dataset:SNAPSHOT``            ``lineage.data[].snapshot`` (+ ``sha256``)
commit         ``commit:SHA``                  ``lineage.code.commit`` (+ ``repo``)
features       ``features:NAME@VERSION``       ``lineage.features``
run            ``run:ID``                      ``lineage.run_id``
experiment     ``experiment:ID``               ``lineage.experiment_id``
environment    ``environment:SHA256``          the lockfile's sha256, else the image
                                               digest, else the installed-package hash
=============  ==============================  =========================================

Every edge points from what was used to the version that used it, and its
``relation`` names the field of that version: ``source`` is the
``relation`` of ``target`` (a dataset is the ``data`` of a version, a version
the ``parent`` of another).

:class:`GraphBuilder` gathers nodes and edges without duplicates. The
references that :meth:`Registry.impact` takes are in :mod:`modelbook.impact`.
The service (:mod:`modelbook.services.lineage`) walks the store and feeds them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import Field

from . import limits, validation
from .domain import Frozen, FrozenDict, FrozenJSON, FrozenMap, Lineage, Version
from .errors import InvalidInput, shown
from .lineage_urls import shown_lineage

NodeKind = Literal["version", "dataset", "commit", "features", "run", "experiment", "environment"]
Relation = Literal["parent", "data", "code", "features", "run", "experiment", "environment"]
Direction = Literal["both", "up", "down"]
DIRECTIONS: tuple[str, ...] = ("both", "up", "down")


class Node(Frozen):
    """One thing in a lineage graph.

    ``attrs`` hold JSON values of the types :class:`~modelbook.impact.Dependent` uses
    for the same facts: a version's ``semver`` and ``stage`` are text, ``aliases`` a
    list of text and ``deployed`` a boolean; an environment's ``source`` is text.
    """

    id: str
    kind: NodeKind
    label: str
    attrs: FrozenJSON = Field(default_factory=FrozenDict)


class Edge(Frozen):
    """``source`` is the ``relation`` of ``target``; ``detail`` adds e.g. a dataset's role.

    ``attrs`` are what the target version recorded about the source: a dataset's
    ``sha256``, a commit's ``repo``. They sit on the edge, not the node, because
    two versions may record different values for one snapshot id or commit, and
    each value must stay with the version that recorded it.
    """

    source: str
    target: str
    relation: Relation
    detail: str | None = None
    attrs: FrozenMap[str, str] = Field(default_factory=FrozenDict)


class LineageGraph(Frozen):
    """The lineage around ``root`` (a version's ``models:/NAME/N``).

    ``depth`` is how many parent links were followed each way (None: all);
    ``truncated`` says a version at that limit has further parents (up) or
    children (down) not shown.
    """

    # The order of docs/lineage.md, which --format json follows.
    root: str
    direction: Direction
    depth: int | None
    truncated: bool = False
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def node(self, node_id: str) -> Node:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)


def index_rows(lin: Lineage) -> list[tuple[str, str, str]]:
    """The indexed (kind, key, value) rows of a version's lineage, as registration
    stores them: what :class:`modelbook.impact.Ref` matches and impact walks.
    InvalidInput for a value over ``limits.MAX_VALUE``."""
    rows: list[tuple[str, str, str]] = []
    if lin.code.repo:
        rows.append(("code", "repo", lin.code.repo))
    if lin.code.commit:
        rows.append(("code", "commit", lin.code.commit))
    for d in lin.data:
        rows.append(("data", "snapshot", d.snapshot))
        if d.sha256:
            rows.append(("data", "sha256", d.sha256))
    if lin.features:
        rows.append(("features", "name", lin.features.name))
        if lin.features.version:
            rows.append(("features", "ref", f"{lin.features.name}@{lin.features.version}"))
    if lin.run_id:
        rows.append(("run", "id", lin.run_id))
    if lin.experiment_id:
        rows.append(("experiment", "id", lin.experiment_id))
    for p in lin.parents:
        rows.append(("parent", "version", p))
    for _, key, value in rows:
        validation.text(value, f"lineage {key}", limits.MAX_VALUE)
    return rows


def parent_ref(name: str, number: int) -> str:
    """How a parent link is stored (``lineage.parents`` and the lineage rows)."""
    return f"{name}/{number}"


def version_id(name: str, number: int) -> str:
    return f"models:/{name}/{number}"


def parents_of(version: Version) -> list[tuple[str, int]]:
    """The (model, number) pairs of a version's parents, as registered (``NAME/N``)."""
    pairs = []
    for text in version.lineage.parents:
        name, _, number = text.rpartition("/")
        if name and number.isdigit():
            pairs.append((name, int(number)))
    return pairs


def version_node(version: Version, serving: Iterable[str]) -> Node:
    """A version's node: semver, stage, aliases and whether it is deployed."""
    serving_set = set(serving)
    aliases = sorted(version.aliases)
    live = [a for a in aliases if a in serving_set]
    attrs: dict[str, object] = {
        "semver": version.semver,
        "stage": str(version.stage),
        "aliases": aliases,
        "deployed": bool(live),
    }
    label = f"{version.model} v{version.number} ({version.semver})"
    return Node(
        id=version_id(version.model, version.number), kind="version", label=label, attrs=attrs
    )


def environment_key(version: Version) -> tuple[str, str] | None:
    """The hash that names a version's environment and where it comes from, or None.

    The lockfile's sha256 pins every package, so it names the environment
    when recorded; else the container image digest; else the hash of the
    installed packages (``environment.packages_sha256``).
    """
    env = version.environment
    if env.lockfile is not None:
        return env.lockfile.sha256, "lockfile"
    if env.image_digest:
        return env.image_digest, "image"
    if env.packages_sha256:
        return env.packages_sha256, "packages"
    return None


def _short(value: str) -> str:
    return value[:12] if len(value) > 12 else value


class GraphBuilder:
    """Nodes and edges gathered once each, in the order first seen."""

    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self._edges: dict[tuple[str, str, str, str | None], Edge] = {}

    def __contains__(self, node_id: str) -> bool:
        return node_id in self._nodes

    def add_node(self, node: Node) -> None:
        self._nodes.setdefault(node.id, node)

    def add_edge(self, edge: Edge) -> None:
        self._edges.setdefault((edge.source, edge.target, edge.relation, edge.detail), edge)

    def add_version(self, version: Version, serving: Iterable[str]) -> str:
        node = version_node(version, serving)
        self.add_node(node)
        return node.id

    def add_inputs(self, version: Version) -> None:
        """The nodes a version was made from (but its parents) and their edges to it."""
        target = version_id(version.model, version.number)
        # A repository or snapshot stored with a secret is shown without it.
        lin = shown_lineage(version.lineage)
        if lin.code.commit:
            recorded = {"repo": lin.code.repo} if lin.code.repo else {}
            label = f"commit {_short(lin.code.commit)}"
            self._input(target, "commit", lin.code.commit, label, "code", recorded=recorded)
        for data in lin.data:
            recorded = {"sha256": data.sha256} if data.sha256 else {}
            label = f"dataset {data.snapshot}"
            self._input(
                target, "dataset", data.snapshot, label, "data", recorded=recorded, detail=data.role
            )
        if lin.features is not None:
            ref = lin.features.name
            if lin.features.version:
                ref += f"@{lin.features.version}"
            self._input(target, "features", ref, f"features {ref}", "features")
        if lin.run_id:
            self._input(target, "run", lin.run_id, f"run {lin.run_id}", "run")
        if lin.experiment_id:
            label = f"experiment {lin.experiment_id}"
            self._input(target, "experiment", lin.experiment_id, label, "experiment")
        env = environment_key(version)
        if env is not None:
            digest, source = env
            label = f"environment {source} {_short(digest)}"
            self._input(target, "environment", digest, label, "environment", {"source": source})

    def _input(
        self,
        target: str,
        kind: NodeKind,
        value: str,
        label: str,
        relation: Relation,
        attrs: dict[str, str] | None = None,
        *,
        recorded: dict[str, str] | None = None,
        detail: str | None = None,
    ) -> None:
        """``attrs`` belong to the node (the same for every version that names it);
        ``recorded`` is what ``target`` alone recorded about it, kept on the edge."""
        node_id = f"{kind}:{value}"
        self.add_node(Node(id=node_id, kind=kind, label=label, attrs=attrs or {}))
        self.add_edge(
            Edge(
                source=node_id,
                target=target,
                relation=relation,
                detail=detail,
                attrs=recorded or {},
            )
        )

    def add_parent(self, parent: str, child: str) -> None:
        self.add_edge(Edge(source=parent, target=child, relation="parent"))

    def graph(
        self, root: str, direction: Direction, depth: int | None, truncated: bool
    ) -> LineageGraph:
        return LineageGraph(
            root=root,
            direction=direction,
            depth=depth,
            nodes=tuple(self._nodes.values()),
            edges=tuple(self._edges.values()),
            truncated=truncated,
        )


def check_walk(direction: object, depth: object) -> tuple[Direction, int | None]:
    """A valid direction and depth, or InvalidInput saying what is allowed."""
    if direction not in DIRECTIONS:
        raise InvalidInput(f"direction {direction!r}: use one of {', '.join(DIRECTIONS)}")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise InvalidInput(
            f"depth {shown(depth)}: give a whole number of at least 1 (or none: all)"
        )
    return direction, depth  # type: ignore[return-value]
