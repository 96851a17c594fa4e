"""The audit and reproducibility report of one version, as data (pure, no I/O).

:func:`build_report` turns what the service read (:class:`ReportInputs`) into a
:class:`Report`: every section an auditor asks for, who, what, when and why,
with which code, data and environment, and which thresholds it met. Parts live
beside it: metrics against thresholds (:mod:`modelbook.report_metrics`), the
charts' geometry (:mod:`modelbook.report_charts`), the rows of the other
sections (:mod:`modelbook.report_sections`), the "how to reproduce" steps
(:mod:`modelbook.report_reproduce`) and the completeness score
(:mod:`modelbook.completeness`). Rendering to Markdown or HTML is
:mod:`modelbook.report_render`'s.

Values are kept as data (numbers, times, text as written); a renderer
formats and escapes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .annotations import (
    Approval,
    Attestation,
    CheckRecord,
    Comment,
    Health,
    Observation,
    Rejection,
    Watch,
)
from .checklist import Facts
from .completeness import Completeness, assess
from .domain import AliasEvent, Model, Version, thaw
from .events import Event
from .lineage_urls import shown_version
from .policy import Policy
from .report_charts import LineChart, SliceChart
from .report_metrics import MetricRow, metric_rows, slice_charts, threshold_rules, trend
from .report_reproduce import Step, reproduce_steps
from .report_sections import (
    GateRun,
    Incident,
    Review,
    Row,
    contract_rows,
    environment_rows,
    gate_runs,
    identity_rows,
    incidents,
    monitoring_rows,
    reviews,
    rows_of,
)

TIMELINE_ACTIONS: tuple[str, ...] = (
    "version.register",
    "version.stage",
    "version.approve",
    "version.reject",
    "version.attest",
    "version.deploy",
    "version.rollback",
    "version.deprecate",
    "version.undeprecate",
    "version.archive",
    "version.healthy",
)
"""The audit actions a report's timeline shows (gate runs and notes have sections of their own)."""


