"""Bar charts of a simulation report, laid out as plain numbers for inline SVG.

engine/simulation/templates/report.html.j2 only draws what is computed here. The layout is
decided here, not left to the browser, so that nothing overlaps: the category labels under
the axis are turned 35° and may be long, so the legend goes below the lowest of them (and
wraps onto more rows when its names do not fit in one), the chart grows to hold both, and
the plot moves right when the first label would leave the chart on the left. Text widths
are estimated generously (`CHAR_WIDTH` per character of 10px text) and labels longer than
`MAX_LABEL` characters are shortened (the whole name stays in the tooltip).
`tests/simulate/test_charts.py` checks the boxes here and, in headless Chromium, the
boxes the browser actually draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

PALETTE = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#319795", "#718096")
WIDTH, PLOT_HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_TOP = 760, 212, 70, 10, 16
FONT = 10  # px, the size the template gives every text of a chart
CHAR_WIDTH = 6.4  # px per character at FONT, above the average of the sans-serif fonts
ASCENT, DESCENT = 10.0, 3.0  # px above and below the baseline, generously
ANGLE = -35.0  # degrees: category labels are turned this much about their end
MAX_LABEL = 24  # characters; longer category labels are shortened with "…"
GAP = 10.0  # px between the labels, the legend rows and the chart's bottom edge
SWATCH = 10.0  # px, the legend's colour square
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    color: str
    title: str


@dataclass
class Label:
    """A category's name under the axis, ending at (x, y) and turned by ANGLE."""
    x: float
    y: float
    text: str
    title: str

    def box(self) -> Box:
        return turned_box(self.x, self.y, text_width(self.text))


@dataclass
class LegendItem:
    x: float  # the colour square's corner; the name follows it
    y: float
    color: str
    name: str

    def box(self) -> Box:
        return (self.x, self.y, self.x + SWATCH + 4 + text_width(self.name), self.y + SWATCH + 2)


@dataclass
class Chart:
    title: str
    width: int = WIDTH
    height: int = PLOT_HEIGHT
    pad_left: float = PAD_LEFT
    bars: list[Bar] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)  # (y, label)
    labels: list[Label] = field(default_factory=list)
    legend: list[LegendItem] = field(default_factory=list)


def text_width(text: str) -> float:
    return len(text) * CHAR_WIDTH


def turned_box(x: float, y: float, width: float) -> Box:
    """The bounding box of text ending at (x, y) on its baseline, turned by ANGLE about it."""
    a = math.radians(ANGLE)
    corners = [(dx * math.cos(a) - dy * math.sin(a), dx * math.sin(a) + dy * math.cos(a))
               for dx in (-width, 0.0) for dy in (-ASCENT, DESCENT)]
    return (x + min(c[0] for c in corners), y + min(c[1] for c in corners),
            x + max(c[0] for c in corners), y + max(c[1] for c in corners))


def overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…"


def _plot_left(categories: list[str]) -> tuple[float, float]:
    """(left edge of the plot, width of one category's slot) such that every turned label
    stays inside the chart."""
    left = float(PAD_LEFT)
    for _ in range(3):  # a wider margin narrows the slots; settles in a step or two
        slot = (WIDTH - left - PAD_RIGHT) / max(1, len(categories))
        reach = max((-turned_box(left + (i + 0.5) * slot, 0, text_width(_short(c)))[0]
                     for i, c in enumerate(categories)), default=0.0)
        if reach <= -2:
            return left, slot
        left += reach + 2
    return left, (WIDTH - left - PAD_RIGHT) / max(1, len(categories))


def _scale(chart: Chart, top: float) -> float:
    top = max(top, 1.0)
    plot = PLOT_HEIGHT - PAD_TOP
    chart.ticks = [(PLOT_HEIGHT - plot * i / 4, f"{top * i / 4:,.0f}") for i in range(5)]
    return plot / top


def _finish(chart: Chart, categories: list[str], slot: float, names: list[str]) -> Chart:
    """Labels under the axis (every category, or every n-th when there are many), then the
    legend below the lowest label, then the chart's height."""
    every = max(1, len(categories) // 12)
    for i, category in enumerate(categories):
        if i % every == 0:
            chart.labels.append(Label(chart.pad_left + (i + 0.5) * slot, PLOT_HEIGHT + 14,
                                      _short(category), category))
    bottom = max([label.box()[3] for label in chart.labels] + [float(PLOT_HEIGHT)])
    x, y = chart.pad_left, bottom + GAP
    for s, name in enumerate(names):
        item = LegendItem(x, y, PALETTE[s % len(PALETTE)], name)
        if item.box()[2] > WIDTH - PAD_RIGHT and x > chart.pad_left:  # next row
            x, y = chart.pad_left, y + SWATCH + GAP
            item = LegendItem(x, y, item.color, name)
        chart.legend.append(item)
        x = item.box()[2] + 2 * GAP
    chart.height = math.ceil(max([i.box()[3] for i in chart.legend] + [bottom]) + GAP)
    return chart


def grouped_bars(title: str, categories: list[str], series: list[tuple[str, list[float]]],
                 ) -> Chart:
    """Bars per category, one per series side by side; a legend when there are several."""
    left, slot = _plot_left(categories)
    chart = Chart(title, pad_left=left)
    unit = _scale(chart, max([v for _, values in series for v in values] + [1.0]))
    width = max(1.0, slot * 0.8 / max(1, len(series)))
    for i, category in enumerate(categories):
        x0 = left + i * slot + slot * 0.1
        for s, (name, values) in enumerate(series):
            h = max(0.0, values[i]) * unit
            chart.bars.append(Bar(x0 + s * width, PLOT_HEIGHT - h, width, h,
                                  PALETTE[s % len(PALETTE)], f"{name} {category}: {values[i]:,.0f}"))
    return _finish(chart, categories, slot, [n for n, _ in series] if len(series) > 1 else [])


def stacked_bars(title: str, categories: list[str], layers: list[tuple[str, list[float]]],
                 ) -> Chart:
    """One bar per category, its layers stacked; a legend of the layers."""
    left, slot = _plot_left(categories)
    chart = Chart(title, pad_left=left)
    unit = _scale(chart, max([sum(values[i] for _, values in layers)
                              for i in range(len(categories))] + [1.0]))
    for i, category in enumerate(categories):
        x0, base = left + i * slot + slot * 0.1, float(PLOT_HEIGHT)
        for s, (name, values) in enumerate(layers):
            h = values[i] * unit
            base -= h
            chart.bars.append(Bar(x0, base, slot * 0.8, h, PALETTE[s % len(PALETTE)],
                                  f"{category} {name}: {values[i]:,.0f}"))
    return _finish(chart, categories, slot, [n for n, _ in layers])
