"""Geometry for the server-rendered SVG bar charts of usage per day (no chart library)."""

import math
from collections.abc import Callable
from dataclasses import dataclass

from usage.models import amount
from usage.prices import money
from usage.selectors import DayUsage


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
    text: str  # the value for people: "3 images", "$0.12"


@dataclass(frozen=True)
class Tick:
    y: float
    value: int
    text: str


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
    total_text: str
    peak_text: str


def _tick_step(peak: int) -> int:
    """The smallest round step (1, 2, 3, 5 × 10^k) so that four steps reach the peak."""
    needed = max(1, math.ceil(peak / 4))
    exponent = 10 ** math.floor(math.log10(needed))
    for step in (1, 2, 3, 5, 10):
        if step * exponent >= needed:
            return step * exponent
    return 10 * exponent


def _images(value: int) -> str:
    return f"{value} image{'' if value == 1 else 's'}"


def _cost(value: int) -> str:
    return money(amount(value))


MEASURES: dict[
    str, tuple[Callable[[DayUsage], int], Callable[[int], str], Callable[[int], str]]
] = {
    # measure: (value of a day, the value in words, a tick label)
    "images": (lambda d: d.images, _images, str),
    "cost": (lambda d: d.cost_micros, _cost, _cost),
}


def bar_chart(
    days: list[DayUsage], *, measure: str = "images", width: int = 720, height: int = 220
) -> BarChart:
    value_of, words, tick_text = MEASURES[measure]
    left = 40 if measure == "images" else 56
    right, top, bottom_margin = 8, 10, 26
    plot_w = width - left - right
    plot_h = height - top - bottom_margin
    bottom = top + plot_h
    values = [value_of(d) for d in days]
    peak = max(values, default=0)
    if measure == "cost" and peak:
        # Round the axis to whole cents (10,000 micros) so tick labels read as money.
        step = _tick_step(math.ceil(peak / 10_000)) * 10_000
    else:
        step = _tick_step(peak)
    axis_max = 4 * step
    slot = plot_w / max(1, len(days))
    bars = []
    for i, (day, value) in enumerate(zip(days, values, strict=True)):
        h = plot_h * max(0, value) / axis_max
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
                value=value,
                text=words(value),
            )
        )
    ticks = [
        Tick(y=round(bottom - plot_h * k / 4, 2), value=step * k, text=tick_text(step * k))
        for k in range(5)
    ]
    total = sum(values)
    return BarChart(
        width=width,
        height=height,
        left=left,
        bottom=bottom,
        label_y=bottom + 18,
        bars=bars,
        ticks=ticks,
        total=total,
        peak=peak,
        total_text=words(total),
        peak_text=words(peak),
    )
