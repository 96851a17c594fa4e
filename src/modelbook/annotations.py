"""What people record on a version after registration, as frozen values.

A version itself never changes; these annotations accumulate beside it, each
written with an audit event: approvals and rejections, attestations (named
sign-offs), comments and incident notes, monitoring watches, online
observations, health signals, and the stored result of every gate check.

The ``parse_*`` functions turn what a user types on the command line into
values, or raise :class:`InvalidInput` saying what would be accepted.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, model_validator

from . import validation
from .domain import Frozen, FrozenDict, FrozenJSON, Metric
from .errors import InvalidInput

MAX_ACTOR_LEN = 256
Op = Literal[">", ">=", "<", "<=", "==", "!="]
OPS: tuple[str, ...] = (">=", "<=", "==", "!=", ">", "<")
"""Comparison operators, the two-character ones first so that parsing is greedy."""


def _actor(value: str) -> str:
    value = validation.text(value, "actor", MAX_ACTOR_LEN)
    if not value.strip():
        raise InvalidInput("actor must not be empty")
    return value


def _long_text(value: str) -> str:
    return validation.text(value, "text", validation.MAX_TEXT_LEN)


def _short_text(value: str) -> str:
    return validation.text(value, "text")


def _name(value: str) -> str:
    return validation.key(value, "name")


Actor = Annotated[str, AfterValidator(_actor)]
LongText = Annotated[str, AfterValidator(_long_text)]
ShortText = Annotated[str, AfterValidator(_short_text)]
Name = Annotated[str, AfterValidator(_name)]


def compare(left: float, op: str, right: float) -> bool:
    """``left OP right`` for one of :data:`OPS`.

    Raises:
        InvalidInput: ``op`` is not a comparison operator.
    """
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    raise InvalidInput(f"unknown operator {op!r}: use one of {' '.join(OPS)}")


class Approval(Frozen):
    """A reviewer's approval of a version, with the roles they held when approving."""

    actor: Actor
    roles: tuple[str, ...] = ()
    comment: LongText | None = None
    at: AwareDatetime


class Rejection(Frozen):
    """A reviewer's rejection of a version; it blocks approval gates until answered."""

    actor: Actor
    comment: LongText | None = None
    at: AwareDatetime


class Attestation(Frozen):
    """A named sign-off on a version, such as ``pii_review`` or ``security_scan``."""

    name: Name
    actor: Actor
    roles: tuple[str, ...] = ()
    comment: LongText | None = None
    at: AwareDatetime


class Comment(Frozen):
    """Free text on a version: a comment, an incident note or a postmortem."""

    actor: Actor
    text: LongText
    at: AwareDatetime
    kind: Literal["comment", "incident", "postmortem"] = "comment"


class AlertRule(Frozen):
    """A threshold a monitoring job alerts on: ``p99_latency_ms > 250``."""

    name: Name
    op: Op
    value: float

    @model_validator(mode="after")
    def _finite(self) -> AlertRule:
        if not math.isfinite(self.value):
            raise InvalidInput(f"alert {self.name!r}: the threshold must be a finite number")
        return self

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.value!r}"

    def fires(self, observed: float) -> bool:
        """Whether an observed value breaks this rule (the comparison holds)."""
        return compare(observed, self.op, self.value)


class Watch(Frozen):
    """Where a deployed version is monitored: its job, dashboard and alert rules."""

    job: ShortText | None = None
    dashboard: ShortText | None = None
    alerts: tuple[AlertRule, ...] = ()
    actor: Actor
    at: AwareDatetime


class Observation(Frozen):
    """A metric measured on a version after deployment, such as ``ctr@online``.

    ``metric`` is a metric key (``NAME@SPLIT{K=V}``); the window, when given,
    is the period the value was measured over.
    """

    metric: str
    value: float
    window_from: AwareDatetime | None = None
    window_to: AwareDatetime | None = None
    source: ShortText | None = None
    actor: Actor
    at: AwareDatetime

    @model_validator(mode="after")
    def _valid(self) -> Observation:
        validation.metric(self.metric, self.value)
        if (self.window_from is None) != (self.window_to is None):
            raise InvalidInput("an observation window needs both a start and an end")
        if self.window_from and self.window_to and self.window_from >= self.window_to:
            raise InvalidInput("an observation window must start before it ends")
        for end in (self.window_from, self.window_to):
            if end is not None:
                _utc(end, "observation window")
        return self


