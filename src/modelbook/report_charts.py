"""The geometry of a report's small charts (pure).

Two charts: one metric over its slices against the policy's threshold
(:func:`slice_chart`), and one metric across the model's versions
(:func:`line_chart`). Only coordinates are computed here, in the SVG's user
units; the HTML template draws them, so every label passes through the
template's escaping and nothing is spliced into markup by hand.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

SLICE_WIDTH = 340
"""Width of a slice chart, in SVG units (pixels at 100 %)."""
LABEL_WIDTH = 110
VALUE_WIDTH = 50
ROW_HEIGHT = 12
ROW_GAP = 6
TOP = 16
LINE_WIDTH = 340
LINE_HEIGHT = 122
MAX_SLICES = 12
MAX_POINTS = 40


@dataclass(frozen=True)
class Dot:
    label: str
    value: float
    x: float
    y: float
    status: str
    """``pass``, ``fail`` or ``-`` (no threshold applies)."""


@dataclass(frozen=True)
class SliceChart:
    """One metric over its slices: a dot per slice on a shared axis, the threshold as a
    vertical line. The axis spans the values and the threshold (not from zero), so that
    slices a few hundredths apart are told apart; each value is printed beside its dot."""

    title: str
    width: int
    height: int
    row_height: int
    label_width: int
    left: float
    right: float
    dots: tuple[Dot, ...]
    low: float
    high: float
    threshold: tuple[str, float] | None
    threshold_x: float | None
    more: int
    """Slices left out to keep the chart small."""


@dataclass(frozen=True)
class Point:
    number: int
    value: float
    x: float
    y: float
    current: bool


@dataclass(frozen=True)
class LineChart:
    """One metric over the model's versions; the reported version is ``current``."""

    metric: str
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    points: tuple[Point, ...]
    polyline: str
    low: float
    high: float
    threshold: tuple[str, float] | None
    threshold_y: float | None


def _domain(values: Sequence[float], share: float) -> tuple[float, float]:
    """The axis for ``values``: from the lowest to the highest, widened by ``share`` of
    their span on each side, and never past the largest float (registration accepts
    any finite value, and two far apart span more than a float holds)."""
    low, high = min(values), max(values)
    if math.isclose(low, high):
        pad = (abs(high) * 0.05 or 1.0) * (1 + 2 * share)
    else:
        pad = (high / 2 - low / 2) * 2 * share
    return max(low - pad, -sys.float_info.max), min(high + pad, sys.float_info.max)


def _share(value: float, low: float, high: float) -> float:
    """How far ``value`` lies from ``low`` towards ``high`` (0 to 1), computed on halves
    so that no difference overflows."""
    return (value / 2 - low / 2) / (high / 2 - low / 2)


def slice_chart(
    title: str, dots: Sequence[tuple[str, float, str]], threshold: tuple[str, float] | None
) -> SliceChart:
    """A dot per ``(label, value, status)`` (the first :data:`MAX_SLICES`), and
    ``threshold`` ``(op, limit)`` drawn across them."""
    shown = list(dots[:MAX_SLICES])
    values = [v for _, v, _ in shown] + ([threshold[1]] if threshold else [])
    low, high = _domain(values, 0.1)
    left, right = float(LABEL_WIDTH), float(SLICE_WIDTH - VALUE_WIDTH)

    def x_of(value: float) -> float:
        return round(left + _share(value, low, high) * (right - left), 1)

    row = ROW_HEIGHT + ROW_GAP
    drawn = tuple(
        Dot(label=label, value=value, x=x_of(value), y=TOP + i * row + row / 2, status=status)
        for i, (label, value, status) in enumerate(shown)
    )
    return SliceChart(
        title=title,
        width=SLICE_WIDTH,
        height=TOP + len(shown) * row + 16,
        row_height=row,
        label_width=LABEL_WIDTH,
        left=left,
        right=right,
        dots=drawn,
        low=low,
        high=high,
        threshold=threshold,
        threshold_x=None if threshold is None else x_of(threshold[1]),
        more=len(dots) - len(shown),
    )


def line_chart(
    metric: str,
    points: Sequence[tuple[int, float]],
    current: int,
    threshold: tuple[str, float] | None,
) -> LineChart | None:
    """``metric`` by version number (the last :data:`MAX_POINTS` versions that carry it,
    ``current`` always among them); None without any point."""
    ordered = sorted(points)
    if not ordered:
        return None
    if len(ordered) > MAX_POINTS:
        keep = ordered[-MAX_POINTS:]
        if all(n != current for n, _ in keep):
            keep = [p for p in ordered if p[0] == current] + keep[1:]
        ordered = sorted(keep)
    values = [v for _, v in ordered] + ([threshold[1]] if threshold else [])
    low, high = _domain(values, 0.08)
    left, right, top, bottom = 44.0, LINE_WIDTH - 14.0, 18.0, LINE_HEIGHT - 22.0
    count = len(ordered)

    def y_of(value: float) -> float:
        return round(bottom - _share(value, low, high) * (bottom - top), 1)

    drawn = tuple(
        Point(
            number=n,
            value=v,
            x=round(left + (i / (count - 1) if count > 1 else 0.5) * (right - left), 1),
            y=y_of(v),
            current=n == current,
        )
        for i, (n, v) in enumerate(ordered)
    )
    return LineChart(
        metric=metric,
        width=LINE_WIDTH,
        height=LINE_HEIGHT,
        left=left,
        right=right,
        top=top,
        bottom=bottom,
        points=drawn,
        polyline=" ".join(f"{p.x},{p.y}" for p in drawn),
        low=low,
        high=high,
        threshold=threshold,
        threshold_y=None if threshold is None else y_of(threshold[1]),
    )
