"""Reading versions: by URI and by model page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import paging, uris, validation
from ..domain import Page, Version
from ..limits import MAX_NUMBER
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
        after = None if page_token is None else paging.decode(page_token, scope, MAX_NUMBER)

        def read(conn: Any) -> list[Any]:
            model = model_row(conn, name)
            return version_rows.page(
                conn, model.id, after=after, limit=limit + 1, newest_first=newest_first
            )

        rows = self.ctx.db.reading(read)
        token = paging.encode(scope, rows[limit - 1].number) if len(rows) > limit else None
        items, unreadable = self._page([(name, r) for r in rows[:limit]])
        return Page(items=items, next_page_token=token, unreadable=unreadable)