class Health(Frozen):
    """A deployer's record that a deployed version ran healthy, and the signal that
    showed it (``"7 days at 0.1% errors, CTR flat"``); rollback prefers such versions."""

    signal: LongText
    alias: str | None = None
    actor: Actor
    at: AwareDatetime


class CheckRecord(Frozen):
    """One stored evaluation of one gate check on a version.

    ``params`` are the check's parameters from the policy and ``evidence``
    the inputs it saw, both JSON-safe.
    """

    check: str
    params: FrozenJSON = Field(default_factory=FrozenDict)
    evidence: FrozenJSON = Field(default_factory=FrozenDict)
    passed: bool
    required: bool = True
    message: str
    hint: str | None = None
    at: AwareDatetime
    actor: str
    target_stage: str


_ALERT = re.compile(r"\s*(?P<name>[^\s<>=!]+)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>\S+)\s*")


def parse_alert(text: str) -> AlertRule:
    """An alert rule from ``NAME OP NUMBER``, e.g. ``"p99_latency_ms > 250"``.

    Operators: ``> >= < <= == !=``.

    Raises:
        InvalidInput: the text is not of that shape, or the number is not finite.
    """
    match = _ALERT.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(
            f"invalid alert {text!r}: write NAME OP NUMBER, e.g. 'p99_latency_ms > 250', "
            f"with OP one of {' '.join(OPS)}"
        )
    value = validation.number(match["value"], f"threshold of alert {text!r}")
    return AlertRule(name=match["name"], op=match["op"], value=value)


def parse_observation(text: str) -> Metric:
    """An online metric and its value from ``KEY=VALUE``, e.g. ``"ctr@online=0.031"``.

    The key is a metric key (``NAME@SPLIT{K=V}``); it splits at the last ``=``
    so that slices survive.

    Raises:
        InvalidInput: no ``=``, a malformed key, or a value that is not a
            finite number.
    """
    key, value = validation.split_key_value(text, "observation", last=True)
    return validation.metric(key.strip(), value.strip())


def parse_time(text: str, what: str = "time") -> datetime:
    """The UTC time an ISO 8601 text with a timezone names, e.g. ``2026-11-01T00:00Z``.

    Raises:
        InvalidInput: not ISO 8601, no timezone (``Z`` or ``+HH:MM``), or out of
            the calendar's range once in UTC.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except (AttributeError, ValueError):
        raise InvalidInput(
            f"invalid {what} {text!r}: write ISO 8601 with a timezone, e.g. 2026-11-01T00:00Z"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            f"{what} {text!r} has no timezone: add Z for UTC or an offset such as +01:00"
        )
    return _utc(value, what)


def _utc(value: datetime, what: str) -> datetime:
    """``value`` in UTC; stored as microseconds, it is read back in UTC, so a time that
    UTC cannot hold is refused rather than written unreadable."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(
            f"{what} {value.isoformat()} is out of range: in UTC it falls before year 1 "
            "or after year 9999"
        ) from None


def parse_window(text: str) -> tuple[datetime, datetime]:
    """A measurement window from ``START/END``, both ISO 8601 with a timezone.

    Example: ``"2026-11-01T00:00Z/2026-11-08T00:00Z"``.

    Raises:
        InvalidInput: not two times separated by ``/``, a time without a
            timezone, or an end that is not after the start.
    """
    if not isinstance(text, str) or text.count("/") != 1:
        raise InvalidInput(
            f"invalid window {text!r}: write START/END, e.g. 2026-11-01T00:00Z/2026-11-08T00:00Z"
        )
    start_text, end_text = text.split("/")
    start = parse_time(start_text, "window start")
    end = parse_time(end_text, "window end")
    if end <= start:
        raise InvalidInput(f"invalid window {text!r}: the end must be after the start")
    return start, end
