"""HTML report of a simulation: one self-contained file (inline SVG, no scripts, no fonts).

Chart geometry is computed here as plain numbers; engine/simulation/templates/report.html.j2 draws
it with autoescaping on, so rule ids and program names can never inject markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

PALETTE = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#319795", "#718096")
WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 760, 260, 70, 48, 16


@dataclass
class Bar:
    x: float
    y: float
    w: float
    h: float
    color: str
    title: str


@dataclass
class Chart:
    title: str
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)  # (y, label)
    labels: list[tuple[float, str]] = field(default_factory=list)  # (x, label) under the axis
    legend: list[tuple[str, str]] = field(default_factory=list)  # (color, name)


def _scale(top: float) -> tuple[float, list[tuple[float, str]]]:
    top = max(top, 1.0)
    plot = HEIGHT - PAD_BOTTOM - PAD_TOP
    ticks = [(HEIGHT - PAD_BOTTOM - plot * i / 4, f"{top * i / 4:,.0f}") for i in range(5)]
    return plot / top, ticks


def grouped_bars(title: str, categories: list[str], series: list[tuple[str, list[float]]],
                 ) -> Chart:
    """Bars per category, one per series side by side."""
    chart = Chart(title)
    top = max([v for _, values in series for v in values] + [1.0])
    unit, chart.ticks = _scale(top)
    slot = (WIDTH - PAD_LEFT - 10) / max(1, len(categories))
    width = max(1.0, slot * 0.8 / max(1, len(series)))
    every = max(1, len(categories) // 12)
    for i, category in enumerate(categories):
        x0 = PAD_LEFT + i * slot + slot * 0.1
        for s, (name, values) in enumerate(series):
            h = max(0.0, values[i]) * unit
            chart.bars.append(Bar(x0 + s * width, HEIGHT - PAD_BOTTOM - h, width, h,
                                  PALETTE[s % len(PALETTE)], f"{name} {category}: {values[i]:,.0f}"))
        if i % every == 0:
            chart.labels.append((x0 + slot * 0.4, category))
    if len(series) > 1:
        chart.legend = [(PALETTE[s % len(PALETTE)], name) for s, (name, _) in enumerate(series)]
    return chart


def stacked_bars(title: str, categories: list[str], layers: list[tuple[str, list[float]]],
                 ) -> Chart:
    chart = Chart(title)
    totals = [sum(values[i] for _, values in layers) for i in range(len(categories))]
    unit, chart.ticks = _scale(max(totals + [1.0]))
    slot = (WIDTH - PAD_LEFT - 10) / max(1, len(categories))
    every = max(1, len(categories) // 12)
    for i, category in enumerate(categories):
        x0, base = PAD_LEFT + i * slot + slot * 0.1, float(HEIGHT - PAD_BOTTOM)
        for s, (name, values) in enumerate(layers):
            h = values[i] * unit
            base -= h
            chart.bars.append(Bar(x0, base, slot * 0.8, h, PALETTE[s % len(PALETTE)],
                                  f"{category} {name}: {values[i]:,.0f}"))
        if i % every == 0:
            chart.labels.append((x0 + slot * 0.4, category))
    chart.legend = [(PALETTE[s % len(PALETTE)], name) for s, (name, _) in enumerate(layers)]
    return chart


def _label(doc: dict[str, Any]) -> str:
    p = doc["program"]
    return f"{p['program']} v{p['version']}"


def charts(doc: dict[str, Any]) -> list[Chart]:
    other = doc.get("compare")
    names = [_label(doc)] + ([_label(other) + " (compare)"] if other else [])
    docs = [doc] + ([other] if other else [])
    months = sorted(set().union(*(d["by_month"] for d in docs)))
    out = [grouped_bars("Points issued per month", months,
                        [(n, [float(d["by_month"].get(m, {}).get("issued", 0)) for m in months])
                         for n, d in zip(names, docs)])]
    tier_months = sorted(doc["tiers"]["by_month"])
    tier_ids = list(doc["tiers"]["end"])
    out.append(stacked_bars("Members per tier over time (" + names[0] + ")", tier_months,
                            [(t, [float(doc["tiers"]["by_month"][m].get(t, 0))
                                  for m in tier_months]) for t in tier_ids]))
    campaigns = sorted(set().union(*(d["campaigns"] for d in docs)))
    out.append(grouped_bars("Cost per campaign (points)", campaigns or ["(none)"],
                            [(n, [float(d["campaigns"].get(c, {}).get("points", 0))
                                  for c in campaigns] or [0.0]) for n, d in zip(names, docs)]))
    if other:
        keys = ["points_issued", "points_reversed", "points_redeemed", "points_expired",
                "points_outstanding"]
        out.append(grouped_bars("Version A vs B", [k.replace("points_", "") for k in keys],
                                [(n, [float(d["totals"][k]) for k in keys])
                                 for n, d in zip(names, docs)]))
    return out


def _env() -> Environment:
    return Environment(loader=PackageLoader("engine.simulation", "templates"),
                       autoescape=select_autoescape(["html", "j2"], default=True),
                       trim_blocks=True, lstrip_blocks=True)


def render(doc: dict[str, Any], *, title: str | None = None) -> str:
    """The HTML report of a `simulate()` document."""
    other = doc.get("compare")
    rules = sorted(set(doc["by_rule"]) | set(other["by_rule"] if other else {}))
    rows = [(r, doc["by_rule"].get(r, 0), other["by_rule"].get(r, 0) if other else None)
            for r in rules]
    template = _env().get_template("report.html.j2")
    return template.render(doc=doc, other=other, charts=charts(doc), rule_rows=rows,
                           title=title or f"Simulation of {_label(doc)}",
                           label=_label(doc), other_label=_label(other) if other else None,
                           fmt=_fmt)


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "—" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (str, Decimal)):
        try:
            return f"{Decimal(str(value)):,.2f}"
        except ArithmeticError:
            return str(value)
    return str(value)
