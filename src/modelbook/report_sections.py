"""Sections of a version's report built from its record and annotations (pure).

Part of :func:`modelbook.report.build_report`, kept apart to keep each module
short: identity, environment and contract rows; gate runs grouped from the
stored check records; reviews; incidents; monitoring.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

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
from .contract import Schema, as_signature
from .display import excerpt
from .domain import Model, Version
from .events import Event
from .limits import MAX_CHECK_MESSAGE


@dataclass(frozen=True)
class Row:
    """One labelled value; ``value`` None means the metadata does not say."""

    label: str
    value: str | None


@dataclass(frozen=True)
class GateCheck:
    check: str
    passed: bool
    required: bool
    message: str


@dataclass(frozen=True)
class GateRun:
    """One evaluation of a gate: the stage asked for, whether it passed, each check."""

    stage: str
    passed: bool
    actor: str
    at: datetime
    checks: tuple[GateCheck, ...]


@dataclass(frozen=True)
class Review:
    """An approval, a rejection or a named sign-off (``attested pii_review``)."""

    kind: str
    actor: str
    at: datetime
    roles: tuple[str, ...]
    comment: str | None


@dataclass(frozen=True)
class Incident:
    """A rollback away from the version, its deprecation, or an incident or postmortem note."""

    at: datetime
    kind: str
    actor: str
    text: str


def rows_of(pairs: Iterable[tuple[str, object]]) -> tuple[Row, ...]:
    """Labelled values; an absent value (None or empty text) becomes None."""
    return tuple(Row(label, None if value in (None, "") else str(value)) for label, value in pairs)


def identity_rows(v: Version, model: Model) -> tuple[Row, ...]:
    """Name, number, semver, stage, aliases, owners, task, risk, description, tags."""
    return rows_of(
        [
            ("model", v.model),
            ("version", v.number),
            ("semver", v.semver),
            ("stage", v.stage + (" (deprecated)" if v.deprecated else "")),
            ("aliases", ", ".join(v.aliases) or "none"),
            ("owners", ", ".join(model.owners)),
            ("task", model.task),
            ("risk tier", model.risk_tier),
            ("description", model.description),
            ("tags", ", ".join(f"{k}={val}" for k, val in sorted(v.tags.items()))),
            ("change summary", v.change_summary),
        ]
    )


def environment_rows(v: Version) -> tuple[Row, ...]:
    env = v.environment
    lockfile = env.lockfile
    return rows_of(
        [
            ("python", env.python),
            ("platform", env.platform),
            ("container image", env.image_digest),
            ("lockfile", None if lockfile is None else lockfile.path),
            ("lockfile sha256", None if lockfile is None else lockfile.sha256),
            ("installed packages sha256", env.packages_sha256),
            ("cpu", env.cpu),
            ("gpu", env.gpu),
        ]
    )


def _schema_text(schema: Schema | None) -> str | None:
    if schema is None:
        return None
    fields = ", ".join(f"{f.name}: {f.dtype}" for f in schema.fields[:12])
    more = f" and {len(schema.fields) - 12} more" if len(schema.fields) > 12 else ""
    return f"{schema.kind} of {len(schema.fields)} field(s): {fields}{more}"


def contract_rows(v: Version) -> tuple[Row, ...]:
    """The signature's inputs, outputs and runtime; a free-form contract says so."""
    signature = as_signature(v.contract)
    if signature is None:
        free = "free-form contract (not a signature)" if v.contract is not None else None
        return rows_of([("inputs", free), ("outputs", None)])
    runtime = signature.runtime
    framework = " ".join(x for x in (runtime.framework, runtime.framework_version) if x)
    sample = signature.sample
    return rows_of(
        [
            ("inputs", _schema_text(signature.inputs)),
            ("outputs", _schema_text(signature.outputs)),
            ("framework", framework),
            ("flavor", runtime.flavor),
            ("input sample", None if sample is None else f"{sample.rows} row(s), {sample.path}"),
        ]
    )


def gate_runs(evidence: Sequence[CheckRecord]) -> tuple[GateRun, ...]:
    """The stored check records grouped into gate evaluations (same stage, actor and time)."""
    runs: dict[tuple[str, str, datetime], list[CheckRecord]] = {}
    for record in evidence:
        runs.setdefault((record.target_stage, record.actor, record.at), []).append(record)
    return tuple(
        GateRun(
            stage=stage,
            passed=all(r.passed or not r.required for r in records),
            actor=actor,
            at=at,
            # A message stored before MAX_CHECK_MESSAGE was checked may be of any size.
            checks=tuple(
                GateCheck(r.check, r.passed, r.required, excerpt(r.message, MAX_CHECK_MESSAGE))
                for r in records
            ),
        )
        for (stage, actor, at), records in runs.items()
    )


def reviews(
    approvals: Iterable[Approval],
    rejections: Iterable[Rejection],
    attestations: Iterable[Attestation],
) -> tuple[Review, ...]:
    """Every approval, rejection and named sign-off, oldest first."""
    found = [Review("approved", a.actor, a.at, a.roles, a.comment) for a in approvals]
    found += [Review("rejected", r.actor, r.at, (), r.comment) for r in rejections]
    found += [Review(f"attested {a.name}", a.actor, a.at, a.roles, a.comment) for a in attestations]
    return tuple(sorted(found, key=lambda r: r.at))


def incidents(
    comments: Iterable[Comment], events: Iterable[Event], number: int
) -> tuple[Incident, ...]:
    """Rollbacks away from the version, its deprecation, and incident and postmortem notes."""
    found = [Incident(c.at, c.kind, c.actor, c.text) for c in comments if c.kind != "comment"]
    for e in events:
        before = e.before
        if (
            e.action == "version.rollback"
            and isinstance(before, Mapping)
            and before.get("version") == number
        ):
            after = e.after if isinstance(e.after, Mapping) else {}
            text = (
                f"{before.get('alias')} rolled back to version {after.get('version')} ({e.reason})"
            )
            found.append(Incident(e.at, "rollback", e.actor, text))
        elif e.action == "version.deprecate":
            found.append(Incident(e.at, "deprecated", e.actor, e.reason or ""))
    return tuple(sorted(found, key=lambda i: i.at))


def monitoring_rows(
    watches: Sequence[Watch], observations: Sequence[Observation], health: Sequence[Health]
) -> tuple[Row, ...]:
    """The latest watch (job, dashboard, alerts), the latest online value of each metric,
    and the latest health signal."""
    watch = watches[-1] if watches else None
    latest: dict[str, Observation] = {}
    for obs in observations:
        if obs.metric not in latest or obs.at >= latest[obs.metric].at:
            latest[obs.metric] = obs
    rows = [
        ("monitoring job", None if watch is None else watch.job),
        ("dashboard", None if watch is None else watch.dashboard),
        (
            "alert thresholds",
            None if watch is None else "; ".join(str(a) for a in watch.alerts),
        ),
    ]
    rows += [(f"online {k}", f"{o.value:g}") for k, o in sorted(latest.items())]
    if health:
        rows.append(("health", health[-1].signal))
    return rows_of(rows)
