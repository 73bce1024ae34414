"""Which campaigns a member may take part in now, and why not: each reason a campaign
does not apply to a member is a rule, compiled to the rule engine like the refusal rules
of redemptions and activities (engine/rules/questions.py), asked on one fact of the member
at an instant (no order).

For campaign `c` the rules are, in the order their reasons are reported:

- `campaigns.<id>.not_running` (`not_running`): the day is outside `schedule.from`…`to`;
- `campaigns.<id>.not_today` (`not_today`): its days of the week or monthly days do not
  include the day;
- `campaigns.<id>.tiers` (`tier_not_eligible`), `campaigns.<id>.segments`
  (`segment_not_eligible`): the member's tier or segments are not among those it names;
- `campaigns.<id>.participation` (`not_enrolled`): an opt-in campaign the member has not
  joined;
- `campaigns.<id>.limit_per_member` (`limit_reached`), `campaigns.<id>.budget`
  (`budget_exhausted`): the same limit rules as an order's (engine/rules/compile.py).

Order conditions (channels, minimum order, spend threshold, a coupon code) cannot be
decided without an order; the listing names them as conditions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.language.model import Campaign, Schedule
from engine.rules.compile import (
    CompiledRule,
    DecisionGroup,
    enrolled_field,
    limit_rules,
    schedule_condition,
)


@dataclass(frozen=True)
class Reason:
    campaign: str
    id: str  # the rule's id
    code: str


def _dates(schedule: Schedule) -> Schedule:
    return Schedule(start=schedule.start, end=schedule.end)


def _days(schedule: Schedule) -> Schedule:
    return Schedule(days_of_week=schedule.days_of_week, monthly=schedule.monthly)


def campaign_reasons(c: Campaign) -> list[tuple[Reason, dict[str, Any]]]:
    """The reason rules of campaign `c`, in the order they are reported."""
    out: list[tuple[Reason, dict[str, Any]]] = []

    def add(suffix: str, code: str, cond: dict[str, Any]) -> None:
        out.append((Reason(c.id, f"{c.rule_id}.{suffix}", code), cond))
    dates = schedule_condition(_dates(c.schedule))
    if dates:
        add("not_running", "not_running", {"not": {"all": dates}})
    days = schedule_condition(_days(c.schedule))
    if days:
        add("not_today", "not_today", {"not": {"all": days}})
    elig = c.eligibility
    if elig.tiers:
        add("tiers", "tier_not_eligible",
            {"not": {"field": "member.tier", "in": sorted(elig.tiers)}})
    if elig.segments:
        add("segments", "segment_not_eligible", {"not": {"any": [
            {"field": "member.attributes.segments", "contains": s} for s in sorted(elig.segments)]}})
    if c.participation == "opt_in":
        add("participation", "not_enrolled", {"not": {"field": enrolled_field(c.id), "eq": 1}})
    for rule in limit_rules([c]):
        code = "limit_reached" if rule.id.endswith(".limit_per_member") else "budget_exhausted"
        out.append((Reason(c.id, rule.id, code), dict(rule.condition)))
    return out


@dataclass(frozen=True)
class EligibilityQuestions:
    group: DecisionGroup
    reasons: tuple[Reason, ...]


def compile_eligibility(campaigns: Sequence[Campaign], name: str) -> EligibilityQuestions:
    rules = [pair for c in campaigns for pair in campaign_reasons(c)]
    return EligibilityQuestions(
        DecisionGroup(f"{name}#eligibility", [CompiledRule(r.id, cond) for r, cond in rules]),
        tuple(r for r, _ in rules))


__all__ = ["EligibilityQuestions", "Reason", "campaign_reasons", "compile_eligibility"]
