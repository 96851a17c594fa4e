"""The lineage operations of :class:`~modelbook.Registry`: the lineage graph of a
version, the impact of a dataset, commit, feature set, run, experiment or version,
and a version's bill of materials.

A mixin of the facade, kept apart so that each file stays readable; every
method only reads and delegates to a service. See docs/lineage.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy

if TYPE_CHECKING:
    from .impact import Impact
    from .lineage import LineageGraph
    from .services.base import Context
    from .services.bom import BomService
    from .services.governance import GovernanceService
    from .services.lineage import LineageService


class LineageOperations:
    """Lineage methods of the registry facade (which sets ``ctx`` and ``_gov``)."""

    ctx: Context

    @property
    def _gov(self) -> GovernanceService:
        raise NotImplementedError

    @lazy
    def _lineage(self) -> LineageService:
        from .services.lineage import LineageService

        return LineageService(self.ctx, self._gov)

    @lazy
    def _bom(self) -> BomService:
        from .services.bom import BomService

        return BomService(self.ctx)

    def lineage(
        self, uri: str, *, direction: str = "both", depth: int | None = None
    ) -> LineageGraph:
        """The lineage graph around one version (``models:/NAME/N``, semver or alias).

        ``direction``: ``"up"`` follows what the version was made from (its
        code commit, datasets, feature set, run, experiment, environment, and
        its parent versions with theirs); ``"down"`` the versions that name it
        as a parent, and theirs; ``"both"`` (default) does both. ``depth``
        (at least 1; None: all) is how many parent links are followed each
        way. Nodes have a ``kind``, an ``id`` (what :meth:`impact` takes) and
        a ``label``; each edge says its source is the ``relation`` of its
        target. Raises InvalidInput, NotFound, IntegrityError.
        """
        return self._lineage.lineage(uri, direction=direction, depth=depth)

    def impact(self, ref: str) -> Impact:
        """Every version that depends on ``ref``, marked deployed or not.

        ``ref``: ``dataset:SNAPSHOT``, ``commit:SHA`` (7 characters or more:
        a prefix), ``features:NAME@VERSION`` (``features:NAME``: any version of
        the set), ``run:ID``, ``experiment:ID`` or a version URI. A version
        depends on it when its own lineage names it (``direct``) or when any
        of its ancestors through parent links does (``via`` is the chain). A
        version is ``deployed`` when a serving alias of the policy in force
        points at it. Raises InvalidInput (an unknown kind names the valid
        ones), NotFound (a version reference).
        """
        return self._lineage.impact(ref)

    def bom(self, uri: str, *, format: str = "cyclonedx") -> str:
        """The version as a CycloneDX 1.6 ML bill of materials: JSON text, checked
        against the CycloneDX schema (see docs/lineage.md, "Bill of materials").

        Raises InvalidInput (URI, format), NotFound, IntegrityError (nothing
        that fails the schema is returned).
        """
        return self._bom.bom(uri, format=format)
