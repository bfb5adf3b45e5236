"""Geometry for the server-rendered SVG bar chart of images per day (no chart library)."""

import math
from dataclasses import dataclass

from usage.selectors import DayCount


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    center: float
    day: str
    label: str | None  # an x-axis label under some bars, to keep the axis readable
    value: int


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    left: int
    bottom: float
    label_y: float
    bars: list[Bar]
    ticks: list[Tick]
    total: int
    peak: int


def _tick_step(peak: int) -> int:
    """The smallest round step (1, 2, 3, 5 × 10^k) so that four steps reach the peak."""
    needed = max(1, math.ceil(peak / 4))
    exponent = 10 ** math.floor(math.log10(needed))
    for step in (1, 2, 3, 5, 10):
        if step * exponent >= needed:
            return step * exponent
    return 10 * exponent


def bar_chart(days: list[DayCount], *, width: int = 720, height: int = 220) -> BarChart:
    left, right, top, bottom_margin = 40, 8, 10, 26
    plot_w = width - left - right
    plot_h = height - top - bottom_margin
    bottom = top + plot_h
    peak = max((d.images for d in days), default=0)
    step = _tick_step(peak)
    axis_max = 4 * step
    slot = plot_w / max(1, len(days))
    bars = []
    for i, day in enumerate(days):
        h = plot_h * day.images / axis_max
        x = left + i * slot + slot * 0.15
        # Label today and every 7th day before it: labels never crowd each other.
        labelled = (len(days) - 1 - i) % 7 == 0
        bars.append(
            Bar(
                x=round(x, 2),
                y=round(bottom - h, 2),
                width=round(slot * 0.7, 2),
                height=round(h, 2),
                center=round(x + slot * 0.35, 2),
                day=day.day.isoformat(),
                label=day.day.strftime("%b %-d") if labelled else None,
                value=day.images,
            )
        )
    ticks = [Tick(y=round(bottom - plot_h * k / 4, 2), value=step * k) for k in range(5)]
    return BarChart(
        width=width,
        height=height,
        left=left,
        bottom=bottom,
        label_y=bottom + 18,
        bars=bars,
        ticks=ticks,
        total=sum(d.images for d in days),
        peak=peak,
    )
