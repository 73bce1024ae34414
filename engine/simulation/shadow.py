"""Shadow evaluation, compared: what the live version and a version in shadow answered to
the same live request, and the report of a shadow run in the format of `simulate --compare`.

The store evaluates each live quote and commit against the version in shadow through the
same lifecycle core as the live answer (store/shadow/), and hands both result JSONs here:

* `side_of` reads what one result decided: the points of each rule (the order's, its
  activities' and its upgrade bonus), the tier after it, the redemption decision;
* `differences` names the kinds of difference between the two (`points`, `tier`,
  `redemption`);
* `counters` turns one side into the counters the store adds up across requests and
  processes, and `document` turns the added-up counters of both sides back into the
  report document of `engine.simulation.simulate` (with its `compare` block), so the text,
  JSON and HTML reports of a simulation show a shadow run too.

Only commits count as orders (points issued, spend, points by rule, campaigns); quotes
count as requests, and their redemption decisions and differences are counted too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from engine.program import Program
from engine.simulation.simulate import compare_block
from engine.simulation.stats import Stats, month_key, report
from engine.simulation.versions import source_of

KINDS = ("points", "tier", "redemption")  # the kinds of difference, in report order
CENTS = Decimal(100)
# counters of one side that are Stats counters of the same name
TABLES = ("by_rule", "by_category", "campaign_points", "campaign_orders", "caps_orders_over",
          "redemptions")


@dataclass(frozen=True)
class Side:
    """What one version's result decided for a request."""

    points: int
    by_rule: dict[str, int]
    tier: str | None
    decision: str | None  # accepted | declined:<CODE>; None without a redemption asked
    order: bool
    spend_cents: int = 0
    month: str | None = None
    by_category: dict[str, int] = field(default_factory=dict)
    campaigns: tuple[tuple[str, int], ...] = ()
    caps_hit: tuple[str, ...] = ()
    upgraded: bool = False


def side_of(program: Program, request: Mapping[str, Any], result: Mapping[str, Any]) -> Side:
    """Read one result (a quote's, or a commit's with its `commit` block)."""
    earn = result.get("earn") or {}
    by_rule: Counter[str] = Counter({r: int(p) for r, p in (earn.get("by_rule") or {}).items()})
    for activity in result.get("activities") or ():
        by_rule[activity["rule"]] += int(activity["points"])
    upgrade = result.get("upgrade")
    if upgrade and upgrade.get("bonus_points"):
        by_rule[upgrade["rule"]] += int(upgrade["bonus_points"])
    commit = result.get("commit")
    points = int(commit["points_awarded"]) if commit else sum(by_rule.values())
    tier = commit["tier"] if commit else result.get("tier_after")
    decision = None
    if request.get("redeem"):
        assessment = result.get("redemption") or {}
        reasons = assessment.get("reasons") or []
        decision = ("accepted" if assessment.get("eligible")
                    else "declined:" + (reasons[0]["code"] if reasons else "NOT_ELIGIBLE"))
    if commit is None:
        return Side(points, dict(by_rule), tier, decision, order=False)
    lines = earn.get("lines") or ()
    categories: Counter[str] = Counter()
    for line in lines:
        categories[line["category"]] += int(line["points"])
    spend = sum((Decimal(line["eligible_amount"]) for line in lines), Decimal(0))
    placed = (result.get("order") or {}).get("placed_at")
    month = (month_key(datetime.fromisoformat(placed).astimezone(program.timezone))
             if placed else None)
    return Side(points, {r: p for r, p in by_rule.items() if p}, tier, decision, order=True,
                spend_cents=int(spend * CENTS), month=month, by_category=dict(categories),
                campaigns=tuple((c["id"], int(c["points"])) for c in result.get("campaigns") or ()),
                caps_hit=tuple((result.get("usage") or {}).get("caps_hit") or ()),
                upgraded=bool(upgrade))


def differences(live: Side, shadow: Side) -> list[str]:
    """The kinds of difference between what the two versions decided."""
    kinds = []
    if live.points != shadow.points or live.by_rule != shadow.by_rule:
        kinds.append("points")
    if live.tier != shadow.tier:
        kinds.append("tier")
    if live.decision != shadow.decision:
        kinds.append("redemption")
    return kinds


