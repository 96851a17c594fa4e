"""Annotations after registration: comments, monitoring watches and online observations.

Each is stored beside the frozen version (never touching it) and written
with an audit event. :meth:`NoteService.annotations` returns everything
recorded on a version, for ``show`` and the Python API.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Connection

from .. import limits, uris, validation
from ..annotations import (
    AlertRule,
    Approval,
    Attestation,
    CheckRecord,
    Comment,
    Health,
    Observation,
    Rejection,
    Watch,
    parse_alert,
)
from ..checks.base import is_online
from ..domain import Frozen, Metric
from ..errors import IntegrityError, InvalidInput
from ..safety import ScanRecord
from ..smoke import SmokeRecord
from ..store import annotations as rows
from ..store.rows import to_dt, to_us
from . import audit as log
from .base import Context, version_row

COMMENT_KINDS = ("comment", "incident", "postmortem")


class Drill(Frozen):
    """A rollback drill: whether the target was ready, and what was checked."""

    alias: str
    ready: bool
    checks: tuple[str, ...]
    actor: str
    at: datetime


class Evaluation(Frozen):
    """One gate evaluation: the stage asked for, whether it passed, each check's record."""

    target_stage: str
    passed: bool
    records: tuple[CheckRecord, ...]
    actor: str
    at: datetime


_KINDS: dict[str, type[BaseModel]] = {
    "approval": Approval,
    "rejection": Rejection,
    "attestation": Attestation,
    "comment": Comment,
    "watch": Watch,
    "observation": Observation,
    "health": Health,
    "evaluation": Evaluation,
    "drill": Drill,
    "scan": ScanRecord,
    "smoke": SmokeRecord,
}


