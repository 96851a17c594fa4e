"""``compare``: not worse than the version an alias serves now.

Policy::

    check = "compare"
    metrics = ["auc@test", "logloss@test", "ctr@online"]
    alias = "production"                  # default
    tolerance = 0.002                     # or per metric: { "auc@test" = 0.002 }
    lower_is_better = ["logloss@test"]

For a metric where higher is better the version passes when
``value >= served - tolerance``; where lower is better when
``value <= served + tolerance``. Values are the registered metrics, or for
keys a version was not registered with (``ctr@online``) the latest online
observation recorded on it.

With no version behind the alias there is nothing to compare against, and the
check passes saying so. A metric the served version lacks is not compared
(it cannot gain it: versions never change); one the new version lacks fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import inf
from typing import Annotated, Any

from pydantic import AfterValidator, Field, JsonValue, field_validator, model_validator

from .. import validation
from ..display import as_written
from ..domain import Version, freeze
from ..errors import InvalidInput
from .base import CheckContext, CheckDef, CheckParams, CheckResult, failed, metric_value, passed

NAME = "compare"


def _key(value: str) -> str:
    try:
        return validation.metric(value, 0.0).key
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


MetricKey = Annotated[str, AfterValidator(_key)]


class Params(CheckParams):
    """``metrics`` (keys), ``alias``, ``tolerance`` (>= 0, one or per metric),
    ``lower_is_better`` (keys among ``metrics``)."""

    metrics: tuple[MetricKey, ...] = Field(min_length=1)
    alias: str = "production"
    tolerance: float | Mapping[str, float] = 0.0
    lower_is_better: tuple[MetricKey, ...] = ()

    @field_validator("alias")
    @classmethod
    def _alias(cls, value: str) -> str:
        try:
            return validation.alias_name(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    @field_validator("tolerance", mode="before")
    @classmethod
    def _tolerance_given(cls, value: Any) -> Any:
        # Checked before the union, which would report each of its forms apart.
        if isinstance(value, Mapping):
            items = [(f"the tolerance of {k}", v) for k, v in value.items()]
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(
                "must be a finite number >= 0, or a table of metric = number; "
                f"got {as_written(value)}"
            )
        else:
            items = [("the tolerance", value)]
        for what, tol in items:
            if isinstance(tol, bool) or not isinstance(tol, int | float) or not 0 <= tol < inf:
                raise ValueError(f"{what} must be a finite number >= 0, got {as_written(tol)}")
        return value

    @field_validator("tolerance")
    @classmethod
    def _tolerance(cls, value: float | Mapping[str, float]) -> float | Mapping[str, float]:
        if isinstance(value, Mapping):
            frozen: Mapping[str, float] = freeze({_key(k): v for k, v in value.items()})
            return frozen
        return value

    @model_validator(mode="after")
    def _subsets(self) -> Params:
        named = set(self.metrics)
        extra = [k for k in self.lower_is_better if k not in named]
        if isinstance(self.tolerance, Mapping):
            extra += [k for k in self.tolerance if k not in named]
        if extra:
            raise ValueError(
                f"{', '.join(extra)} not among the compared metrics ({', '.join(self.metrics)})"
            )
        return self

    def tolerance_of(self, key: str) -> float:
        if isinstance(self.tolerance, Mapping):
            return self.tolerance.get(key, 0.0)
        return self.tolerance


def run(version: Version, params: Params, ctx: CheckContext) -> CheckResult:
    """Pass when no named metric is worse than on the served version, within tolerance."""
    served = ctx.served.get(params.alias)
    if served is None:
        return passed(
            NAME,
            f"alias {params.alias!r} serves no version: nothing to compare against",
            alias=params.alias,
            served=None,
        )
    compared: dict[str, Any] = {}
    worse: list[str] = []
    missing: list[str] = []
    skipped: list[str] = []
    for key in params.metrics:
        mine = metric_value(version, key, ctx)
        theirs = metric_value(served, key, ctx)
        lower = key in params.lower_is_better
        tol = params.tolerance_of(key)
        if mine is None:
            missing.append(key)
            continue
        if theirs is None:
            skipped.append(key)
            continue
        ok = mine <= theirs + tol if lower else mine >= theirs - tol
        compared[key] = {
            "version": mine,
            "served": theirs,
            "tolerance": tol,
            "lower_is_better": lower,
            "passed": ok,
        }
        if not ok:
            direction = "higher" if lower else "lower"
            worse.append(f"{key} {mine!r} is {direction} than {theirs!r} (tolerance {tol!r})")
    evidence: dict[str, JsonValue] = {
        "alias": params.alias,
        "served": served.number,
        "metrics": compared,
        "not_compared": [*skipped],
        "missing": [*missing],
    }
    against = f"{params.alias} (version {served.number})"
    if missing or worse:
        problems = [f"version {version.number} has no {k!r}" for k in missing] + worse
        hints = []
        if missing:
            hints.append(
                "register the metric with the version, or record online metrics on it "
                "(e.g. ctr@online) before this stage"
            )
        if worse:
            hints.append(f"a version at least as good as {against} on these metrics")
        return failed(
            NAME, f"against {against}: " + "; ".join(problems), "; ".join(hints), **evidence
        )
    if not compared:
        return passed(
            NAME,
            f"nothing to compare: {against} has none of {', '.join(params.metrics)}",
            **evidence,
        )
    note = f"; not compared (missing on {against}): {', '.join(skipped)}" if skipped else ""
    shown = ", ".join(f"{k} {v['version']!r} vs {v['served']!r}" for k, v in compared.items())
    return passed(NAME, f"not worse than {against}: {shown}{note}", **evidence)


CHECK = CheckDef(NAME, Params, run, "not worse than the version an alias serves, within tolerance")
