"""Reports and the completeness doctor: the reads behind them.

The rules are pure (:mod:`modelbook.report`, :mod:`modelbook.completeness`,
:mod:`modelbook.doctor`); this service reads what they judge: the version and
its model, what was recorded on it, its events and alias moves, the policy
in force, and the model's other versions for the metric trend.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from sqlalchemy.engine import Connection

from .. import limits, validation
from ..checklist import Facts
from ..checks.metric import MetricRule
from ..completeness import assess
from ..doctor import DoctorEntry, DoctorReport, diagnose, entry
from ..domain import RISK_TIERS, Model, Version
from ..errors import IntegrityError
from ..events import Event
from ..policy import Policy
from ..report import TIMELINE_ACTIONS, ReportInputs
from ..report_metrics import threshold_rules
from ..store import annotations as note_rows
from ..store import models as model_rows
from ..store import versions as version_rows
from ..store.rows import to_dt
from . import notes as note_values
from .aliases import AliasService
from .audit import AuditService
from .base import Context, model_row
from .governance import GovernanceService
from .notes import NoteService
from .versions import VersionService

TREND_VERSIONS = 200
"""How many of the model's latest versions the metric trend reads."""
_DOCTOR_KINDS = ("approval", "rejection", "attestation", "watch")
_PAGE = limits.MAX_PAGE


class ReportService:
    def __init__(
        self,
        ctx: Context,
        versions: VersionService,
        notes: NoteService,
        audit: AuditService,
        aliases: AliasService,
        gov: GovernanceService,
    ) -> None:
        self.ctx = ctx
        self.versions = versions
        self.notes = notes
        self.audit = audit
        self.aliases = aliases
        self.gov = gov

    # the report -------------------------------------------------------------------

    def inputs(self, uri: str) -> ReportInputs:
        """Everything the report of the version ``uri`` names shows."""
        version = self.versions.get(uri)
        exact = version.uri  # by number: an alias that moves meanwhile changes nothing
        model = model_rows.model_from_row(
            self.ctx.db.reading(lambda conn: model_row(conn, version.model))
        )
        notes = self.notes.annotations(exact)
        policy = self.ctx.db.reading(self.gov.policy)
        history = self.versions.page(version.model, limit=TREND_VERSIONS).items
        return ReportInputs(
            version=version,
            model=model,
            events=tuple(self._events(version.model)),
            alias_moves=tuple(self.aliases.history(version.model, limit=_PAGE)),
            policy=policy,
            history=tuple(history),
            now=to_dt(self.ctx.clock()),
            approvals=notes.approvals,
            rejections=notes.rejections,
            attestations=notes.attestations,
            comments=notes.comments,
            watches=notes.watches,
            observations=notes.observations,
            health=notes.health,
            evidence=tuple(r for e in notes.evaluations for r in e.records),
        )

    def _events(self, model: str) -> Iterator[Event]:
        token: str | None = None
        while True:
            page = self.audit.events(
                model=model, action=TIMELINE_ACTIONS, limit=_PAGE, page_token=token
            )
            yield from page.items
            token = page.next_page_token
            if token is None:
                return

    # the doctor -------------------------------------------------------------------

    def doctor(self, name: str | None = None, stage: str | None = None) -> DoctorReport:
        """Score every version (of model ``name``, in ``stage``) against the checklist.

        Raises:
            InvalidInput: ``name`` is not a model name or ``stage`` not a stage name
                (checked before any read), or a stage the policy does not know.
            NotFound: no model ``name``.
        """
        if name is not None:
            validation.model_name(name)
        if stage is not None:
            validation.stage(stage)
        policy = self.ctx.db.reading(self.gov.policy)
        wanted = None if stage is None else policy.graph.stage(stage)
        thresholds = {
            tier: tuple(rule for _, rule in threshold_rules(policy, tier)) for tier in RISK_TIERS
        }
        entries: list[DoctorEntry] = []
        unreadable: list[str] = []
        checked = 0
        for model in self._models(name):
            for version, notes in self._scored(model, wanted, unreadable):
                checked += 1
                entries.append(self._entry(version, model, notes, thresholds, policy))
        return diagnose(
            entries,
            required=policy.required_fields,
            checked=checked,
            unreadable=tuple(unreadable),
        )

    def _models(self, name: str | None) -> Iterator[Model]:
        if name is not None:
            yield model_rows.model_from_row(self.ctx.db.reading(lambda conn: model_row(conn, name)))
            return
        before: int | None = None
        while True:
            rows = self.ctx.db.reading(
                functools.partial(model_rows.page, before_id=before, limit=_PAGE)
            )
            for row in rows:
                try:
                    yield model_rows.model_from_row(row)
                except IntegrityError:
                    continue
            if len(rows) < _PAGE:
                return
            before = rows[-1].id

    def _scored(
        self, model: Model, stage: str | None, unreadable: list[str]
    ) -> Iterator[tuple[Version, dict[str, list[Any]]]]:
        """Each version of ``model`` (in ``stage``) with its reviews and watches, a page
        of versions and their annotations per read."""
        after: int | None = None
        while True:

            def read(conn: Connection, after: int | None = after) -> tuple[list[Any], list[Any]]:
                model_id = model_row(conn, model.name).id
                rows = version_rows.page(
                    conn, model_id, after=after, limit=_PAGE, newest_first=False
                )
                chosen = [r for r in rows if stage is None or r.stage == stage]
                notes = note_rows.of_versions(conn, [int(r.id) for r in chosen], _DOCTOR_KINDS)
                return rows, [chosen, notes]

            rows, (chosen, found) = self.ctx.db.reading(read)
            by_version: dict[int, list[Any]] = {}
            for r in found:
                by_version.setdefault(int(r.version_id), []).append(r)
            for row in chosen:
                try:
                    version = self.ctx.cache.version(model.name, row)
                    notes = note_values.parse_rows(by_version.get(int(row.id), []))
                except IntegrityError as exc:
                    unreadable.append(exc.message)
                    continue
                yield version, notes
            if len(rows) < _PAGE:
                return
            after = int(rows[-1].number)

    @staticmethod
    def _entry(
        version: Version,
        model: Model,
        notes: dict[str, list[Any]],
        thresholds: dict[str, tuple[MetricRule, ...]],
        policy: Policy,
    ) -> DoctorEntry:
        facts = Facts(
            version=version,
            model=model,
            approvals=tuple(notes["approval"]),
            rejections=tuple(notes["rejection"]),
            attestations=tuple(notes["attestation"]),
            watches=tuple(notes["watch"]),
            thresholds=thresholds.get(model.risk_tier, ()),
        )
        return entry(
            assess(facts),
            model=model.name,
            number=version.number,
            semver=version.semver,
            stage=version.stage,
            risk_tier=model.risk_tier,
            required=policy.required_fields,
        )
