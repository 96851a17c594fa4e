"""``metric``: thresholds on named metrics, on one slice or on every slice.

Policy::

    check = "metric"
    rules = ["auc@test >= 0.85", "logloss@test <= 0.40", "auc@test{*} >= 0.80"]

A rule is ``METRIC OP NUMBER`` with OP one of ``> >= < <= == !=``. METRIC is
a metric key as registered (``auc``, ``auc@test``, ``auc@test{region=eu}``)
or ``NAME@SPLIT{*}``: every slice of that metric, of which there must be at
least one. A metric the version lacks fails the rule; a key the version was
not registered with is also looked up in its online observations.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, JsonValue, PlainSerializer

from .. import validation
from ..annotations import OPS, Op, compare
from ..domain import Frozen, Version
from ..errors import InvalidInput
from .base import CheckContext, CheckDef, CheckParams, CheckResult, failed, metric_value, passed

NAME = "metric"

_RULE = re.compile(
    r"\s*(?P<name>[A-Za-z_][A-Za-z0-9_.:/-]*)"
    r"(?:@(?P<split>[A-Za-z0-9_.-]+))?"
    r"(?:\{(?P<slice>[^{}]*)\})?"
    r"\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>\S+)\s*"
)


class MetricRule(Frozen):
    """One threshold: ``name@split{slice} op threshold``.

    ``slice`` holds the slice's ``(key, value)`` pairs sorted by key; empty for
    the unsliced metric. ``every_slice`` is set for ``{*}``.
    """

    name: str
    split: str | None = None
    slice: tuple[tuple[str, str], ...] = ()
    every_slice: bool = False
    op: Op
    threshold: float

    @property
    def metric(self) -> str:
        """The metric part as written: ``auc@test{region=eu}`` or ``auc@test{*}``."""
        text = self.name + (f"@{self.split}" if self.split else "")
        if self.every_slice:
            return text + "{*}"
        if self.slice:
            text += "{" + ",".join(f"{k}={v}" for k, v in self.slice) + "}"
        return text

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold!r}"


def parse_rule(text: str) -> MetricRule:
    """A rule from text such as ``"auc@test{region=eu} >= 0.8"``.

    Raises:
        InvalidInput: not ``METRIC OP NUMBER``, a malformed metric key, or a
            threshold that is not a finite number.
    """
    match = _RULE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(
            f"invalid metric rule {text!r}: write METRIC OP NUMBER, e.g. 'auc@test >= 0.85' "
            f"or 'auc@test{{*}} >= 0.8', with OP one of {' '.join(OPS)}"
        )
    name, split, slice_text = match["name"], match["split"], match["slice"]
    threshold = validation.number(match["value"], f"threshold of metric rule {text!r}")
    every = slice_text is not None and slice_text.strip() == "*"
    key = name + (f"@{split}" if split else "")
    if slice_text is not None and not every:
        key += "{" + slice_text + "}"
    parsed = validation.metric(key, 0.0)
    return MetricRule(
        name=parsed.name,
        split=parsed.split,
        slice=tuple(sorted(parsed.slice.items())),
        every_slice=every,
        op=match["op"],
        threshold=threshold,
    )


def _rule(value: Any) -> Any:
    if isinstance(value, MetricRule):
        return value
    try:
        return parse_rule(value)
    except InvalidInput as exc:
        # pydantic reports a ValueError with the rule's place in the policy.
        raise ValueError(exc.message) from None


Rule = Annotated[MetricRule, BeforeValidator(_rule), PlainSerializer(str, return_type=str)]


class Params(CheckParams):
    """``rules``: one or more threshold rules, all of which must hold."""

    rules: tuple[Rule, ...] = Field(min_length=1)


def _judge(
    version: Version, rule: MetricRule, ctx: CheckContext
) -> tuple[bool, str, str | None, dict[str, JsonValue]]:
    if rule.every_slice:
        values = {
            m.key: m.value
            for m in version.metrics
            if m.name == rule.name and m.split == rule.split and m.slice
        }
        if not values:
            example = rule.metric.replace("{*}", "{region=eu}")
            return (
                False,
                f"{rule.metric}: version {version.number} has no slices of this metric",
                f"register a version with slice metrics such as --metric '{example}=VALUE'",
                {},
            )
    else:
        value = metric_value(version, rule.metric, ctx)
        if value is None:
            return (
                False,
                f"metric {rule.metric!r} is not registered on version {version.number}",
                f"register a version with --metric '{rule.metric}=VALUE' "
                "(a registered version never changes)",
                {},
            )
        values = {rule.metric: value}
    bad = {k: v for k, v in values.items() if not compare(v, rule.op, rule.threshold)}
    seen: dict[str, JsonValue] = dict(values)
    if bad:
        shown = ", ".join(f"{k} = {v!r}" for k, v in sorted(bad.items()))
        return (
            False,
            f"{shown}, needs {rule.op} {rule.threshold!r}",
            f"register a version whose {rule.metric} is {rule.op} {rule.threshold!r}",
            seen,
        )
    shown = ", ".join(f"{k} = {v!r}" for k, v in sorted(values.items()))
    return True, f"{shown} ({rule.op} {rule.threshold!r})", None, seen


def run(version: Version, params: Params, ctx: CheckContext) -> CheckResult:
    """Pass when every rule holds; the evidence lists each rule's values."""
    outcomes = [(str(rule), *_judge(version, rule, ctx)) for rule in params.rules]
    evidence: list[JsonValue] = [
        {"rule": text, "passed": ok, "values": values} for text, ok, _, _, values in outcomes
    ]
    failing = [(message, hint) for _, ok, message, hint, _ in outcomes if not ok]
    if failing:
        hints = "; ".join(dict.fromkeys(h for _, h in failing if h))
        return failed(NAME, "; ".join(m for m, _ in failing), hints or None, rules=evidence)
    return passed(NAME, "; ".join(message for _, _, message, _, _ in outcomes), rules=evidence)


CHECK = CheckDef(NAME, Params, run, "thresholds on named metrics, on one slice or every slice")
