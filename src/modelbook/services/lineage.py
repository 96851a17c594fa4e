"""Lineage and impact: walks of the lineage graph over the store.

``lineage`` starts at one version and follows parent links up (what it was
made from: each version's code, data, features, run, experiment and
environment, and its parents with theirs) and down (the versions that name
it as a parent, and theirs). ``impact`` starts at a dataset, commit, feature
set, run, experiment or version and lists every version that depends on it:
those whose own lineage names it, and every version descended from one of
those through parent links. The pure rules (node ids, references, the graph
values) are in :mod:`modelbook.lineage` and :mod:`modelbook.impact`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Connection

from .. import uris
from ..domain import Version
from ..impact import Dependent, Impact, Ref, parse_ref, row_kind
from ..lineage import (
    Direction,
    GraphBuilder,
    LineageGraph,
    check_walk,
    parent_ref,
    parents_of,
    version_id,
)
from ..lineage_urls import shown_url
from ..store import lineage as lineage_rows
from .base import Context, version_row
from .governance import GovernanceService

SUGGESTION_POOL = 20_000
"""How many stored values of a kind a mistyped reference is compared with."""


class LineageService:
    def __init__(self, ctx: Context, governance: GovernanceService) -> None:
        self.ctx = ctx
        self.gov = governance

    def _version(self, row: Any) -> Version:
        return self.ctx.cache.version(row.model_name, row)

    # lineage ----------------------------------------------------------------------

    def lineage(
        self, uri: str, *, direction: str = "both", depth: int | None = None
    ) -> LineageGraph:
        """The lineage graph around the version ``uri`` names.

        ``direction``: ``up`` (inputs and ancestors), ``down`` (descendants) or
        ``both``; ``depth``: how many parent links to follow each way, at
        least 1 (None: all). Raises InvalidInput (bad URI, direction or
        depth), NotFound (the version), IntegrityError (a version in the
        walk cannot be read).
        """
        way, limit = check_walk(direction, depth)
        ref = uris.parse(uri)
        return self.ctx.db.reading(lambda conn: self._walk(conn, ref, way, limit))

    def _walk(
        self, conn: Connection, ref: uris.ModelRef, direction: Direction, depth: int | None
    ) -> LineageGraph:
        root_row = version_row(conn, ref)
        root = self.ctx.cache.version(ref.name, root_row)
        serving = self.gov.policy(conn).serving_aliases
        graph = GraphBuilder()
        root_id = graph.add_version(root, serving)
        truncated = False
        if direction in ("both", "up"):
            graph.add_inputs(root)
            truncated |= self._up(conn, graph, root, serving, depth)
        if direction in ("both", "down"):
            truncated |= self._down(conn, graph, root, serving, depth)
        return graph.graph(root_id, direction, depth, truncated)

    def _up(
        self,
        conn: Connection,
        graph: GraphBuilder,
        root: Version,
        serving: Iterable[str],
        depth: int | None,
    ) -> bool:
        """Add ancestors generation by generation; True when parents remain past ``depth``."""
        frontier = [root]
        done = {version_id(root.model, root.number)}
        generation = 0
        while frontier:
            links = [(v, p) for v in frontier for p in parents_of(v)]
            if not links:
                return False
            if depth is not None and generation == depth:
                return True
            generation += 1
            wanted = sorted({p for _, p in links})
            found = {(r.model_name, r.number): r for r in lineage_rows.by_number(conn, wanted)}
            frontier = []
            for child, (name, number) in links:
                row = found.get((name, number))
                if row is None:
                    # Registration checks that parents exist; a missing one was
                    # removed by hand, and is shown as the bare reference.
                    continue
                parent = self._version(row)
                pid = graph.add_version(parent, serving)
                graph.add_parent(pid, version_id(child.model, child.number))
                if pid not in done:
                    done.add(pid)
                    graph.add_inputs(parent)
                    frontier.append(parent)
        return False

    def _down(
        self,
        conn: Connection,
        graph: GraphBuilder,
        root: Version,
        serving: Iterable[str],
        depth: int | None,
    ) -> bool:
        """Add descendants generation by generation; True when children remain past ``depth``."""
        frontier = [(root.model, root.number)]
        done = {version_id(root.model, root.number)}
        generation = 0
        while frontier:
            rows = lineage_rows.children(conn, [parent_ref(n, v) for n, v in frontier])
            if not rows:
                return False
            if depth is not None and generation == depth:
                return True
            generation += 1
            frontier = []
            for row in rows:
                child = self._version(row)
                cid = graph.add_version(child, serving)
                name, _, number = str(row.parent).rpartition("/")
                graph.add_parent(version_id(name, int(number)), cid)
                if cid not in done:
                    done.add(cid)
                    frontier.append((child.model, child.number))
        return False

    # impact -----------------------------------------------------------------------

    def impact(self, ref: str) -> Impact:
        """Every version that depends on ``ref`` (see :func:`modelbook.impact.parse_ref`).

        A version depends on it when its own lineage names it (``direct``), or
        when one of its parents depends on it, through any number of parent
        links (``parent``, ``origin`` and ``hops`` say how). A reference that
        nothing in the registry names comes back ``known=False`` with close
        stored values in ``suggestions``. Each is marked ``deployed`` when a
        serving alias of the policy in force points at it. For a version
        reference (``models:/NAME/N``), every version descended from it.
        Raises InvalidInput (an unknown kind lists the valid ones), NotFound
        (a version reference that names no version).
        """
        parsed = parse_ref(ref)
        found = self.ctx.db.reading(lambda conn: self._impact(conn, parsed))
        return found.with_resolver(self.version_uri)

    def version_uri(self, uri: str) -> str:
        """``models:/NAME/N`` of the version ``uri`` names (number, semver, alias or
        latest), as :meth:`lineage` resolves it. Raises InvalidInput, NotFound."""
        target = uris.parse(uri)

        def read(conn: Connection) -> str:
            return version_id(target.name, int(version_row(conn, target).number))

        return self.ctx.db.reading(read)

    def _impact(self, conn: Connection, ref: Ref) -> Impact:
        serving = set(self.gov.policy(conn).serving_aliases)
        exclude: set[tuple[str, int]] = set()
        if ref.kind == "models":
            target = uris.parse(ref.value)
            root = version_row(conn, target)
            key = (target.name, int(root.number))
            # Named by alias or semver, the root is shown by number.
            shown = version_id(*key)
            exclude.add(key)
            # A version is not its own dependent, even when a hand-edited
            # database makes it its own parent.
            direct = [
                r
                for r in lineage_rows.children(conn, [parent_ref(*key)])
                if (r.model_name, int(r.number)) != key
            ]
        else:
            shown = str(ref)
            direct = lineage_rows.matching(
                conn, row_kind(ref), ref.key, ref.value, prefix=ref.prefix, fold=ref.fold
            )
            if not direct:
                close = self._close(conn, ref)
                return Impact(ref=shown, kind=ref.kind, known=False, suggestions=close, versions=())
        found = {(r.model_name, int(r.number)): _dependent(r, serving) for r in direct}
        # Each version keeps its parent and the start of its chain, not the
        # chain itself: a chain of n versions costs n, not n squared.
        origins: dict[tuple[str, int], tuple[str, int, int]] = {k: (k[0], k[1], 0) for k in found}
        frontier = sorted(found)
        while frontier:
            rows = lineage_rows.children(conn, [parent_ref(n, v) for n, v in frontier])
            frontier = []
            for row in sorted(rows, key=lambda r: (r.model_name, r.number, r.parent)):
                key = (row.model_name, int(row.number))
                if key in found or key in exclude:
                    continue
                name, _, number = str(row.parent).rpartition("/")
                parent = (name, int(number))
                origin_name, origin_number, hops = origins[parent]
                origins[key] = (origin_name, origin_number, hops + 1)
                found[key] = _dependent(
                    row,
                    serving,
                    parent=version_id(*parent),
                    origin=version_id(origin_name, origin_number),
                    hops=hops + 1,
                )
                frontier.append(key)
        versions = tuple(found[k] for k in sorted(found))
        return Impact(ref=shown, kind=ref.kind, versions=versions)

    @staticmethod
    def _close(conn: Connection, ref: Ref) -> tuple[str, ...]:
        """Stored values of the reference's kind close to it, as references, best first."""
        stored = lineage_rows.values(conn, row_kind(ref), ref.key, SUGGESTION_POOL)
        close = close_values(ref.value, stored, ref.prefix)
        return tuple(f"{ref.kind}:{shown_url(v)}" for v in close)


