"""HTML report of a simulation: one self-contained file (inline SVG, no scripts, no fonts).

The rows of its tables (shared with the text report of `loyalty simulate`) and its charts
(laid out in engine/simulation/charts.py) are computed here as plain values;
engine/simulation/templates/report.html.j2 draws them with autoescaping on, so rule ids and
program names can never inject markup. With a compare, every rule and campaign of either
version is a row, labelled with the version(s) it belongs to (engine/simulation/versions.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from engine.simulation.charts import Chart, grouped_bars, stacked_bars
from engine.simulation.versions import BASE, COMPARE, labels, where, where_text


@dataclass(frozen=True)
class RuleRow:
    """A row of "points by rule": `where` ("both", "only in …") and the points of the
    compared version only with a compare; None where a version does not have the rule."""
    rule: str
    where: str | None
    a: int | None
    b: int | None
    delta: int | None


@dataclass(frozen=True)
class CampaignRow:
    """A campaign's figures (orders, points, cost, budget, budget_used) in each version;
    None where a version does not have the campaign."""
    campaign: str
    where: str | None
    a: dict[str, Any] | None
    b: dict[str, Any] | None


def names(doc: dict[str, Any]) -> tuple[str, str | None]:
    """The names of the simulated version and of the compared one (None without)."""
    other = doc.get("compare")
    return labels(doc["program"], other["program"] if other else None)


def _where(name: str, in_base: bool, in_other: bool, versions: dict[str, str]) -> str:
    """Where the compare's `versions` puts a row; for a row it does not know (a document
    edited after the run), where its figures are."""
    return versions.get(name) or where(in_base, in_other)


def rule_rows(doc: dict[str, Any]) -> list[RuleRow]:
    """Points by rule: without a compare, the rules that credited points; with one, every
    rule of either version that can credit points, with where it is ("both", "only in …")
    and its points in each (None where the version does not have it)."""
    other = doc.get("compare")
    if other is None:
        return [RuleRow(r, None, p, None, None) for r, p in doc["by_rule"].items()]
    versions = other.get("versions", {}).get("rules", {})
    rows: list[RuleRow] = []
    for rule in sorted(set(versions) | set(doc["by_rule"]) | set(other["by_rule"])):
        place = _where(rule, rule in doc["by_rule"], rule in other["by_rule"], versions)
        a = doc["by_rule"].get(rule, 0) if place != COMPARE else None
        b = other["by_rule"].get(rule, 0) if place != BASE else None
        rows.append(RuleRow(rule, where_text(place, names(doc)), a, b, (b or 0) - (a or 0)))
    return rows


def campaign_rows(doc: dict[str, Any]) -> list[CampaignRow]:
    """Every campaign of either version, with where it is and its figures in each (None
    where the version does not have it)."""
    other = doc.get("compare")
    if other is None:
        return [CampaignRow(c, None, f, None) for c, f in doc["campaigns"].items()]
    versions = other.get("versions", {}).get("campaigns", {})
    rows: list[CampaignRow] = []
    for cid in sorted(set(doc["campaigns"]) | set(other["campaigns"])):
        place = _where(cid, cid in doc["campaigns"], cid in other["campaigns"], versions)
        rows.append(CampaignRow(cid, where_text(place, names(doc)), doc["campaigns"].get(cid),
                                other["campaigns"].get(cid)))
    return rows


@dataclass(frozen=True)
class FigureRow:
    """One engagement figure: its value in the simulated version and, with a compare,
    in the compared one (None where a document has no such figure)."""
    figure: str
    a: Any
    b: Any

    @property
    def delta(self) -> Any:
        """b − a, for numbers and decimal strings (None without both)."""
        if self.a is None or self.b is None:
            return None
        difference = Decimal(str(self.b)) - Decimal(str(self.a))
        return int(difference) if isinstance(self.a, int) else str(difference)


def _engagement_figures(doc: dict[str, Any] | None) -> dict[str, Any]:
    block = (doc or {}).get("engagement") or {}
    out: dict[str, Any] = {"milestones reached": block.get("milestones_reached", 0),
                           "milestone points": block.get("milestone_points", 0),
                           "milestone cost": block.get("milestone_cost", "0.00")}
    for mid, figures in (block.get("milestones") or {}).items():
        out[f"milestone {mid}: reached"] = figures["reached"]
        out[f"milestone {mid}: points"] = figures["points"]
    out["messages sent"] = block.get("messages_sent", 0)
    for kind, channels in (block.get("messages") or {}).items():
        for channel, n in channels.items():
            out[f"messages {kind} by {channel}"] = n
    for reason, n in (block.get("messages_suppressed") or {}).items():
        out[f"messages suppressed: {reason}"] = n
    return out


def engagement_rows(doc: dict[str, Any]) -> list[FigureRow]:
    """Milestones reached, the points they cost, messages per event type and channel, and
    messages suppressed by reason; with a compare, the figures of either version."""
    other = doc.get("compare")
    a = _engagement_figures(doc)
    b = _engagement_figures(other) if other else {}
    names = list(a) + [k for k in b if k not in a]
    return [FigureRow(n, a.get(n), b.get(n) if other else None) for n in names]


def charts(doc: dict[str, Any]) -> list[Chart]:
    other = doc.get("compare")
    a, b = names(doc)
    series_names = [a] + ([b] if b else [])
    docs = [doc] + ([other] if other else [])
    months = sorted(set().union(*(d["by_month"] for d in docs)))
    out = [grouped_bars("Points issued per month", months,
                        [(n, [float(d["by_month"].get(m, {}).get("issued", 0)) for m in months])
                         for n, d in zip(series_names, docs)])]
    tier_months = sorted(doc["tiers"]["by_month"])
    tier_ids = list(doc["tiers"]["end"])
    out.append(stacked_bars(f"Members per tier over time ({a})", tier_months,
                            [(t, [float(doc["tiers"]["by_month"][m].get(t, 0))
                                  for m in tier_months]) for t in tier_ids]))
    campaigns = sorted(set().union(*(d["campaigns"] for d in docs)))
    out.append(grouped_bars("Cost per campaign (points)", campaigns or ["(none)"],
                            [(n, [float(d["campaigns"].get(c, {}).get("points", 0))
                                  for c in campaigns] or [0.0])
                             for n, d in zip(series_names, docs)]))
    if other:
        keys = ["points_issued", "points_reversed", "points_redeemed", "points_expired",
                "points_outstanding"]
        out.append(grouped_bars("Version A vs B", [k.replace("points_", "") for k in keys],
                                [(n, [float(d["totals"][k]) for k in keys])
                                 for n, d in zip(series_names, docs)]))
    return out


def _env() -> Environment:
    return Environment(loader=PackageLoader("engine.simulation", "templates"),
                       autoescape=select_autoescape(["html", "j2"], default=True),
                       trim_blocks=True, lstrip_blocks=True)


def render(doc: dict[str, Any], *, title: str | None = None) -> str:
    """The HTML report of a `simulate()` document."""
    label, other_label = names(doc)
    template = _env().get_template("report.html.j2")
    return template.render(doc=doc, other=doc.get("compare"), charts=charts(doc),
                           rule_rows=rule_rows(doc), campaign_rows=campaign_rows(doc),
                           engagement_rows=engagement_rows(doc),
                           title=title or f"Simulation of {label}",
                           label=label, other_label=other_label, fmt=_fmt)


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
