"""The report and doctor operations of :class:`~modelbook.Registry`.

A mixin of the facade, kept apart so that each file stays readable. See
``docs/reports.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy

if TYPE_CHECKING:
    from .doctor import DoctorReport
    from .services.aliases import AliasService
    from .services.audit import AuditService
    from .services.base import Context
    from .services.governance import GovernanceService
    from .services.notes import NoteService
    from .services.reports import ReportService
    from .services.versions import VersionService


class ReportOperations:
    """Report and doctor methods of the registry facade (which sets the services below)."""

    ctx: Context
    _versions: VersionService

    @property
    def _audit(self) -> AuditService:
        raise NotImplementedError

    @property
    def _aliases(self) -> AliasService:
        raise NotImplementedError

    @property
    def _gov(self) -> GovernanceService:
        raise NotImplementedError

    @property
    def _notes(self) -> NoteService:
        raise NotImplementedError

    @lazy
    def _reports(self) -> ReportService:
        from .services.reports import ReportService

        return ReportService(
            self.ctx, self._versions, self._notes, self._audit, self._aliases, self._gov
        )

    def report(self, uri: str, format: str = "md") -> str:
        """A one-page audit and reproducibility report of the version ``uri`` names.

        ``format``: ``"md"`` (Markdown) or ``"html"`` (one self-contained page:
        inline CSS and SVG charts, no URL, prints on A4). Sections: identity and
        owners, registration and promotion (from the audit log), code, data and
        features, training set-up, environment, artifacts with their sha256 and
        the signature, metrics by slice against the policy's thresholds for the
        model's risk tier (with a chart), the headline metric across the
        model's versions, gate evidence and reviews, alias history, incidents
        and caveats, monitoring, the completeness score against the metadata
        checklist (what is missing and how to provide it), and how to reproduce
        the version, each step marking what the metadata cannot fill. See
        ``docs/reports.md``.

        Raises NotFound, InvalidInput (a bad URI or format), IntegrityError.
        """
        from .errors import InvalidInput
        from .report import build_report
        from .report_render import FORMATS, render

        if format not in FORMATS:
            raise InvalidInput(f"unknown report format {format!r}: choose md or html")
        return render(build_report(self._reports.inputs(uri)), format)

    def doctor(self, name: str | None = None, stage: str | None = None) -> DoctorReport:
        """Score every version (of model ``name``; in ``stage``, e.g. ``"deployed"``) against
        the metadata checklist and list those that miss fields, worst first.

        The report's ``failing`` entries are deployed versions that lack a field the
        policy requires (``[doctor] required``); ``DoctorReport.check()`` raises
        IncompleteMetadata (exit 13) for them. Raises NotFound (no model ``name``),
        InvalidInput (a stage the policy does not know).
        """
        return self._reports.doctor(name, stage)
