"""The services a :class:`~modelbook.Registry` delegates to, each made on first use.

A command that reads a version (``modelbook resolve``) imports none of the
writers, the policy, its checks or the audit encoder: every service but
reading loads when it is first used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .lazy import lazy
from .services.base import Context
from .services.versions import VersionService

if TYPE_CHECKING:
    from .blobs import BlobStore
    from .services.aliases import AliasService
    from .services.artifacts import ArtifactService
    from .services.audit import AuditService
    from .services.classify import ClassifyService
    from .services.gc import GcService
    from .services.governance import GovernanceService
    from .services.loading import LoadService
    from .services.models import ModelService
    from .services.notes import NoteService
    from .services.pins import PinService
    from .services.registration import RegistrationService
    from .services.release import ReleaseService
    from .services.retire import RetireService
    from .services.reviews import ReviewService
    from .services.rollback import RollbackService
    from .services.rollback_drill import DrillService
    from .services.rollback_target import RollbackTargets
    from .services.serving import ServingService
    from .services.smoke import SmokeService
    from .services.swap import SwapService
    from .services.tags import TagService
    from .services.tiers import RiskTierService


class Services:
    """The wiring of the services over the registry's context (``ctx``), blob store
    URL (``_blob_url``) and options (``_blob_options``), which the registry sets."""

    ctx: Context
    _versions: VersionService
    _blob_url: str
    _blob_options: Mapping[str, Any]

    @lazy
    def blobs(self) -> BlobStore:
        """The blob store, opened when first used (see docs/concepts.md, "Storage")."""
        from . import blobs

        return blobs.BlobStore(self._blob_url, **self._blob_options)

    @lazy
    def _models(self) -> ModelService:
        from .services.models import ModelService

        return ModelService(self.ctx)

    @lazy
    def _registration(self) -> RegistrationService:
        from .services.registration import RegistrationService

        # The policy's service is made here, before any transaction: loading it
        # (the policy, its checks, CEL) must not happen while a model's row is locked.
        gov = self._gov
        return RegistrationService(
            self.ctx,
            lambda conn, digest: gov.policy_of(conn, digest).graph.first,
            lambda: self._classifier,
        )

    @lazy
    def _classifier(self) -> ClassifyService:
        from .services.classify import ClassifyService

        return ClassifyService(self.ctx, self._loading)

    @lazy
    def _tags(self) -> TagService:
        from .services.tags import TagService

        return TagService(self.ctx)

    @lazy
    def _aliases(self) -> AliasService:
        from .services.aliases import AliasService

        return AliasService(self.ctx)

    @lazy
    def _pins(self) -> PinService:
        from .services.pins import PinService

        return PinService(self.ctx, self._gov)

    @lazy
    def _artifacts(self) -> ArtifactService:
        from .services.artifacts import ArtifactService

        return ArtifactService(self.ctx, self._versions)

    @lazy
    def _audit(self) -> AuditService:
        from .services.audit import AuditService

        return AuditService(self.ctx)

    @lazy
    def _gov(self) -> GovernanceService:
        from .services.governance import GovernanceService

        return GovernanceService(self.ctx)

    @lazy
    def _release(self) -> ReleaseService:
        from .services.release import ReleaseService

        return ReleaseService(self.ctx, self._gov)

    @lazy
    def _reviews(self) -> ReviewService:
        from .services.reviews import ReviewService

        return ReviewService(self.ctx, self._gov, self._release)

    @lazy
    def _retire(self) -> RetireService:
        from .services.retire import RetireService

        return RetireService(self.ctx, self._gov, self._release)

    @lazy
    def _tiers(self) -> RiskTierService:
        from .services.tiers import RiskTierService

        return RiskTierService(self.ctx, self._gov, self._release)

    @lazy
    def _serving(self) -> ServingService:
        from .services.serving import ServingService

        return ServingService(self.ctx, self._gov, self._release)

    @lazy
    def _swaps(self) -> SwapService:
        from .services.swap import SwapService

        return SwapService(self.ctx, self._gov, self._release, self._serving)

    @lazy
    def _rollback_targets(self) -> RollbackTargets:
        from .services.rollback_target import RollbackTargets

        return RollbackTargets(self.ctx, self._gov, self._release)

    @lazy
    def _rollback(self) -> RollbackService:
        from .services.rollback import RollbackService

        return RollbackService(
            self.ctx, self._gov, self._release, self._serving, self._rollback_targets
        )

    @lazy
    def _drills(self) -> DrillService:
        from .services.rollback_drill import DrillService

        return DrillService(self.ctx, self._gov, self._rollback_targets)

    @lazy
    def _notes(self) -> NoteService:
        from .services.notes import NoteService

        return NoteService(self.ctx)

    @lazy
    def _loading(self) -> LoadService:
        from .services.loading import LoadService

        return LoadService(self.ctx, self._versions)

    @lazy
    def _smoke(self) -> SmokeService:
        from .services.smoke import SmokeService

        return SmokeService(self.ctx, self._loading)

    @lazy
    def _gc(self) -> GcService:
        from .services.gc import GcService

        return GcService(self.ctx, self._gov)
