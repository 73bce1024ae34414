"""Figures a simulation accumulates, merged across workers, and rendered as JSON.

Everything here is a sum (or a count) over members, so the figures of a run partitioned
by member are the sums of the partitions' figures, whatever the partitioning.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from engine.calendar import month_text

ZERO = Decimal(0)
MONTH_FIELDS = ("issued", "reversed", "redeemed", "expired", "orders")
MAX_ERRORS = 200


def month_key(d: datetime) -> str:
    return month_text(d)


def next_month_start(key: str, tz: ZoneInfo) -> datetime:
    year, month = int(key[:4]), int(key[5:])
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return datetime(year, month, 1, tzinfo=tz)


def months_between(first: str, last: str) -> list[str]:
    out, year, month = [], int(first[:4]), int(first[5:])
    while f"{year}-{month:02d}" <= last:
        out.append(f"{year}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


@dataclass
class Stats:
    issued: int = 0
    reversed: int = 0
    redeemed: int = 0
    expired: int = 0
    cashback_paid: Decimal = ZERO
    cashback_reversed: Decimal = ZERO
    spend: Decimal = ZERO
    refunded: Decimal = ZERO
    orders: int = 0
    members: int = 0
    members_implicit: int = 0
    processed: int = 0
    rejected: int = 0
    upgrades: int = 0
    downgrades: int = 0
    by_type: Counter = field(default_factory=Counter)
    by_rule: Counter = field(default_factory=Counter)
    by_category: Counter = field(default_factory=Counter)
    by_month: dict[str, Counter] = field(default_factory=dict)
    campaign_points: Counter = field(default_factory=Counter)
    campaign_orders: Counter = field(default_factory=Counter)
    caps_orders_over: Counter = field(default_factory=Counter)
    caps_reached: Counter = field(default_factory=Counter)
    redemptions: Counter = field(default_factory=Counter)  # accepted / declined:<CODE>
    activities: Counter = field(default_factory=Counter)
    tiers_end: Counter = field(default_factory=Counter)
    tiers_by_month: dict[str, Counter] = field(default_factory=dict)
    milestones: Counter = field(default_factory=Counter)  # milestone id → members reaching it
    milestone_points: Counter = field(default_factory=Counter)  # milestone id → points given
    messages: Counter = field(default_factory=Counter)  # "event type|channel" → messages sent
    suppressed: Counter = field(default_factory=Counter)  # reason → messages not sent
    errors: list[tuple[int, str]] = field(default_factory=list)
    first_month: str | None = None
    last_ts: float = float("-inf")

    def month(self, key: str) -> Counter:
        counter = self.by_month.get(key)
        if counter is None:
            counter = self.by_month[key] = Counter()
        return counter

    def reject(self, line: int, message: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append((line, message))

    def merge(self, other: Stats) -> None:
        for name in ("issued", "reversed", "redeemed", "expired", "cashback_paid",
                     "cashback_reversed", "spend", "refunded", "orders", "members",
                     "members_implicit", "processed", "rejected", "upgrades", "downgrades"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("by_type", "by_rule", "by_category", "campaign_points", "campaign_orders",
                     "caps_orders_over", "caps_reached", "redemptions", "activities", "tiers_end",
                     "milestones", "milestone_points", "messages", "suppressed"):
            getattr(self, name).update(getattr(other, name))
        for table in ("by_month", "tiers_by_month"):
            mine = getattr(self, table)
            for key, counter in getattr(other, table).items():
                mine.setdefault(key, Counter()).update(counter)
        self.errors = sorted(self.errors + other.errors)[:MAX_ERRORS]
        if other.first_month and (not self.first_month or other.first_month < self.first_month):
            self.first_month = other.first_month
        self.last_ts = max(self.last_ts, other.last_ts)


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _rate(part: int, whole: int) -> str:
    return str((Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"))) if whole else "0.0000"


def balances(doc: dict[str, Any], opening: int, point_value: Decimal) -> None:
    """Adds to a report the points outstanding and the liability at the end of each
    month (`opening`, the points outstanding before the first, plus the months' moves),
    and the redemption and breakage rates: points redeemed, and points expired, per
    point issued."""
    running = opening
    for figures in doc["by_month"].values():
        running += (figures["issued"] - figures["reversed"] - figures["redeemed"]
                    - figures["expired"])
        figures["outstanding"] = running
        figures["liability"] = _money(running * point_value)
    totals = doc["totals"]
    totals["redemption_rate"] = _rate(totals["points_redeemed"], totals["points_issued"])
    totals["breakage_rate"] = _rate(totals["points_expired"], totals["points_issued"])


def engagement(stats: Stats, milestones: tuple[str, ...], point_value: Decimal
               ) -> dict[str, Any]:
    """The `engagement` block: milestones reached and the points they cost, messages per
    event type and channel (planned with default preferences), messages suppressed by
    reason (engine/engagement/plan.py)."""
    messages: dict[str, dict[str, int]] = {}
    for key, count in sorted(stats.messages.items()):
        kind, channel = key.split("|")
        messages.setdefault(kind, {})[channel] = count
    cost = sum(stats.milestone_points.values())
    return {
        "milestones": {m: {"reached": stats.milestones.get(m, 0),
                           "points": stats.milestone_points.get(m, 0)}
                       for m in sorted(set(milestones) | set(stats.milestones))},
        "milestones_reached": sum(stats.milestones.values()),
        "milestone_points": cost,
        "milestone_cost": _money(cost * point_value),
        "messages": messages,
        "messages_sent": sum(stats.messages.values()),
        "messages_suppressed": dict(sorted(stats.suppressed.items())),
    }


def report(stats: Stats, *, point_value: Decimal, tier_ids: tuple[str, ...],
           budgets: dict[str, int], campaign_budget_used: dict[str, int],
           program: dict[str, Any], campaigns: tuple[str, ...] = (),
           opening: int = 0, milestones: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON document of one simulated ruleset (see docs/simulation.md); `campaigns`
    are the ruleset's campaign ids, each reported even when it earned nothing (and
    `milestones` its milestone ids, each reported even when no member reached it);
    `opening` the points outstanding before the first month (a simulation starts from
    none)."""
    outstanding = opening + stats.issued - stats.reversed - stats.redeemed - stats.expired
    months = sorted(stats.by_month)
    tiers_by_month = {m: {t: stats.tiers_by_month.get(m, Counter()).get(t, 0) for t in tier_ids}
                      for m in sorted(stats.tiers_by_month)}
    campaign_ids = sorted(set(stats.campaign_points) | set(budgets) | set(campaigns))
    doc = {
        "program": program,
        "totals": {
            "points_issued": stats.issued,
            "points_reversed": stats.reversed,
            "points_redeemed": stats.redeemed,
            "points_expired": stats.expired,
            "points_outstanding": outstanding,
            "liability": _money(outstanding * point_value),
            "cashback_issued": _money(stats.cashback_paid),
            "cashback_paid": _money(stats.cashback_paid - stats.cashback_reversed),
            "cashback_reversed": _money(stats.cashback_reversed),
            "orders": stats.orders,
            "spend": _money(stats.spend),
            "refunded": _money(stats.refunded),
            "upgrades": stats.upgrades,
            "downgrades": stats.downgrades,
        },
        "members": stats.members,
        "members_enrolled_implicitly": stats.members_implicit,
        "events": {"processed": stats.processed, "rejected": stats.rejected,
                   "by_type": dict(sorted(stats.by_type.items())),
                   "errors": [{"line": line, "message": msg} for line, msg in stats.errors]},
        "by_rule": dict(sorted((k, v) for k, v in stats.by_rule.items() if v)),
        "by_category": dict(sorted((k, v) for k, v in stats.by_category.items())),
        "by_month": {m: {f: stats.by_month[m].get(f, 0) for f in MONTH_FIELDS} for m in months},
        "campaigns": {
            cid: {"points": stats.campaign_points.get(cid, 0),
                  "orders": stats.campaign_orders.get(cid, 0),
                  "cost": _money(stats.campaign_points.get(cid, 0) * point_value),
                  "budget": budgets.get(cid),
                  "budget_used": campaign_budget_used.get(cid) if cid in budgets else None}
            for cid in campaign_ids},
        "tiers": {"end": {t: stats.tiers_end.get(t, 0) for t in tier_ids},
                  "by_month": tiers_by_month},
        "caps": {rule: {"orders_over_cap": stats.caps_orders_over.get(rule, 0),
                        "times_reached": stats.caps_reached.get(rule, 0)}
                 for rule in sorted(set(stats.caps_orders_over) | set(stats.caps_reached))},
        "redemptions": dict(sorted(stats.redemptions.items())),
        "activities": dict(sorted(stats.activities.items())),
        "engagement": engagement(stats, milestones, point_value),
    }
    balances(doc, opening, point_value)
    return doc
