"""Milestones as rules: whether a member's lifetime counts reach a milestone of the
ruleset's `engagement:` section is a condition compiled to the rule engine like every
other applicability question (engine/rules/questions.py), asked on one fact of the
member after an order is booked.

For milestone `m` the rule `engagement.milestones.<id>` holds when:

- `orders`: `member.orders_count` ≥ target (orders placed, lifetime);
- `spend`: `member.lifetime_spend` ≥ target (qualifying spend, lifetime);
- `points`: `member.lifetime_points` ≥ target (earn and bonus credits, lifetime);
- `streak_months`: `member.streak_months` ≥ target (consecutive program-local months
  with an order, up to the order's month);
- `first_in_category`: `order.categories` contains the category.

Python counts (engine/lifecycle/milestones.py) and keeps each milestone reached once per
member; the rule engine decides which are reached. The group depends only on the
milestones, so it is compiled once per distinct tuple of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.language.model import Milestone
from engine.rules.compile import CompiledRule, DecisionGroup
from engine.rules.questions import shared

__all__ = ["FIELDS", "milestone_condition", "milestone_group", "milestone_rules"]

ORDERS, SPEND, POINTS = "member.orders_count", "member.lifetime_spend", "member.lifetime_points"
STREAK, CATEGORIES = "member.streak_months", "order.categories"
FIELDS = {"orders": ORDERS, "spend": SPEND, "points": POINTS, "streak_months": STREAK}


def milestone_condition(m: Milestone) -> dict[str, Any]:
    if m.measure == "first_in_category":
        return {"field": CATEGORIES, "contains": m.category}
    target: Any = str(m.target) if m.measure == "spend" else int(m.target)
    return {"field": FIELDS[m.measure], "gte": target}


def milestone_rules(milestones: Sequence[Milestone]) -> list[CompiledRule]:
    return [CompiledRule(m.rule_id, milestone_condition(m)) for m in milestones]


def milestone_group(milestones: tuple[Milestone, ...]) -> DecisionGroup | None:
    """The milestones' rules, compiled once per distinct tuple (None: no milestones)."""
    if not milestones:
        return None
    return shared("milestones", milestones, lambda: milestone_rules(milestones))
