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
    chart = line_chart("auc", list(enumerate(values, 1)), len(values), (">=", values[0]))
    assert chart is not None
    assert math.isfinite(chart.low) and math.isfinite(chart.high) and chart.low < chart.high
    for point in chart.points:
        assert chart.top <= point.y <= chart.bottom, point
        assert chart.left <= point.x <= chart.right, point
    assert "nan" not in chart.polyline and "inf" not in chart.polyline
    assert chart.threshold_y is not None and chart.top <= chart.threshold_y <= chart.bottom
    # Order is kept: a higher value is drawn higher (a smaller y).
    by_value = sorted(chart.points, key=lambda p: p.value)
    assert [p.y for p in by_value] == sorted((p.y for p in by_value), reverse=True)


@pytest.mark.parametrize("values", EXTREMES, ids=lambda v: ",".join(map(str, v)))
def test_every_dot_of_a_slice_chart_is_on_the_chart(values: list[float]) -> None:
    dots = [(f"region={i}", v, "pass") for i, v in enumerate(values)]
    chart = slice_chart("auc", dots, (">=", values[-1]))
    assert math.isfinite(chart.low) and math.isfinite(chart.high) and chart.low < chart.high
    for dot in chart.dots:
        assert chart.left <= dot.x <= chart.right, dot
    assert chart.threshold_x is not None and chart.left <= chart.threshold_x <= chart.right