@dataclass(frozen=True)
class ReportInputs:
    """What the service reads for one report.

    Attributes:
        version: the version reported on.
        model: its model.
        approvals, rejections, attestations, comments, watches, observations,
            health: what was recorded on the version after registration
            (``Registry.annotations``), oldest first.
        evidence: every gate check evaluated on the version, oldest first
            (``Registry.evidence``).
        events: audit events of the model of the :data:`TIMELINE_ACTIONS`, any
            order; :func:`build_report` keeps those that concern the version
            (:func:`concerns`).
        alias_moves: moves of the model's aliases, any order; those to or from
            the version are kept.
        policy: the policy in force (metric thresholds, required fields).
        history: versions of the model for the metric trend, any order.
        now: when the report is made (timezone-aware).
    """

    version: Version
    model: Model
    events: tuple[Event, ...]
    alias_moves: tuple[AliasEvent, ...]
    policy: Policy
    history: tuple[Version, ...]
    now: datetime
    approvals: tuple[Approval, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    attestations: tuple[Attestation, ...] = ()
    comments: tuple[Comment, ...] = ()
    watches: tuple[Watch, ...] = ()
    observations: tuple[Observation, ...] = ()
    health: tuple[Health, ...] = ()
    evidence: tuple[CheckRecord, ...] = ()


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    actor: str
    action: str
    detail: str


@dataclass(frozen=True)
class Report:
    """Every section of a version's report, in reading order.

    ``missing`` rows (value None) are shown as "not recorded"; the
    :class:`~modelbook.completeness.Completeness` names what to add.
    """

    version: Version
    model: Model
    generated_at: datetime
    policy_source: str
    identity: tuple[Row, ...]
    registered: TimelineEntry | None
    timeline: tuple[TimelineEntry, ...]
    code: tuple[Row, ...]
    data: tuple[tuple[Row, ...], ...]
    features: tuple[Row, ...]
    training: tuple[Row, ...]
    params: tuple[Row, ...]
    environment: tuple[Row, ...]
    packages: tuple[Row, ...]
    contract: tuple[Row, ...]
    metrics: tuple[MetricRow, ...]
    metric_charts: tuple[SliceChart, ...]
    trend: LineChart | None
    gate_runs: tuple[GateRun, ...]
    reviews: tuple[Review, ...]
    alias_moves: tuple[AliasEvent, ...]
    incidents: tuple[Incident, ...]
    caveats: tuple[str, ...]
    monitoring: tuple[Row, ...]
    completeness: Completeness
    required: tuple[str, ...]
    reproduce: tuple[Step, ...]

    @property
    def missing_required(self) -> tuple[str, ...]:
        return self.completeness.missing_of(self.required)


def concerns(event: Event, number: int) -> bool:
    """Whether an audit event is about version ``number``: its own, or a rollback away from it."""
    if event.version == number:
        return True
    before = event.before
    return (
        event.action == "version.rollback"
        and isinstance(before, Mapping)
        and before.get("version") == number
    )


def _timeline(events: Iterable[Event]) -> tuple[TimelineEntry, ...]:
    entries = []
    for e in sorted(events, key=lambda e: (e.at, e.seq)):
        after: Any = thaw(e.after) if e.after is not None else None
        if hasattr(after, "model_dump"):
            after = after.model_dump(mode="json")
        entries.append(
            TimelineEntry(
                e.at, e.actor, e.action.removeprefix("version."), _detail(e.action, after, e.reason)
            )
        )
    return tuple(entries)


def _detail(action: str, after: Any, reason: str | None) -> str:
    after = after if isinstance(after, dict) else {}
    parts: list[str] = []
    if action == "version.register":
        parts.append(f"semver {after.get('semver')}, {after.get('files')} file(s)")
    elif action in ("version.stage", "version.archive"):
        parts.append(f"to {after.get('stage')}")
    elif action in ("version.deploy", "version.rollback"):
        parts.append(f"{after.get('alias')} -> version {after.get('version')}")
    elif action in ("version.approve", "version.reject", "version.attest"):
        if after.get("name"):
            parts.append(str(after["name"]))
        if after.get("comment"):
            parts.append(str(after["comment"]))
    elif action == "version.healthy" and after.get("signal"):
        parts.append(str(after["signal"]))
    if reason:
        parts.append(reason)
    return "; ".join(parts)


def build_report(inputs: ReportInputs) -> Report:
    """Every section of the report of ``inputs.version``, whose repository and data
    snapshot URLs are shown without their secrets (:mod:`modelbook.lineage_urls`)."""
    v = shown_version(inputs.version)
    rules = threshold_rules(inputs.policy, inputs.model.risk_tier)
    rows = metric_rows(v, rules)
    events = [e for e in inputs.events if e.action in TIMELINE_ACTIONS and concerns(e, v.number)]
    timeline = _timeline(events)
    facts = Facts(
        version=v,
        model=inputs.model,
        approvals=inputs.approvals,
        rejections=inputs.rejections,
        attestations=inputs.attestations,
        watches=inputs.watches,
        thresholds=tuple(rule for _, rule in rules),
    )
    lineage, training = v.lineage, v.training
    features = lineage.features
    return Report(
        version=v,
        model=inputs.model,
        generated_at=inputs.now,
        policy_source=inputs.policy.source,
        identity=identity_rows(v, inputs.model),
        registered=next((t for t in timeline if t.action == "register"), None),
        timeline=timeline,
        code=rows_of(
            [
                ("repository", lineage.code.repo),
                ("commit", lineage.code.commit),
                ("branch", lineage.code.branch),
                (
                    "working tree",
                    None
                    if lineage.code.dirty is None
                    else ("dirty (uncommitted changes)" if lineage.code.dirty else "clean"),
                ),
                ("pipeline run", lineage.run_id),
                ("experiment", lineage.experiment_id),
                ("parents", ", ".join(lineage.parents) or "none"),
            ]
        ),
        data=tuple(
            rows_of(
                [
                    ("snapshot", d.snapshot),
                    ("role", d.role),
                    ("sha256", d.sha256),
                    ("window", d.window),
                    ("sampling", d.sampling),
                ]
            )
            for d in lineage.data
        ),
        features=rows_of(
            [
                ("feature set", None if features is None else features.name),
                ("version", None if features is None else features.version),
            ]
        ),
        training=rows_of(
            [
                ("seed", training.seed),
                ("hardware", training.hardware),
                ("duration (s)", training.duration_seconds),
            ]
        ),
        params=rows_of(sorted(training.params.items())),
        environment=environment_rows(v),
        packages=rows_of(sorted(v.environment.frameworks.items())),
        contract=contract_rows(v),
        metrics=rows,
        metric_charts=slice_charts(rows),
        trend=trend(v, inputs.history, rows),
        gate_runs=gate_runs(inputs.evidence),
        reviews=reviews(inputs.approvals, inputs.rejections, inputs.attestations),
        alias_moves=tuple(
            sorted(
                (m for m in inputs.alias_moves if v.number in (m.from_version, m.to_version)),
                key=lambda m: m.at,
            )
        ),
        incidents=incidents(inputs.comments, events, v.number),
        caveats=tuple(v.caveats),
        monitoring=monitoring_rows(inputs.watches, inputs.observations, inputs.health),
        completeness=assess(facts),
        required=inputs.policy.required_fields,
        reproduce=reproduce_steps(v),
    )
