"""The geometry of a report's small charts (pure).

Two charts: one metric over its slices, each slice against the policy's
thresholds that apply to it (:func:`slice_chart`), and one metric across the
model's versions (:func:`line_chart`). Only coordinates are computed here, in the SVG's user
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
LABEL_LINE = 10
"""Height of a line of threshold labels, in SVG units."""
CHAR_WIDTH = 5.6
"""The width of a character of a 10 px label, a little over the average, so that labels
estimated apart are apart."""


@dataclass(frozen=True)
class Limit:
    """A policy threshold ``op limit`` drawn at ``at`` on the value axis (x on a slice
    chart, y on a line chart)."""

    op: str
    limit: float
    at: float

    @property
    def text(self) -> str:
        return f"{self.op} {self.limit:.6g}"


@dataclass(frozen=True)
class Label:
    """The text of a threshold, where the chart prints it."""

    text: str
    x: float
    y: float


@dataclass(frozen=True)
class Dot:
    label: str
    value: float
    x: float
    y: float
    status: str
    """``pass``, ``fail`` or ``-`` (no threshold applies)."""
    limits: tuple[Limit, ...]
    """The thresholds this row is judged by, each a tick across the row."""


@dataclass(frozen=True)
class SliceChart:
    """One metric over its slices: a dot per slice on a shared axis, each threshold that
    applies to a slice as a tick across its row (the overall value and the slices are
    often held to different rules). The axis spans the values and every threshold (not
    from zero), so that slices a few hundredths apart are told apart; each value is
    printed beside its dot, each distinct threshold above the rows."""

    title: str
    width: int
    height: int
    row_height: int
    label_width: int
    left: float
    right: float
    top: int
    """Where the first row starts, below the threshold labels."""
    dots: tuple[Dot, ...]
    low: float
    high: float
    labels: tuple[Label, ...]
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
    """One metric over the model's versions; the reported version is ``current``, each
    threshold on that metric a horizontal line."""

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
    limits: tuple[Limit, ...]
    labels: tuple[Label, ...]


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


def _distinct(limits: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
    """``limits`` without repeats (two gates may hold a metric to the same rule)."""
    return list(dict.fromkeys(limits))


def _lanes(spans: Sequence[tuple[float, float]]) -> list[int]:
    """A lane for each ``(start, end)`` span, the lowest in which it overlaps no span
    placed before it, so that labels near each other are printed apart."""
    ends: list[float] = []
    lanes = []
    for start, end in spans:
        lane = next((i for i, last in enumerate(ends) if last <= start), len(ends))
        if lane == len(ends):
            ends.append(end)
        else:
            ends[lane] = end
        lanes.append(lane)
    return lanes


def _width(text: str) -> float:
    return len(text) * CHAR_WIDTH


def slice_chart(
    title: str, dots: Sequence[tuple[str, float, str, Sequence[tuple[str, float]]]]
) -> SliceChart:
    """A dot per ``(label, value, status, limits)`` (the first :data:`MAX_SLICES`), with a
    tick across its row for each ``(op, limit)`` of ``limits``."""
    shown = [
        (label, value, status, _distinct(limits))
        for label, value, status, limits in dots[:MAX_SLICES]
    ]
    every = _distinct([limit for *_, limits in shown for limit in limits])
    low, high = _domain([v for _, v, _, _ in shown] + [limit for _, limit in every], 0.1)
    left, right = float(LABEL_WIDTH), float(SLICE_WIDTH - VALUE_WIDTH)

    def x_of(value: float) -> float:
        return round(left + _share(value, low, high) * (right - left), 1)

    texts = sorted(
        ((x_of(limit), Limit(op, limit, 0).text) for op, limit in every),
        key=lambda item: item[0] - _width(item[1]) / 2,
    )
    lanes = _lanes([(x - _width(t) / 2 - 3, x + _width(t) / 2 + 3) for x, t in texts])
    top = TOP + LABEL_LINE * max(lanes, default=0)
    labels = tuple(
        Label(text=t, x=x, y=top - 7 - LABEL_LINE * lane)
        for (x, t), lane in zip(texts, lanes, strict=True)
    )
    row = ROW_HEIGHT + ROW_GAP
    drawn = tuple(
        Dot(
            label=label,
            value=value,
            x=x_of(value),
            y=top + i * row + row / 2,
            status=status,
            limits=tuple(Limit(op, limit, x_of(limit)) for op, limit in limits),
        )
        for i, (label, value, status, limits) in enumerate(shown)
    )
    return SliceChart(
        title=title,
        width=SLICE_WIDTH,
        height=top + len(shown) * row + 16,
        row_height=row,
        label_width=LABEL_WIDTH,
        left=left,
        right=right,
        top=top,
        dots=drawn,
        low=low,
        high=high,
        labels=labels,
        more=len(dots) - len(shown),
    )


def line_chart(
    metric: str,
    points: Sequence[tuple[int, float]],
    current: int,
    limits: Sequence[tuple[str, float]],
) -> LineChart | None:
    """``metric`` by version number (the last :data:`MAX_POINTS` versions that carry it,
    ``current`` always among them), a line for each ``(op, limit)`` of ``limits``; None
    without any point."""
    ordered = sorted(points)
    if not ordered:
        return None
    if len(ordered) > MAX_POINTS:
        keep = ordered[-MAX_POINTS:]
        if all(n != current for n, _ in keep):
            keep = [p for p in ordered if p[0] == current] + keep[1:]
        ordered = sorted(keep)
    limits = _distinct(limits)
    low, high = _domain([v for _, v in ordered] + [limit for _, limit in limits], 0.08)
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
    drawn_limits = tuple(Limit(op, limit, y_of(limit)) for op, limit in limits)
    # Labels sit above their line at the right end; one too close to another in height
    # moves left, by the widest label, as far as it must.
    by_height = sorted(drawn_limits, key=lambda lim: lim.at)
    lanes = _lanes([(lim.at - 3 - LABEL_LINE, lim.at - 2) for lim in by_height])
    shift = max((_width(lim.text) for lim in by_height), default=0) + 8
    labels = tuple(
        Label(text=lim.text, x=round(right - lane * shift, 1), y=lim.at - 3)
        for lim, lane in zip(by_height, lanes, strict=True)
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
        limits=drawn_limits,
        labels=labels,
    )