def counters(side: Side) -> Iterable[tuple[str, str, int]]:
    """(kind, key, amount) counters of one side for one request."""
    if side.decision is not None:
        yield "redemptions", side.decision, 1
    if not side.order:
        return
    yield "totals", "orders", 1
    yield "totals", "spend_cents", side.spend_cents
    yield "totals", "points_issued", side.points
    if side.upgraded:
        yield "totals", "upgrades", 1
    if side.month:
        yield "by_month.orders", side.month, 1
        yield "by_month.issued", side.month, side.points
    for rule, points in side.by_rule.items():
        yield "by_rule", rule, points
    for category, points in side.by_category.items():
        yield "by_category", category, points
    for cid, points in side.campaigns:
        yield "campaign_points", cid, points
        yield "campaign_orders", cid, 1
    for rule in side.caps_hit:
        yield "caps_orders_over", rule, 1


@dataclass(frozen=True)
class MemberFigures:
    """A member over a run: points of their orders on each side, each side's tier after
    their latest order, and on how many of their requests the two tiers differed."""

    member_id: str
    live_points: int
    shadow_points: int
    live_tier: str | None
    shadow_tier: str | None
    tier_differences: int = 0


def stats_of(counts: Mapping[tuple[str, str], int], tiers: Iterable[str | None],
             first_tier: str) -> Stats:
    """The Stats of one side from its added-up counters and its members' tiers."""
    stats = Stats()
    for (kind, key), value in counts.items():
        if kind in TABLES:
            getattr(stats, kind)[key] += value
        elif kind.startswith("by_month."):
            stats.month(key)[kind.split(".", 1)[1]] += value
    totals = {key: value for (kind, key), value in counts.items() if kind == "totals"}
    stats.orders = totals.get("orders", 0)
    stats.issued = totals.get("points_issued", 0)
    stats.upgrades = totals.get("upgrades", 0)
    stats.spend = Decimal(totals.get("spend_cents", 0)) / CENTS
    stats.processed = stats.orders
    stats.by_type["order"] = stats.orders
    for tier in tiers:
        stats.members += 1
        stats.tiers_end[tier or first_tier] += 1
    return stats


def _doc(program: Program, stats: Stats) -> dict[str, Any]:
    model = program.model
    point_value = model.redemption.point_value if model.redemption else Decimal(0)
    tier_ids = tuple(t.id for t in model.tiers.levels) if model.tiers else ("none",)
    budgets = {c.id: c.budget_points for c in model.campaigns if c.budget_points is not None}
    return report(stats, point_value=point_value, tier_ids=tier_ids,
                  budgets=budgets,  # type: ignore[arg-type]
                  campaign_budget_used={},
                  program={"program": program.program, "version": program.version,
                           "digest": program.digest, "source": source_of(program)},
                  campaigns=tuple(c.id for c in model.campaigns))


def document(live: Program, shadow: Program, live_counts: Mapping[tuple[str, str], int],
             shadow_counts: Mapping[tuple[str, str], int], members: list[MemberFigures],
             run: dict[str, Any]) -> dict[str, Any]:
    """The report of a shadow run: the document of `simulate --compare` with the live
    version as the simulated one and the version in shadow as the compared one, plus a
    `shadow` block (`run`: requests, evaluations, failures, drops, differences by kind,
    members whose tier would differ, and the samples)."""
    def first(program: Program) -> str:
        return program.model.tiers.levels[0].id if program.model.tiers else "none"

    doc = _doc(live, stats_of(live_counts, (m.live_tier for m in members), first(live)))
    other = _doc(shadow, stats_of(shadow_counts, (m.shadow_tier for m in members), first(shadow)))
    # a member's "balance" in a shadow report: the points their orders earned over the run
    outcomes = {m.member_id: (m.live_points, 0, m.live_points, m.live_tier or first(live))
                for m in members}
    other_outcomes = {m.member_id: (m.shadow_points, 0, m.shadow_points,
                                    m.shadow_tier or first(shadow)) for m in members}
    for d, outs in ((doc, outcomes), (other, other_outcomes)):
        d["totals"]["sum_of_member_balances"] = sum(o[2] for o in outs.values())
    doc["compare"] = compare_block(live, shadow, doc, other, outcomes, other_outcomes)
    doc["shadow"] = {**run, "members_tier_differs": sum(1 for m in members
                                                         if m.tier_differences)}
    return doc
