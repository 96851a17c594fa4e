"""The search operations of :class:`~modelbook.Registry`: versions and models filtered
by the query language (docs/search.md).

A mixin of the facade, kept apart so that each file stays readable; every
method delegates to :class:`~modelbook.services.search.SearchService`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal, overload

from .domain import Model, Page, Stage, Version, VersionSummary
from .lazy import lazy

if TYPE_CHECKING:
    from .services.base import Context
    from .services.governance import GovernanceService
    from .services.search import SearchService


class SearchOperations:
    """Search methods of the registry facade (which sets ``ctx``)."""

    ctx: Context

    @property
    def _gov(self) -> GovernanceService:
        raise NotImplementedError

    @lazy
    def _search(self) -> SearchService:
        from .services.search import SearchService

        gov = self._gov
        return SearchService(self.ctx, lambda conn: gov.policy(conn).graph.stages)

    @overload
    def search(
        self,
        query: str,
        *,
        order_by: str | None = ...,
        limit: int = ...,
        page_token: str | None = ...,
        fields: Literal["full"] = ...,
    ) -> Page[Version]: ...

    @overload
    def search(
        self,
        query: str,
        *,
        order_by: str | None = ...,
        limit: int = ...,
        page_token: str | None = ...,
        fields: Literal["summary"],
    ) -> Page[VersionSummary]: ...

    def search(
        self,
        query: str,
        *,
        order_by: str | None = None,
        limit: int = 100,
        page_token: str | None = None,
        fields: Literal["full", "summary"] = "full",
    ) -> Page[Version] | Page[VersionSummary]:
        """Versions of every model that ``query`` matches, newest registration first.

        ``query``: text of the query language, e.g. ``"metrics.auc >= 0.85 and
        tags.region = 'eu' and stage = 'approved'"`` (blank: every version).
        ``order_by``: ``FIELD [asc|desc]`` on ``number``, ``created_at`` or a
        metric (``metrics.auc desc``); versions without the metric come last,
        ties by registration in the same direction. ``limit``: 1 to 1000 per
        page; ``page_token``: the ``next_page_token`` of the page before, for
        the same query and order (of either ``fields``). ``fields``: ``"full"``,
        each item a whole :class:`Version`; ``"summary"``, a
        :class:`VersionSummary` (name, number, semver, stage, tags, aliases,
        created, deprecation), read without the versions' stored records, for a
        listing that shows no more: several times cheaper for a version not read
        before in this process. Raises InvalidQuery (an InvalidInput) naming the
        column of a mistake and what was expected, InvalidInput for a bad limit,
        token or ``fields``.
        """
        return self._search.search(
            query, order_by=order_by, limit=limit, page_token=page_token, fields=fields
        )

    def search_hints(self, query: str) -> tuple[str, ...]:
        """Why ``query`` may have found nothing: for each metric it names that no
        version has while the same metric is registered under another split or
        slice (``auc`` when only ``auc@test`` was), one sentence naming up to five
        of those keys; and for each commit asked for by an abbreviated id
        (``code.commit = '4f2a9c1'``; commits are registered as full ids), one
        sentence naming the ``like`` prefix that finds it. Empty when there is
        nothing to suggest. Costs a few index seeks per metric; meant for a search
        whose page came back empty. Raises InvalidQuery as :meth:`search` does.
        """
        return self._search.hints(query)

    def search_versions(
        self,
        *,
        model: str | None = None,
        tags: Mapping[str, object] | None = None,
        metrics: Sequence[tuple[str, str, float]] = (),
        stage: Stage | str | None = None,
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Version]:
        """Versions matching all filters, newest first (see SearchService.keywords)."""
        return self._search.keywords(
            model=model,
            tags=tags,
            metrics=metrics,
            stage=stage,
            limit=limit,
            page_token=page_token,
        )

    def _filtered_versions(
        self,
        name: str,
        where: str,
        *,
        limit: int,
        page_token: str | None,
        newest_first: bool,
    ) -> Page[Version]:
        return self._search.versions(
            name, where, limit=limit, page_token=page_token, newest_first=newest_first
        )

    def _filtered_models(self, where: str, *, limit: int, page_token: str | None) -> Page[Model]:
        return self._search.models(where, limit=limit, page_token=page_token)