SUGGESTIONS = 3
"""At most this many stored values are suggested for a reference nothing names."""


def close_values(value: str, stored: Iterable[str], prefix: bool = False) -> list[str]:
    """The stored values a mistyped ``value`` most likely meant, best first, at most
    :data:`SUGGESTIONS`: those equal to it but for case, else those within a few edits
    (a fifth of its length, at least one). ``prefix``: ``value`` is a commit's first
    characters, compared with as many of each stored one."""
    import difflib

    wanted = value.casefold()
    candidates = {v.casefold()[: len(value)] if prefix else v.casefold(): v for v in stored}
    same = [v for k, v in candidates.items() if k == wanted]
    if same:
        return sorted(same)[:SUGGESTIONS]
    most = max(1, len(value) // 5)
    # difflib's quick filters first: within `most` edits the ratio is above 0.6.
    rough = difflib.get_close_matches(wanted, list(candidates), n=50, cutoff=0.6)
    ranked = sorted((d, candidates[k]) for k in rough if (d := _edits(wanted, k, most)) <= most)
    return [v for _, v in ranked[:SUGGESTIONS]]


def _edits(a: str, b: str, most: int) -> int:
    """The Levenshtein distance of ``a`` and ``b``, or ``most + 1`` once it exceeds
    ``most``."""
    if abs(len(a) - len(b)) > most:
        return most + 1
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
        if min(row) > most:
            return most + 1
    return row[-1]


def _dependent(
    row: Any,
    serving: set[str],
    *,
    parent: str | None = None,
    origin: str | None = None,
    hops: int = 0,
) -> Dependent:
    """A dependent from its row's own columns: its stored record is not read, so a
    version whose record is damaged is still listed."""
    aliases = tuple(sorted(row.aliases.split(","))) if row.aliases else ()
    return Dependent(
        uri=version_id(row.model_name, int(row.number)),
        model=row.model_name,
        number=int(row.number),
        semver=row.semver,
        stage=row.stage,
        aliases=aliases,
        serving_aliases=tuple(a for a in aliases if a in serving),
        deployed=any(a in serving for a in aliases),
        direct=parent is None,
        parent=parent,
        origin=origin,
        hops=hops,
    )
