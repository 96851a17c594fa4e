"""Reading versions: by URI, by model page, and by search."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import paging, uris, validation
from ..domain import Page, Stage, Version
from ..errors import InvalidInput
from ..store import search as search_rows
from ..store import versions as version_rows
from .base import Context, model_row, readable, version_row


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
        of ``> >= < <= = !=``.
        """
        if model is not None:
            validation.model_name(model)
        tag_map = validation.indexed_tags(tags)
        metric_filters = []
        for item in metrics:
            if not isinstance(item, tuple | list) or len(item) != 3:
                raise InvalidInput(f"metric filter {item!r} must be (key, op, value)")
            key_text, op, raw = item
            if op not in search_rows.SEARCH_OPS:
                raise InvalidInput(
                    f"invalid operator {op!r} in metric filter: use one of "
                    f"{' '.join(search_rows.SEARCH_OPS)}"
                )
            m = validation.metric(key_text, raw)
            metric_filters.append((m.name, m.split or "", m.slice_key, op, m.value))
        stage_value = None if stage is None else validation.stage(stage)
        paging.limit(limit)
        before = None if page_token is None else paging.decode(page_token, "search")
        rows = self.ctx.db.reading(
            lambda conn: search_rows.search(
                conn,
                model=model,
                tags=tag_map,
                metrics=metric_filters,
                stage=stage_value,
                before_id=before,
                limit=limit + 1,
            )
        )
        token = paging.encode("search", rows[limit - 1].id) if len(rows) > limit else None
        items, unreadable = self._page([(r.model_name, r) for r in rows[:limit]])
        return Page(items=items, next_page_token=token, unreadable=unreadable)
