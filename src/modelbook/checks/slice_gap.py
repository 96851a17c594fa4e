"""``slice_gap``: the spread of a metric across its slices stays small (fairness).

Policy::

    check = "slice_gap"
    metric = "auc@test"     # NAME or NAME@SPLIT, without a slice
    max_gap = 0.05          # largest allowed (best slice - worst slice)
    by = "region"           # optional: only slices cut by exactly this key
    min_slices = 2          # optional: fewer slices fail the check

The gap is the largest value minus the smallest among the slices of the
metric (the metrics with that name and split and a non-empty slice).
"""

from __future__ import annotations

from pydantic import Field, JsonValue, ValidationInfo, field_validator

from .. import validation
from ..domain import Metric, Version
from ..errors import InvalidInput
from .base import CheckContext, CheckDef, CheckParams, CheckResult, failed, passed

NAME = "slice_gap"

#: The most slices ``min_slices`` may ask for, far more than any gate needs.
MAX_SLICES = 10_000


class Params(CheckParams):
    """``metric`` (NAME@SPLIT), ``max_gap`` (>= 0), ``by`` (slice key), ``min_slices`` (2 to
    :data:`MAX_SLICES`)."""

    metric: str
    max_gap: float = Field(ge=0, allow_inf_nan=False)
    by: str | None = None
    min_slices: int = Field(default=2, ge=2)

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        try:
            parsed = validation.metric(value, 0.0)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None
        if parsed.slice:
            raise ValueError(
                f"name the metric without a slice, e.g. {parsed.name}@{parsed.split or 'test'}: "
                "the check compares all its slices"
            )
        return parsed.key

    @field_validator("min_slices")
    @classmethod
    def _min_slices(cls, value: int, info: ValidationInfo) -> int:
        # A stored policy keeps its count: it is only compared, and fails as it did.
        if value > MAX_SLICES and not (info.context or {}).get("as_stored"):
            raise ValueError(f"must be at most {MAX_SLICES}, got {value}")
        return value

    @field_validator("by")
    @classmethod
    def _by(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                validation.key(value, "slice key")
            except InvalidInput as exc:
                raise ValueError(exc.message) from None
        return value


def _slices(version: Version, params: Params) -> list[Metric]:
    base = validation.metric(params.metric, 0.0)
    return [
        m
        for m in version.metrics
        if m.name == base.name
        and m.split == base.split
        and m.slice
        and (params.by is None or set(m.slice) == {params.by})
    ]


def run(version: Version, params: Params, ctx: CheckContext) -> CheckResult:
    """Pass when at least ``min_slices`` slices exist and their gap is at most ``max_gap``."""
    slices = _slices(version, params)
    cut = f" by {params.by!r}" if params.by else ""
    values: dict[str, JsonValue] = {m.key: m.value for m in slices}
    if len(slices) < params.min_slices:
        return failed(
            NAME,
            f"{params.metric} has {len(slices)} slice(s){cut} on version {version.number}; "
            f"the check needs at least {params.min_slices}",
            f"register a version with slice metrics such as "
            f"--metric '{params.metric}{{{params.by or 'region'}=eu}}=VALUE'",
            slices=values,
        )
    best = max(slices, key=lambda m: m.value)
    worst = min(slices, key=lambda m: m.value)
    gap = best.value - worst.value
    if gap == 0:
        # Ties pick the same slice as best and worst: name none of them.
        summary = (
            f"gap of {params.metric}{cut} is 0: all {len(slices)} slices agree ({best.value!r})"
        )
    else:
        summary = (
            f"gap of {params.metric}{cut} is {gap:.6g} between {best.key} ({best.value!r}) "
            f"and {worst.key} ({worst.value!r})"
        )
    evidence: dict[str, JsonValue] = {"slices": values, "gap": gap, "max_gap": params.max_gap}
    if gap > params.max_gap:
        return failed(
            NAME,
            f"{summary}; at most {params.max_gap!r} is allowed",
            f"register a version whose slices of {params.metric} lie within "
            f"{params.max_gap!r} of each other",
            **evidence,
        )
    return passed(NAME, f"{summary} (at most {params.max_gap!r})", **evidence)


CHECK = CheckDef(NAME, Params, run, "the gap of a metric between its slices is at most X")
