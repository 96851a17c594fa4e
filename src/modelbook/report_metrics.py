"""A version's metrics against the policy's thresholds, and their charts (pure).

Part of :func:`modelbook.report.build_report`: which ``metric`` rules of the
policy apply to which metric of the version (:func:`metric_rows`), one chart
per sliced metric (:func:`slice_charts`) and the headline metric across the
model's versions (:func:`trend`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .annotations import compare
from .checks.metric import MetricRule
from .domain import Metric, Version
from .policy import Policy
from .report_charts import LineChart, SliceChart, line_chart, slice_chart

MAX_SLICE_CHARTS = 4


@dataclass(frozen=True)
class Threshold:
    """One policy rule on one metric: where it gates, and whether the value meets it."""

    rule: str
    stage: str
    op: str
    limit: float
    passed: bool


@dataclass(frozen=True)
class MetricRow:
    """A metric of the version (``value`` None: a threshold names a metric it lacks)."""

    name: str
    split: str | None
    slice: str
    value: float | None
    thresholds: tuple[Threshold, ...]

    @property
    def key(self) -> str:
        text = self.name + (f"@{self.split}" if self.split else "")
        return text + (f"{{{self.slice}}}" if self.slice else "")

    @property
    def verdict(self) -> str:
        """``pass``, ``fail`` or ``-`` (no threshold applies)."""
        if not self.thresholds:
            return "-"
        return "pass" if all(t.passed for t in self.thresholds) else "fail"


def threshold_rules(policy: Policy, tier: str) -> tuple[tuple[str, MetricRule], ...]:
    """``(stage, rule)`` for every ``metric`` rule of the tier's gates, in stage order."""
    found: list[tuple[str, MetricRule]] = []
    for stage in policy.graph.stages:
        for spec in policy.gate(tier, stage):
            if spec.check == "metric":
                found.extend((stage, rule) for rule in getattr(spec.params, "rules", ()))
    return tuple(found)


def _applies(rule: MetricRule, m: Metric) -> bool:
    if rule.name != m.name or rule.split != m.split:
        return False
    if rule.every_slice:
        return bool(m.slice)
    return rule.slice == tuple(sorted(m.slice.items()))


def metric_rows(version: Version, rules: Sequence[tuple[str, MetricRule]]) -> tuple[MetricRow, ...]:
    """The version's metrics with the thresholds that apply to each, and a row with no
    value for each rule that names a metric the version lacks."""
    rows: list[MetricRow] = []
    used: set[int] = set()
    for m in sorted(version.metrics, key=lambda m: (m.name, m.split or "", m.slice_key)):
        applied = []
        for i, (stage, rule) in enumerate(rules):
            if _applies(rule, m):
                used.add(i)
                passed = compare(m.value, rule.op, rule.threshold)
                applied.append(Threshold(str(rule), stage, rule.op, rule.threshold, passed))
        rows.append(MetricRow(m.name, m.split, m.slice_key, m.value, tuple(applied)))
    for i, (stage, rule) in enumerate(rules):
        if i not in used:
            slice_text = "*" if rule.every_slice else ",".join(f"{k}={v}" for k, v in rule.slice)
            rows.append(
                MetricRow(
                    rule.name,
                    rule.split,
                    slice_text,
                    None,
                    (Threshold(str(rule), stage, rule.op, rule.threshold, False),),
                )
            )
    return tuple(rows)


def slice_charts(rows: Sequence[MetricRow]) -> tuple[SliceChart, ...]:
    groups: dict[tuple[str, str | None], list[MetricRow]] = {}
    for row in rows:
        if row.value is not None:
            groups.setdefault((row.name, row.split), []).append(row)
    charts = []
    for (name, split), members in groups.items():
        if len(members) < 2 and not members[0].thresholds:
            continue
        title = name + (f"@{split}" if split else "")
        # Each row carries its own rules: the overall value and the slices are often held
        # to different thresholds ("auc@test >= 0.85" and "auc@test{*} >= 0.9").
        dots = [
            (
                r.slice or "overall",
                r.value or 0.0,
                r.verdict,
                [(t.op, t.limit) for t in r.thresholds],
            )
            for r in members
        ]
        charts.append(slice_chart(title, dots))
        if len(charts) == MAX_SLICE_CHARTS:
            break
    return tuple(charts)


def headline_metric(version: Version, rows: Sequence[MetricRow]) -> Metric | None:
    """The metric the trend follows: the first one a threshold applies to, else the
    version's first offline metric without a slice, else its first metric."""
    for row in rows:
        if row.thresholds and row.value is not None:
            return next(
                m
                for m in version.metrics
                if m.name == row.name and m.split == row.split and m.slice_key == row.slice
            )
    plain = [m for m in version.metrics if not m.slice]
    chosen = sorted(plain or version.metrics, key=lambda m: (m.name, m.split or "", m.slice_key))
    return chosen[0] if chosen else None


def trend(
    version: Version, history: Sequence[Version], rows: Sequence[MetricRow]
) -> LineChart | None:
    """The headline metric over ``history`` and ``version``, by version number."""
    metric = headline_metric(version, rows)
    if metric is None:
        return None
    points = []
    for v in sorted({v.number: v for v in (*history, version)}.values(), key=lambda v: v.number):
        value = v.metric(metric.name, metric.split, **dict(metric.slice))
        if value is not None:
            points.append((v.number, value))
    limits = [
        (t.op, t.limit)
        for r in rows
        if r.name == metric.name and r.split == metric.split and r.slice == metric.slice_key
        for t in r.thresholds
    ]
    return line_chart(metric.key, points, version.number, limits)
