"""Small SVG charts for the pages, as values: positions and labels computed here, drawn by
the templates (no script, no inline style: the pages' CSP allows neither)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 36  # room for the y-axis labels and the dates


def nice_top(peak: float) -> float:
    """The axis's top: 1, 2, 2.5 or 5 times a power of ten, at or above the peak."""
    if peak <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(peak))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= peak)


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: float
    ticks: list[dict[str, Any]]  # y-axis: {"y", "label"}
    marks: list[dict[str, Any]]  # bars or points: {"x", "y", "height", "label", "value"}
    line: str  # a polyline's points ("" for bars)


def _y(value: float, top: float) -> float:
    return round(TOP + (HEIGHT - TOP - BOTTOM) * (1 - value / top), 1)


def _ticks(top: float, unit: str, *, whole: bool = False) -> list[dict[str, Any]]:
    values = [round(top * n / 4) if whole else top * n / 4 for n in range(0, 5)]
    return [{"y": _y(v, top), "label": f"{v:g}{unit}"} for v in values]


def bars(points: Sequence[tuple[date, float]], *, unit: str = "") -> Chart:
    """A bar per period (oldest first), labelled with its date and whole value."""
    top = nice_top(max([v for _d, v in points] + [0]))
    step = (WIDTH - LEFT - RIGHT) / max(len(points), 1)
    marks = []
    for n, (day, value) in enumerate(points):
        y = _y(value, top)
        marks.append(
            {
                "x": round(LEFT + n * step + step * 0.15, 1),
                "w": round(step * 0.7, 1),
                "y": y,
                "height": round(_y(0, top) - y, 1),
                "label": f"{day.day} {day:%b}",
                "label_x": round(LEFT + n * step + step / 2, 1),
                "value": round(value),
            }
        )
    return Chart(WIDTH, HEIGHT, _y(0, top), _ticks(top, unit), marks, "")


def scores(points: Sequence[tuple[date, int]], *, high: int) -> Chart:
    """Totals of one instrument over time (oldest first), on its whole scale (0 to `high`)."""
    top = float(high)
    step = (WIDTH - LEFT - RIGHT) / max(len(points), 1)
    marks = []
    for n, (day, total) in enumerate(points):
        x = round(LEFT + n * step + step / 2, 1)
        marks.append(
            {
                "x": x,
                "y": _y(total, top),
                "label": f"{day.day} {day:%b %y}",
                "label_x": x,
                "value": total,
            }
        )
    line = " ".join(f"{m['x']},{m['y']}" for m in marks)
    return Chart(WIDTH, HEIGHT, _y(0, top), _ticks(top, "", whole=True), marks, line)


def trend(points: Sequence[tuple[str, float | None]], *, unit: str = "") -> Chart:
    """A line over periods (oldest first); a period with no figure (withheld, or nothing
    to measure) has no point and says so under the axis."""
    known = [v for _label, v in points if v is not None]
    top = nice_top(max([*known, 0]))
    step = (WIDTH - LEFT - RIGHT) / max(len(points), 1)
    marks = []
    for n, (label, value) in enumerate(points):
        x = round(LEFT + n * step + step / 2, 1)
        marks.append(
            {
                "x": x,
                "y": _y(value, top) if value is not None else None,
                "label": label,
                "label_x": x,
                "value": None if value is None else round(value, 1),
            }
        )
    line = " ".join(f"{m['x']},{m['y']}" for m in marks if m["y"] is not None)
    return Chart(WIDTH, HEIGHT, _y(0, top), _ticks(top, unit), marks, line)
