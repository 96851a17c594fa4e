"""Searching with the query language: versions of any model, one model's versions,
and models, page by page (see docs/search.md)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from .. import paging, validation
from ..domain import Model, Page, Stage, Version
from ..errors import InvalidInput
from ..provenance import GIT_OID
from ..query import And, Compare, Field, Node, Order, Scope, cursor, parse, parse_order
from ..query.parser import DEFAULT_STAGES
from ..query.tree import Everything, Member, Not, Or, conjuncts, fields_of
from ..store import aliases as alias_rows
from ..store import metric_variants, version_records
from ..store import models as model_rows
from ..store import query_pages as query_rows
from .base import Context, model_row, readable

SEARCH_OPS = ("=", "!=", "<", "<=", ">", ">=")
# What a search returns of each version: the whole Version, or its VersionSummary.
SEARCH_FIELDS = ("full", "summary")


class SearchService:
    """``stages`` reads, in a transaction, the stages of the policy in force: a query may
    compare ``stage`` with those only (None: the default stages)."""

    def __init__(
        self,
        ctx: Context,
        stages: Callable[[Any], tuple[str, ...]] | None = None,
    ) -> None:
        self.ctx = ctx
        self.stages = stages

    def _stages(self) -> tuple[str, ...] | None:
        if self.stages is None:
            return None
        read = self.stages
        return self.ctx.db.reading(lambda conn: tuple(read(conn)))

    def parse(self, text: str, scope: Scope = "version") -> Node:
        """``text`` parsed; ``stage`` checked against the policy's stages, read only when
        the query may name the field."""
        stages = self._stages() if isinstance(text, str) and "stage" in text else None
        return parse(text, scope, stages)

    def run(
        self,
        node: Node,
        *,
        order: Order | None,
        limit: int,
        page_token: str | None,
        scope: str,
        summary: bool = False,
    ) -> Page[Any]:
        """One page of the versions ``node`` matches, in ``order`` (default newest
        first); ``scope`` names the listing its tokens belong to. ``summary``: the
        page holds :class:`VersionSummary` items, read without the stored records."""
        paging.limit(limit)
        after = None if page_token is None else cursor.decode(page_token, scope, order)
        consulted = _aliases_read(node) if after is None else None

        def read(conn: Any) -> tuple[list[Any], list[str]]:
            rows = query_rows.versions(
                conn, node, order=order, after=after, limit=limit + 1, summary=summary
            )
            if consulted is None:
                return rows, []
            return rows, alias_rows.damaged(conn, *consulted)

        rows, damaged = self.ctx.db.reading(read)
        token = None
        if len(rows) > limit:
            last = rows[limit - 1]
            value = getattr(last, "sort_value", None) if order is not None else None
            token = cursor.encode(scope, value, int(last.id))
        pairs = [(r.model_name, r) for r in rows[:limit]]
        parse = version_records.summary_from_row if summary else self.ctx.cache.version
        items, unreadable = readable(lambda pair: parse(*pair), pairs)
        return Page(items=items, next_page_token=token, unreadable=(*damaged, *unreadable))

    def search(
        self,
        query: str,
        *,
        order_by: str | None = None,
        limit: int = 100,
        page_token: str | None = None,
        fields: str = "full",
    ) -> Page[Any]:
        """Versions of every model that ``query`` matches (see Registry.search)."""
        if fields not in SEARCH_FIELDS:
            raise InvalidInput(
                f"invalid fields {fields!r}: use one of {', '.join(map(repr, SEARCH_FIELDS))}"
            )
        node = self.parse(query)
        order = None if order_by is None else parse_order(order_by)
        scope = cursor.scope_of("search", query, order_by or "")
        return self.run(
            node,
            order=order,
            limit=limit,
            page_token=page_token,
            scope=scope,
            summary=fields == "summary",
        )

    def hints(self, query: str, *, limit: int = 5) -> tuple[str, ...]:
        """Why ``query`` may have found nothing: :meth:`metric_hints`, then a line for
        each commit it asks for by an abbreviated id (stored commits are full ids)."""
        node = self.parse(query)
        return (*self.metric_hints(node, limit=limit), *_commit_hints(node))

    def metric_hints(self, node: Node, *, limit: int = 5) -> tuple[str, ...]:
        """For each metric ``node`` names that no version has while metrics of the same
        name are registered under another split or slice (``auc`` when only
        ``auc@test`` was registered), one line naming up to ``limit`` of those. Meant
        for a search that found nothing: a few index seeks per metric, no scan."""
        fields = [f for f in fields_of(node) if f.name == "metrics" and f.key]
        wanted = list(dict.fromkeys((str(f.key), f.split, f.slice) for f in fields))
        if not wanted:
            return ()
        found = self.ctx.db.reading(
            lambda conn: [metric_variants.metric_variants(conn, *w, limit) for w in wanted]
        )
        hints = []
        for (name, split, slice_), variants in zip(wanted, found, strict=True):
            if variants:
                keys = ", ".join(repr(_metric_text(name, s, sl)) for s, sl in variants)
                hints.append(
                    f"no version has a metric {_metric_text(name, split, slice_)!r}; "
                    f"registered metric names include {keys}"
                )
        return tuple(hints)

    def versions(
        self,
        name: str,
        where: str,
        *,
        limit: int = 100,
        page_token: str | None = None,
        newest_first: bool = True,
    ) -> Page[Version]:
        """Versions of model ``name`` that ``where`` matches, by number."""
        validation.model_name(name)
        node = self.parse(where)
        self.ctx.db.reading(lambda conn: model_row(conn, name))
        pinned = And((Compare(Field("name"), "=", name), node))
        order = None if newest_first else Order(Field("number"), descending=False)
        scope = cursor.scope_of(f"versions:{name}", where, "desc" if newest_first else "asc")
        return self.run(pinned, order=order, limit=limit, page_token=page_token, scope=scope)

    def models(self, where: str, *, limit: int = 100, page_token: str | None = None) -> Page[Model]:
        """Models that ``where`` (over model fields) matches, newest first."""
        node = self.parse(where, "model")
        paging.limit(limit)
        scope = cursor.scope_of("models", where)
        before = None if page_token is None else cursor.decode(page_token, scope)[1]

        def read(conn: Any) -> list[Any]:
            return query_rows.models(conn, node, before_id=before, limit=limit + 1)

        rows = self.ctx.db.reading(read)
        token = cursor.encode(scope, None, int(rows[limit - 1].id)) if len(rows) > limit else None
        items, unreadable = readable(model_rows.model_from_row, rows[:limit])
        return Page(items=items, next_page_token=token, unreadable=unreadable)

    def keywords(
        self,
        *,
        model: str | None = None,
        tags: Mapping[str, object] | None = None,
        metrics: Sequence[tuple[str, str, float]] = (),
        stage: Stage | str | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Version]:
        """Versions matching all filters, newest first.

        ``tags`` match exactly; each metric filter is ``(key, op, value)`` with
        a metric key as registered (``auc``, ``auc@test{region=eu}``) and op one
        of ``> >= < <= = !=``. The filters become one query of the query
        language (``name = ... and tags.K = ... and metrics.K op X and stage =
        ...``), compiled as every query is.
        """
        parts: list[Node] = []
        if model is not None:
            parts.append(Compare(Field("name"), "=", validation.model_name(model)))
        for key, value in validation.indexed_tags(tags).items():
            parts.append(Compare(Field("tags", key), "=", value))
        for item in metrics:
            if not isinstance(item, tuple | list) or len(item) != 3:
                raise InvalidInput(f"metric filter {item!r} must be (key, op, value)")
            key_text, op, raw = item
            if op not in SEARCH_OPS:
                raise InvalidInput(
                    f"invalid operator {op!r} in metric filter: use one of {' '.join(SEARCH_OPS)}"
                )
            m = validation.metric(key_text, raw)
            field = Field("metrics", m.name, m.split or "", m.slice_key)
            parts.append(Compare(field, op, m.value))  # type: ignore[arg-type]
        if stage is not None:
            name = validation.stage(stage)
            known = self._stages()
            if name not in (known or DEFAULT_STAGES):
                raise InvalidInput(
                    f"invalid stage {name!r}: the stages are {', '.join(known or DEFAULT_STAGES)}"
                )
            parts.append(Compare(Field("stage"), "=", name))
        paging.limit(limit)
        before = None if page_token is None else paging.decode(page_token, "search")
        node = And(tuple(parts))
        rows = self.ctx.db.reading(
            lambda conn: query_rows.versions(
                conn,
                node,
                order=None,
                after=None if before is None else (None, before),
                limit=limit + 1,
            )
        )
        token = paging.encode("search", rows[limit - 1].id) if len(rows) > limit else None
        pairs = [(r.model_name, r) for r in rows[:limit]]
        items, unreadable = readable(lambda pair: self.ctx.cache.version(*pair), pairs)
        return Page(items=items, next_page_token=token, unreadable=unreadable)


def _aliases_read(node: Node) -> tuple[frozenset[str] | None, str | None] | None:
    """The alias rows a query on ``alias`` reads, as (their names, None: every alias;
    their model, None: any), or None when it reads none. An alias row that disagrees
    with its version matches nothing (see store.query), and is named with the first
    page instead, as a damaged version row is: a search never skips it silently."""
    names: set[str] | None = set()
    found = False
    for item in _predicates(node):
        if item.field.name != "alias":
            continue
        found = True
        if isinstance(item, Compare) and item.op in ("=", "!=") and names is not None:
            names.add(str(item.value))
        elif isinstance(item, Member) and names is not None:
            names.update(str(v) for v in item.values)
        else:
            names = None
    if not found:
        return None
    model = next(
        (
            str(c.value)
            for c in conjuncts(node)
            if isinstance(c, Compare) and c.field.name == "name" and c.op == "="
        ),
        None,
    )
    return (None if names is None else frozenset(names)), model


def _predicates(node: Node) -> Iterator[Any]:
    if isinstance(node, And | Or):
        for item in node.items:
            yield from _predicates(item)
    elif isinstance(node, Not):
        yield from _predicates(node.item)
    elif not isinstance(node, Everything):
        yield node


# An abbreviated git commit id, as `git log --oneline` prints it.
_SHORT_COMMIT = re.compile(r"[0-9a-fA-F]{4,39}")


def _commit_hints(node: Node) -> tuple[str, ...]:
    """A line for each ``code.commit = X`` (or ``in``) whose X is an abbreviated id or
    a full one in upper case: a commit is registered as its full id in lower case
    (provenance.git_commit), so X finds nothing."""
    short: list[str] = []
    upper: list[str] = []
    for item in _predicates(node):
        if item.field.name != "code.commit" or getattr(item, "negated", False):
            continue
        if isinstance(item, Compare) and item.op == "=":
            values: tuple[Any, ...] = (item.value,)
        elif isinstance(item, Member):
            values = item.values
        else:
            continue
        short += [str(v) for v in values if _SHORT_COMMIT.fullmatch(str(v))]
        upper += [str(v) for v in values if GIT_OID.fullmatch(str(v)) and str(v) != v.lower()]
    # Stored ids are lower case: '4F2A9C1' and '4f2a9c1' are one prefix.
    first: dict[str, str] = {}
    for c in short:
        first.setdefault(c.lower(), c)
    return tuple(
        f"commits are registered as full ids (40 or 64 hex digits): {c!r} is abbreviated; "
        f"match it as a prefix with code.commit like '{low}%'"
        for low, c in first.items()
    ) + tuple(
        f"commits are registered in lower case, as git prints them: code.commit = '{c.lower()}'"
        for c in dict.fromkeys(upper)
    )


def _metric_text(name: str, split: str, slice_: str) -> str:
    """A metric as registered and queried: ``auc``, ``auc@test``, ``auc@test{region=eu}``."""
    return Field("metrics", name, split, slice_).text.removeprefix("metrics.")
