"""The release-flow half of the service interface (see :mod:`modelbook.api`).

Stages and gates, reviews, deploy and rollback, annotations, policy, roles
and the audit log: every method the embedded registry and a remote client
both provide. The full contract of each is on ``modelbook.Registry``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from .annotations import AlertRule, Attestation, CheckRecord, Comment, Health, Observation, Watch
from .domain import Alias, Metric, Version
from .services.audit import VerifyResult
from .services.gc import GcReport
from .services.governance import PolicyInfo, RoleGrant
from .services.notes import VersionAnnotations
from .services.release import Promotion
from .services.rollback import RollbackPlan
from .services.rollback_drill import DrillReport


@runtime_checkable
class ReleaseAPI(Protocol):
    """Release-flow operations of a model registry."""

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
        objective checks allow. Raises GateFailed (evaluation recorded), InvalidInput.
        """
        ...

    def approve(
        self, uri: str, *, comment: str | None = None, actor: str | None = None
    ) -> Promotion:
        """Record an approval (reviewer role); the version then enters ``approved`` if its gate
        passes. Raises PermissionDenied (role, or one's own high-risk version), Conflict
        (approving twice).
        """
        ...

    def reject(self, uri: str, *, comment: str, actor: str | None = None) -> None:
        """Record a rejection with its reason (reviewer role)."""
        ...

    def attest(
        self, uri: str, name: str, *, comment: str | None = None, actor: str | None = None
    ) -> Attestation:
        """Record a named sign-off such as ``pii_review`` (reviewer role)."""
        ...

    def evidence(self, uri: str) -> tuple[CheckRecord, ...]:
        """Every gate check evaluated on a version: check, params, inputs, result, time, actor."""
        ...

    def deprecate(self, uri: str, *, note: str, actor: str | None = None) -> Version:
        """Mark a version deprecated: never again a rollback target."""
        ...

    def undeprecate(self, uri: str, *, reason: str, actor: str | None = None) -> Version:
        """Withdraw a version's deprecation (a rollback target and deployable again), with
        the reason; the role needed is deprecation's. Raises Conflict (not deprecated)."""
        ...

    def archive(self, uri: str, *, note: str, actor: str | None = None) -> Version:
        """Move a version to ``archived``; its artifacts and history are kept."""
        ...

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
        """Point a serving alias at an approved version (deployer role), through the ``deployed``
        gate; the previous holder returns to ``approved``.
        """
        ...

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
        """Move ``alias`` back to the last known-good version in one transaction (see docs/release-
        flow.md, "Rollback playbook"); says which target and why. Without ``to`` a known-good
        version whose files are damaged is skipped for the next; a damaged ``to`` target, or
        none servable, is refused (GateFailed) unless ``force``. ``verify`` rehashes the files.
        """
        ...

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
        A target across the alias's contract pin is a problem unless ``allow_major``."""
        ...

    def mark_healthy(
        self, uri: str, *, signal: str, alias: str | None = None, actor: str | None = None
    ) -> Health:
        """Record that a deployed version ran healthy; rollback prefers such versions."""
        ...

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
        """Exchange two aliases (``champion``/``challenger``) in one transaction."""
        ...

    def gc(self, *, apply: bool = False, actor: str | None = None) -> GcReport:
        """Find (with ``apply``, remove) blobs no version references; dry run by default."""
        ...

    def comment(
        self, uri: str, text: str, *, kind: str = "comment", actor: str | None = None
    ) -> Comment:
        """Add a comment, an incident note (``kind="incident"``) or a postmortem link."""
        ...

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
        ...

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
        ...

    def observe_all(
        self,
        uri: str,
        metrics: Sequence[Metric],
        *,
        window: tuple[datetime, datetime] | None = None,
        source: str | None = None,
        actor: str | None = None,
    ) -> tuple[Observation, ...]:
        """Record several online metrics measured together: all of them, or none (a
        metric given twice, an offline one)."""
        ...

    def annotations(self, uri: str) -> VersionAnnotations:
        """Everything recorded on a version after registration."""
        ...

    def policy(self) -> PolicyInfo:
        """The policy in force (the shipped default until an admin sets one)."""
        ...

    def set_policy(
        self,
        text: str,
        *,
        source: str = "policy",
        format: str | None = None,
        actor: str | None = None,
    ) -> PolicyInfo:
        """Check and store a policy (admin). Raises InvalidInput naming each bad line."""
        ...

    def set_risk_tier(self, name: str, tier: str, *, reason: str, actor: str | None = None) -> str:
        """Change a model's risk tier (admin: the tier picks the gates); returns the old one."""
        ...

    def grant_role(
        self, who: str, role: str, *, actor: str | None = None, first_admin: bool = False
    ) -> RoleGrant:
        """Grant a role (viewer, contributor, reviewer, deployer, admin); admin only.

        ``first_admin=True`` names the first admin of a registry that has none (one
        made by an older modelbook): ``role`` must be ``admin``; Conflict once it has one.
        """
        ...

    def revoke_role(self, who: str, role: str, *, actor: str | None = None) -> None:
        """Revoke a role; admin only; the last admin stays."""
        ...

    def roles(self) -> list[RoleGrant]:
        """Every role granted on the registry."""
        ...

    def audit_head(self) -> str:
        """One digest over every audit chain's head, with the event count."""
        ...

    def verify_audit(self, expect_head: str | None = None) -> VerifyResult:
        """Check every audit chain, and with ``expect_head`` the history up to that head."""
        ...
