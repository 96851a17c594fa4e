"""Reading versions: by URI, by model page, and by search."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import paging, uris, validation
from ..domain import Page, Stage, Version
from ..errors import InvalidInput
from ..query import And, Compare, Field, Node
from ..store import query_pages as query_rows
from ..store import versions as version_rows
from .base import Context, model_row, readable, version_row

SEARCH_OPS = ("=", "!=", "<", "<=", ">", ">=")


class VersionService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def get(self, uri: str) -> Version:
        """The version a URI names (number, semver, alias or ``latest``)."""
        ref = uris.parse(uri)
        row = self.ctx.db.reading(lambda conn: version_row(conn, ref))
        return self.ctx.cache.version(ref.name, row)

    def _page(self, pairs: Sequence[tuple[str, Any]]) -> tuple[list[Version], tuple[str, ...]]:
        """Versions of rows; a row that cannot be read is named, not fatal to the rest."""
        return readable(lambda pair: self.ctx.cache.version(*pair), pairs)

    def page(
        self,
        name: str,
        *,
        limit: int = 100,
        page_token: str | None = None,
        newest_first: bool = True,
    ) -> Page[Version]:
        """Versions of one model, newest first by default."""
        validation.model_name(name)
        paging.limit(limit)
        scope = f"versions:{name}:{'desc' if newest_first else 'asc'}"
        after = None if page_token is None else paging.decode(page_token, scope)

        def read(conn: Any) -> list[Any]:
            model = model_row(conn, name)
            return version_rows.page(
                conn, model.id, after=after, limit=limit + 1, newest_first=newest_first
            )

        rows = self.ctx.db.reading(read)
        token = paging.encode(scope, rows[limit - 1].number) if len(rows) > limit else None
        items, unreadable = self._page([(name, r) for r in rows[:limit]])
        return Page(items=items, next_page_token=token, unreadable=unreadable)

    def search(
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
            parts.append(Compare(Field("stage"), "=", validation.stage(stage)))
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
        items, unreadable = self._page([(r.model_name, r) for r in rows[:limit]])
        return Page(items=items, next_page_token=token, unreadable=unreadable)
