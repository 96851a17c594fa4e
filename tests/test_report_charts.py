"""The report's charts place every value on the chart, whatever finite values a version
carries: registration accepts any finite metric, and two far apart (+-1.7e308) span
more than a float holds, which drew `nan` points and `inf` axis labels."""

from __future__ import annotations

import math

import pytest

from modelbook.report_charts import line_chart, slice_chart

EXTREMES = [
    [1.7e308, -1.7e308],
    [1.7e308, 5e-324, -1.7e308],
    [-1.7e308, -1.7e308],
    [0.5, 0.5],
    [0.81, 0.93, 0.88],
]


@pytest.mark.parametrize("values", EXTREMES, ids=lambda v: ",".join(map(str, v)))
def test_every_point_of_a_line_chart_is_on_the_chart(values: list[float]) -> None:
    chart = line_chart("auc", list(enumerate(values, 1)), len(values), [(">=", values[0])])
    assert chart is not None
    assert math.isfinite(chart.low) and math.isfinite(chart.high) and chart.low < chart.high
    for point in chart.points:
        assert chart.top <= point.y <= chart.bottom, point
        assert chart.left <= point.x <= chart.right, point
    assert "nan" not in chart.polyline and "inf" not in chart.polyline
    assert [lim.text for lim in chart.limits] == [f">= {values[0]:.6g}"]
    assert all(chart.top <= lim.at <= chart.bottom for lim in chart.limits)
    # Order is kept: a higher value is drawn higher (a smaller y).
    by_value = sorted(chart.points, key=lambda p: p.value)
    assert [p.y for p in by_value] == sorted((p.y for p in by_value), reverse=True)


@pytest.mark.parametrize("values", EXTREMES, ids=lambda v: ",".join(map(str, v)))
def test_every_dot_of_a_slice_chart_is_on_the_chart(values: list[float]) -> None:
    dots = [(f"region={i}", v, "pass", [(">=", values[-1])]) for i, v in enumerate(values)]
    chart = slice_chart("auc", dots)
    assert math.isfinite(chart.low) and math.isfinite(chart.high) and chart.low < chart.high
    for dot in chart.dots:
        assert chart.left <= dot.x <= chart.right, dot
        assert len(dot.limits) == 1 and chart.left <= dot.limits[0].at <= chart.right


def test_each_row_of_a_slice_chart_has_its_own_thresholds_on_the_axis() -> None:
    """A limit only one row is held to, far from every value, is still on the chart; a row
    held to the same rule by two gates gets one tick; labels close together are printed
    on separate lines."""
    chart = slice_chart(
        "auc",
        [
            ("overall", 0.5, "fail", [(">=", 0.95), (">=", 0.95), (">", 0.951)]),
            ("region=eu", 0.6, "pass", [(">=", 0.4)]),
            ("region=us", 0.55, "-", []),
        ],
    )
    overall, eu, us = chart.dots
    assert [lim.text for lim in overall.limits] == [">= 0.95", "> 0.951"]
    assert [lim.text for lim in eu.limits] == [">= 0.4"] and us.limits == ()
    for lim in (*overall.limits, *eu.limits):
        assert chart.left <= lim.at <= chart.right, lim
    assert chart.low < 0.4 and chart.high > 0.951
    assert eu.limits[0].at < eu.x
    assert overall.x < overall.limits[0].at
    labels = {label.text: label for label in chart.labels}
    assert set(labels) == {">= 0.95", "> 0.951", ">= 0.4"}
    assert labels[">= 0.95"].y != labels["> 0.951"].y
    assert all(0 < label.y < chart.top for label in chart.labels)
    assert all(chart.top < dot.y < chart.height for dot in chart.dots)


def test_a_line_chart_draws_every_threshold_of_its_metric() -> None:
    chart = line_chart("auc", [(1, 0.8), (2, 0.9)], 2, [(">=", 0.85), (">=", 0.851)])
    assert chart is not None
    assert [lim.text for lim in chart.limits] == [">= 0.85", ">= 0.851"]
    near, far = sorted(chart.labels, key=lambda label: label.x)
    # Too close in height to share the right end: one moves left.
    assert near.x < far.x == chart.right
    assert line_chart("auc", [(1, 0.8)], 1, []) is not None