@dataclass(frozen=True)
class VersionAnnotations:
    """Everything recorded on a version after registration, oldest first per kind."""

    approvals: tuple[Approval, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    attestations: tuple[Attestation, ...] = ()
    comments: tuple[Comment, ...] = ()
    watches: tuple[Watch, ...] = ()
    observations: tuple[Observation, ...] = ()
    health: tuple[Health, ...] = ()
    evaluations: tuple[Evaluation, ...] = ()
    drills: tuple[Drill, ...] = ()
    scans: tuple[ScanRecord, ...] = ()
    smoke_tests: tuple[SmokeRecord, ...] = ()


_FIELD = {
    "approval": "approvals",
    "rejection": "rejections",
    "attestation": "attestations",
    "comment": "comments",
    "watch": "watches",
    "observation": "observations",
    "health": "health",
    "evaluation": "evaluations",
    "drill": "drills",
    "scan": "scans",
    "smoke": "smoke_tests",
}


def parse_rows(found: Sequence[Any]) -> dict[str, list[Any]]:
    """Annotation rows as typed values, grouped by kind."""
    out: dict[str, list[Any]] = {k: [] for k in _KINDS}
    for r in found:
        try:
            out[r.kind].append(_KINDS[r.kind].model_validate(json.loads(r.body)))
        except (KeyError, ValueError, ValidationError) as exc:
            raise IntegrityError(
                f"annotation {r.id} ({r.kind}) cannot be read: {str(exc).splitlines()[0]}"
            ) from None
    return out


def record(
    conn: Connection,
    row: Any,
    name: str,
    value: BaseModel,
    kind: str,
    *,
    action: str,
    head: log.Head,
    reason: str | None = None,
) -> log.Head:
    """Store one annotation on the version of ``row`` and write its event."""
    body = value.model_dump(mode="json")
    actor = str(body.pop("actor"))
    at = to_us(getattr(value, "at"))  # noqa: B009
    body.pop("at", None)
    rows.add(conn, row.id, kind, actor, at, value.model_dump(mode="json"))
    return log.record(
        conn,
        head,
        actor=actor,
        at=at,
        action=action,
        subject=log.subject_of(name, row.number),
        model=name,
        version=row.number,
        after=body,
        reason=reason,
    )


class NoteService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _add(self, uri: str, make: Any, kind: str, action: str, reason: str | None = None) -> Any:
        ref = uris.parse(uri)
        now = self.ctx.clock()
        with self.ctx.db.write() as conn:
            row = version_row(conn, ref, lock=True)
            value = make(to_dt(now))
            record(
                conn,
                row,
                ref.name,
                value,
                kind,
                action=action,
                head=log.Head.of_model(ref.name, row),
                reason=reason,
            )
        return value

    def comment(self, uri: str, text: str, *, actor: str, kind: str = "comment") -> Comment:
        """Add a comment (``comment``), an incident note or a postmortem link to a version."""
        if kind not in COMMENT_KINDS:
            raise InvalidInput(f"invalid comment kind {kind!r}: choose {', '.join(COMMENT_KINDS)}")
        body = validation.text(text, "comment", limits.MAX_TEXT)
        if not body.strip():
            raise InvalidInput("a comment needs text")
        return self._add(  # type: ignore[no-any-return]
            uri,
            lambda at: Comment(actor=actor, text=body, at=at, kind=kind),
            "comment",
            "version.comment",
        )

    def watch(
        self,
        uri: str,
        *,
        actor: str,
        job: str | None = None,
        dashboard: str | None = None,
        alerts: Sequence[str | AlertRule] = (),
    ) -> Watch:
        """Record where a version is monitored and its alert thresholds (``NAME OP VALUE``)."""
        if job is None and dashboard is None and not alerts:
            raise InvalidInput("a watch needs a job (--job), a dashboard or an alert")
        rules = tuple(a if isinstance(a, AlertRule) else parse_alert(a) for a in alerts)
        return self._add(  # type: ignore[no-any-return]
            uri,
            lambda at: _valid(
                Watch, job=job, dashboard=dashboard, alerts=rules, actor=actor, at=at
            ),
            "watch",
            "version.watch",
        )

    def observe(
        self,
        uri: str,
        metric: str | Metric,
        value: float | None = None,
        *,
        actor: str,
        window: tuple[datetime, datetime] | None = None,
        source: str | None = None,
    ) -> Observation:
        """Record an online metric of a version, e.g. ``observe(uri, "ctr@online", 0.031)``."""
        if isinstance(metric, Metric):
            m = metric
        else:
            if value is None:
                raise InvalidInput(f"observation {metric!r} needs a value")
            m = validation.metric(metric, value)
        (found,) = self.observe_all(uri, (m,), actor=actor, window=window, source=source)
        return found

    def observe_all(
        self,
        uri: str,
        metrics: Sequence[Metric],
        *,
        actor: str,
        window: tuple[datetime, datetime] | None = None,
        source: str | None = None,
    ) -> tuple[Observation, ...]:
        """Record several online metrics measured together, in one write: all or none.

        Raises InvalidInput (none given, a metric given twice, an offline metric).
        """
        if not metrics:
            raise InvalidInput("an observation needs a metric (--metric KEY=VALUE)")
        seen: set[str] = set()
        for m in metrics:
            if m.key in seen:
                raise InvalidInput(f"observation {m.key!r} given twice: observe each metric once")
            seen.add(m.key)
            if not is_online(m.key):
                raise InvalidInput(
                    f"observation {m.key!r} must name an online split (NAME@online or "
                    "NAME@online-..., e.g. ctr@online): offline metrics are registered with "
                    "the version and never change"
                )
        start, end = window if window is not None else (None, None)
        ref = uris.parse(uri)
        now = self.ctx.clock()
        made: list[Observation] = []
        with self.ctx.db.write() as conn:
            row = version_row(conn, ref, lock=True)
            head = log.Head.of_model(ref.name, row)
            for m in metrics:
                value = _valid(
                    Observation,
                    metric=m.key,
                    value=m.value,
                    window_from=start,
                    window_to=end,
                    source=source,
                    actor=actor,
                    at=to_dt(now),
                )
                head = record(
                    conn, row, ref.name, value, "observation", action="version.observe", head=head
                )
                made.append(value)
        return tuple(made)

    def annotations(self, uri: str) -> VersionAnnotations:
        """Everything recorded on the version a URI names."""
        ref = uris.parse(uri)

        def read(conn: Connection) -> list[Any]:
            return rows.of_version(conn, version_row(conn, ref).id)

        grouped = parse_rows(self.ctx.db.reading(read))
        return VersionAnnotations(**{_FIELD[k]: tuple(v) for k, v in grouped.items()})


def _valid(cls: type[BaseModel], **fields: Any) -> Any:
    try:
        return cls.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"invalid {where or cls.__name__}: {first['msg']}") from None
