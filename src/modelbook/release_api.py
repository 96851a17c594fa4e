"""The release-flow operations of :class:`~modelbook.Registry`: stages, gates, reviews,
deployment, rollback, annotations, policy, roles and the audit log.

A mixin of the facade, kept apart so that each file stays readable; every
method delegates to a service and takes ``actor=`` (default: the registry's
default actor). See ``docs/release-flow.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from . import uris
from .domain import Alias, Metric, Version

if TYPE_CHECKING:
    # Types only: the services load when first used, so commands that only read
    # (``modelbook resolve``) never import the policy, its checks or CEL.
    from .annotations import (
        AlertRule,
        Attestation,
        CheckRecord,
        Comment,
        Health,
        Observation,
        Watch,
    )
    from .services.audit import AuditService, VerifyResult
    from .services.gc import GcReport, GcService
    from .services.governance import GovernanceService, PolicyInfo, RoleGrant
    from .services.notes import NoteService, VersionAnnotations
    from .services.release import Promotion, ReleaseService
    from .services.retire import RetireService
    from .services.reviews import ReviewService
    from .services.rollback import RollbackPlan, RollbackService
    from .services.rollback_drill import DrillReport, DrillService
    from .services.serving import ServingService
    from .services.swap import SwapService
    from .services.tiers import RiskTierService


class ReleaseOperations:
    """Release-flow methods of the registry facade (which sets the services below)."""

    @property
    def _audit(self) -> AuditService:
        raise NotImplementedError

    @property
    def _gov(self) -> GovernanceService:
        raise NotImplementedError

    @property
    def _release(self) -> ReleaseService:
        raise NotImplementedError

    @property
    def _reviews(self) -> ReviewService:
        raise NotImplementedError

    @property
    def _serving(self) -> ServingService:
        raise NotImplementedError

    @property
    def _swaps(self) -> SwapService:
        raise NotImplementedError

    @property
    def _retire(self) -> RetireService:
        raise NotImplementedError

    @property
    def _tiers(self) -> RiskTierService:
        raise NotImplementedError

    @property
    def _notes(self) -> NoteService:
        raise NotImplementedError

    @property
    def _gc(self) -> GcService:
        raise NotImplementedError

    @property
    def _rollback(self) -> RollbackService:
        raise NotImplementedError

    @property
    def _drills(self) -> DrillService:
        raise NotImplementedError

    def _who(self, actor: str | None) -> str:
        raise NotImplementedError

    def get_version(self, uri: str) -> Version:
        raise NotImplementedError

    # stages and reviews ---------------------------------------------------------

    def promote(
        self,
        uri: str,
        *,
        to: str | None = None,
        auto: bool = False,
        comment: str | None = None,
        actor: str | None = None,
    ) -> Promotion:
        """Move a version to stage ``to`` through its gate, or with ``auto`` as far as the
        objective checks allow. Raises GateFailed (evaluation recorded), InvalidInput."""
        return self._release.promote(uri, actor=self._who(actor), to=to, auto=auto, comment=comment)

    def approve(
        self, uri: str, *, comment: str | None = None, actor: str | None = None
    ) -> Promotion:
        """Record an approval (reviewer role); the version then enters ``approved`` if its
        gate passes. Raises PermissionDenied (role, or one's own high-risk version), Conflict
        (approving twice)."""
        return self._reviews.approve(uri, actor=self._who(actor), comment=comment)

    def reject(self, uri: str, *, comment: str, actor: str | None = None) -> None:
        """Record a rejection with its reason (reviewer role)."""
        self._reviews.reject(uri, actor=self._who(actor), comment=comment)

    def attest(
        self, uri: str, name: str, *, comment: str | None = None, actor: str | None = None
    ) -> Attestation:
        """Record a named sign-off such as ``pii_review`` (reviewer role)."""
        return self._reviews.attest(uri, name, actor=self._who(actor), comment=comment)

    def evidence(self, uri: str) -> tuple[CheckRecord, ...]:
        """Every gate check evaluated on a version: check, params, inputs, result, time, actor."""
        return self._release.evidence(uri)

    def deprecate(self, uri: str, *, note: str, actor: str | None = None) -> Version:
        """Mark a version deprecated: never again a rollback target nor deployed until
        :meth:`undeprecate`. A deployed or ``approved`` version needs the deployer role."""
        return self._retire.deprecate(uri, actor=self._who(actor), note=note)

    def undeprecate(self, uri: str, *, reason: str, actor: str | None = None) -> Version:
        """Withdraw a version's deprecation (a rollback target and deployable again), with
        the reason; the role needed is deprecation's. Raises Conflict (not deprecated)."""
        return self._retire.undeprecate(uri, actor=self._who(actor), reason=reason)

    def archive(self, uri: str, *, note: str, actor: str | None = None) -> Version:
        """Move a version to ``archived``; its artifacts and history are kept."""
        return self._retire.archive(uri, actor=self._who(actor), note=note)

    # serving --------------------------------------------------------------------

    def deploy(
        self,
        uri: str,
        *,
        reason: str,
        alias: str = "production",
        expect: int | None = None,
        allow_major: bool = False,
        actor: str | None = None,
    ) -> Alias:
        """Point a serving alias at an approved version (deployer role), through the
        ``deployed`` gate; the previous holder returns to ``approved``. A pinned alias
        changes MAJOR only with ``allow_major`` (recorded with ``reason``)."""
        version = self.get_version(uri)
        return self._serving.set_alias(
            version.model,
            alias,
            version.number,
            actor=self._who(actor),
            reason=reason,
            expect=expect,
            require_serving=True,
            allow_major=allow_major,
        )

    def rollback(
        self,
        name: str,
        *,
        reason_code: str,
        alias: str = "production",
        note: str | None = None,
        to: int | str | None = None,
        dry_run: bool = False,
        expect: int | None = None,
        allow_major: bool = False,
        reason: str | None = None,
        force: bool = False,
        verify: bool = False,
        actor: str | None = None,
    ) -> RollbackPlan:
        """Move ``alias`` back to the last known-good version in one transaction (see
        docs/release-flow.md, "Rollback playbook"); says which target and why. A target
        of another MAJOR than the alias's pin needs ``allow_major`` and ``reason``.
        Without ``to``, a known-good version whose files are missing or of another size
        (with ``verify``: or do not hash to their recorded sha256) is skipped for the
        next; a damaged ``to`` target, or no servable one, is refused (GateFailed)
        unless ``force``."""
        return self._rollback.rollback(
            name,
            actor=self._who(actor),
            alias=alias,
            reason_code=reason_code,
            note=note,
            to=to,
            dry_run=dry_run,
            expect=expect,
            allow_major=allow_major,
            reason=reason,
            force=force,
            verify=verify,
        )

    def drill(
        self,
        name: str,
        *,
        alias: str = "production",
        to: int | str | None = None,
        allow_major: bool = False,
        actor: str | None = None,
    ) -> DrillReport:
        """Prove the rollback target is ready without moving anything; the drill is recorded.
        A target across the alias's contract pin is a problem unless ``allow_major``. With
        no known-good target at all the report is not ready (``to_version`` None) and the
        failed drill is recorded on the version the alias serves."""
        return self._drills.drill(
            name, actor=self._who(actor), alias=alias, to=to, allow_major=allow_major
        )

    def mark_healthy(
        self, uri: str, *, signal: str, alias: str | None = None, actor: str | None = None
    ) -> Health:
        """Record that a deployed version ran healthy; rollback prefers such versions."""
        return self._serving.mark_healthy(uri, actor=self._who(actor), signal=signal, alias=alias)

    def swap_aliases(
        self,
        name: str,
        first: str,
        second: str,
        *,
        reason: str,
        allow_major: bool = False,
        actor: str | None = None,
    ) -> list[Alias]:
        """Exchange two aliases (``champion``/``challenger``) in one transaction; a pinned
        one changes MAJOR only with ``allow_major``."""
        return self._swaps.swap(
            name, first, second, actor=self._who(actor), reason=reason, allow_major=allow_major
        )

    def gc(self, *, apply: bool = False, actor: str | None = None) -> GcReport:
        """Find (with ``apply``, remove) blobs no version references; dry run by default."""
        return self._gc.gc(actor=self._who(actor), apply=apply)

    # annotations ----------------------------------------------------------------

    def comment(
        self, uri: str, text: str, *, kind: str = "comment", actor: str | None = None
    ) -> Comment:
        """Add a comment, an incident note (``kind="incident"``) or a postmortem link."""
        return self._notes.comment(uri, text, actor=self._who(actor), kind=kind)

    def watch(
        self,
        uri: str,
        *,
        job: str | None = None,
        dashboard: str | None = None,
        alerts: Sequence[str | AlertRule] = (),
        actor: str | None = None,
    ) -> Watch:
        """Record where a version is monitored and its alert thresholds (``'p99_ms > 250'``)."""
        return self._notes.watch(
            uri, actor=self._who(actor), job=job, dashboard=dashboard, alerts=alerts
        )

    def observe(
        self,
        uri: str,
        metric: str | Metric,
        value: float | None = None,
        *,
        window: tuple[datetime, datetime] | None = None,
        source: str | None = None,
        actor: str | None = None,
    ) -> Observation:
        """Record an online metric of a version (``observe(uri, "ctr@online", 0.031)``)."""
        return self._notes.observe(
            uri, metric, value, actor=self._who(actor), window=window, source=source
        )

    def observe_all(
        self,
        uri: str,
        metrics: Sequence[Metric],
        *,
        window: tuple[datetime, datetime] | None = None,
        source: str | None = None,
        actor: str | None = None,
    ) -> tuple[Observation, ...]:
        """Record several online metrics measured together: all of them, or none."""
        return self._notes.observe_all(
            uri, metrics, actor=self._who(actor), window=window, source=source
        )

    def annotations(self, uri: str) -> VersionAnnotations:
        """Everything recorded on a version after registration."""
        uris.parse(uri)
        return self._notes.annotations(uri)

    # policy and roles ---------------------------------------------------------------

    def policy(self) -> PolicyInfo:
        """The policy in force (the shipped default until an admin sets one)."""
        return self._gov.policy_info()

    def set_policy(
        self,
        text: str,
        *,
        source: str = "policy",
        format: str | None = None,
        actor: str | None = None,
    ) -> PolicyInfo:
        """Check and store a policy (admin). Raises InvalidInput naming each bad line."""
        return self._gov.set_policy(text, actor=self._who(actor), source=source, format=format)

    def set_risk_tier(self, name: str, tier: str, *, reason: str, actor: str | None = None) -> str:
        """Change a model's risk tier (admin: the tier picks the gates); returns the old one.

        Raising it sends the versions that passed the old tier's gates and do not
        serve back to the first stage, each with a ``version.stage`` event naming
        the reason (docs/release-flow.md).
        """
        before, _sent_back = self._tiers.set(name, tier, actor=self._who(actor), reason=reason)
        return before

    def grant_role(
        self, who: str, role: str, *, actor: str | None = None, first_admin: bool = False
    ) -> RoleGrant:
        """Grant a role (viewer, contributor, reviewer, deployer, admin); admin only.

        ``first_admin=True`` names the first admin of a registry that has none (one
        made by an older modelbook): ``role`` must be ``admin``; Conflict once it has one.
        """
        return self._gov.grant(who, role, actor=self._who(actor), first_admin=first_admin)

    def revoke_role(self, who: str, role: str, *, actor: str | None = None) -> None:
        """Revoke a role; admin only; the last admin stays."""
        self._gov.revoke(who, role, actor=self._who(actor))

    def roles(self) -> list[RoleGrant]:
        """Every role granted on the registry."""
        return self._gov.roles()

    # audit ------------------------------------------------------------------------------

    def audit_head(self) -> str:
        """One digest over every audit chain's head, with the event count."""
        return self._audit.head()

    def verify_audit(self, expect_head: str | None = None) -> VerifyResult:
        """Check every audit chain, and with ``expect_head`` the history up to that head."""
        return self._audit.verify(expect_head)
