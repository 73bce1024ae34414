"""The yes/no questions beyond which rules apply to an order, as condition trees compiled
to the rule engine like every other rule (engine/rules/compile.py):

- `tiers`: which tiers' thresholds (min spend **and** min orders of the window) a
  member's qualifying spend and orders meet — `tiers.<id>.qualification`;
- `challenges`: which tier challenges' goals the challenge spend reaches —
  `campaigns.<id>.goal`;
- `activity`: which campaigns apply to an activity (referral campaigns: their schedule
  and eligibility, on the member and the activity's program-local instant) —
  `campaigns.<id>`;
- `redemption`: each refusal reason of a redemption is a rule (`redemption_rules`), in
  the order its reason is reported;
- `refusals`: each refusal reason of an activity is a rule (`activity_refusal_rules`):
  who may refer whom, an activity not offered on its own, a birthday bonus not due, an
  activity's limit reached — in the order its reason is reported.

Python computes the numbers and flags the questions are asked about (spend, counts,
shortfalls: `points − balance`, `quantity − stock left`, the uses left of an activity's
limit; whether a birthday is on record, whether a referral would close a circle — the
walk up the referrals is Python's, the decision that it refuses is the rule's: engine/
lifecycle/policies.py); the engine compares them with the ruleset's thresholds on exact
integer codes and its answers are cached per code (engine/rules/encoding.py). Groups
depend only on the part of the ruleset they read, so they are compiled once per distinct
part (`tier_group`, `redemption_group`, `activity_refusal_group`) and shared by every
program version, store and simulator call that has the same part.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.language.model import Campaign, Redemption, Ruleset
from engine.rules.compile import CompiledRule, DecisionGroup, campaign_condition

_SERIAL = itertools.count(1)
_GROUPS: dict[tuple[str, Hashable], DecisionGroup] = {}

# Fields of the questions' facts.
QUALIFYING_SPEND, QUALIFYING_ORDERS = "member.qualifying_spend", "member.qualifying_orders"
BALANCE = "member.balance"


def shared(kind: str, value: Hashable, rules: Callable[[], Sequence[CompiledRule]]
           ) -> DecisionGroup:
    """The group of `kind` compiled for `value` (a hashable part of a ruleset): compiled
    the first time it is asked for, then the same object."""
    group = _GROUPS.get((kind, value))
    if group is None:
        group = _GROUPS[(kind, value)] = DecisionGroup(f"{kind}~{next(_SERIAL)}", rules())
    return group


# ---------------------------------------------------------------- tiers and challenges

def tier_rules(ids: Sequence[str], thresholds: Sequence[tuple[Decimal, int]]
               ) -> list[CompiledRule]:
    return [CompiledRule(f"tiers.{tier}.qualification", {"all": [
        {"field": QUALIFYING_SPEND, "gte": str(spend)},
        {"field": QUALIFYING_ORDERS, "gte": orders}]})
        for tier, (spend, orders) in zip(ids, thresholds)]


def tier_group(ids: tuple[str, ...], thresholds: tuple[tuple[Decimal, int], ...]
               ) -> DecisionGroup:
    """Qualification of the tiers `ids` with these (min spend, min orders) thresholds."""
    return shared("tiers", (ids, thresholds), lambda: tier_rules(ids, thresholds))


def challenge_field(campaign_id: str) -> str:
    return f"member.challenge_spend.{campaign_id}"


def challenge_rules(campaigns: Sequence[Campaign]) -> list[CompiledRule]:
    return [CompiledRule(f"{c.rule_id}.goal",
                         {"field": challenge_field(c.id), "gte": str(c.target_spend)})
            for c in campaigns if c.type == "tier_challenge" and c.target_spend is not None]


def activity_rules(campaigns: Sequence[Campaign]) -> list[CompiledRule]:
    """Campaigns that apply to activities: a referral campaign (asked about referrals
    only), while its schedule and eligibility hold for the referrer at the activity's
    instant — the same condition as in the order group, under the same id."""
    return [CompiledRule(c.rule_id, campaign_condition(c))
            for c in campaigns if c.type == "referral"]


# ---------------------------------------------------------------- redemption

@dataclass(frozen=True)
class Reason:
    """One refusal rule (of a redemption, or of an activity): its compiled id, the reason
    code it reports, and what it is about."""

    id: str
    code: str
    # what it is about: "any" redemption, paying with "points", a "reward"; for an
    # activity, "any" activity or the one it names
    path: str
    reward: str | None = None  # the one reward it is about (None: any)


# redeem.kind: "points" (paying with points), "max_points" (no redemption asked: what
# could be paid is assessed), "reward" (a catalog reward)
REDEEM_KIND, REDEEM_POINTS = "redeem.kind", "redeem.points"
OVER_BALANCE, OVER_SHARE = "redeem.points_over_balance", "redeem.points_over_max"
REWARD_ID, REWARD_SHORT, REWARD_OVER = "reward.id", "reward.stock_short", "reward.cost_over_balance"
MEMBER_TIER, ORDER_TOTAL = "member.tier", "order.total"

_PAYING = {"field": REDEEM_KIND, "eq": "points"}
_POINTS = {"field": REDEEM_KIND, "in": ["max_points", "points"]}
_SOLVENT = {"field": BALANCE, "gte": 0}


def redemption_rules(config: Redemption) -> list[tuple[Reason, dict[str, Any]]]:
    """The refusal rules of `config`, in the order their reasons are reported."""
    ids = sorted(r.id for r in config.catalog)
    known = {"all": [{"field": REDEEM_KIND, "eq": "reward"}, {"field": REWARD_ID, "in": ids}]}
    out: list[tuple[Reason, dict[str, Any]]] = [
        (Reason("redemption.refund_policy", "NEGATIVE_BALANCE", "any"),
         {"field": BALANCE, "lt": 0}),
        (Reason("redemption.min_points", "BELOW_MINIMUM", "points"),
         {"all": [_POINTS, {"field": REDEEM_POINTS, "lt": config.min_points}]}),
        (Reason("redemption.balance", "INSUFFICIENT_POINTS", "points"),
         {"all": [_PAYING, {"field": OVER_BALANCE, "gt": 0}, _SOLVENT]}),
        (Reason("redemption.max_order_fraction", "EXCEEDS_ORDER_SHARE", "points"),
         {"all": [_PAYING, {"not": {"field": OVER_BALANCE, "gt": 0}},
                  {"field": OVER_SHARE, "gt": 0}, _SOLVENT]}),
        (Reason("redemption.catalog.unknown", "UNKNOWN_REWARD", "reward"),
         {"all": [{"field": REDEEM_KIND, "eq": "reward"},
                  {"not": {"field": REWARD_ID, "in": ids}}]}),
    ]
    for r in config.catalog:
        if r.tiers:
            out.append((Reason(f"{r.rule_id}.tiers", "TIER_RESTRICTED", "reward", r.id), {"all": [
                known, {"field": REWARD_ID, "eq": r.id},
                {"not": {"field": MEMBER_TIER, "in": sorted(r.tiers)}}]}))
    out.append((Reason("redemption.catalog.stock", "OUT_OF_STOCK", "reward"),
                {"all": [known, {"field": REWARD_SHORT, "gt": 0}]}))
    out.append((Reason("redemption.catalog.balance", "INSUFFICIENT_POINTS", "reward"),
                {"all": [known, {"field": REWARD_OVER, "gt": 0}, _SOLVENT]}))
    for r in config.catalog:
        if r.min_order is not None:
            out.append((Reason(f"{r.rule_id}.min_order", "BELOW_MIN_ORDER", "reward", r.id), {"all": [
                known, {"field": REWARD_ID, "eq": r.id},
                {"field": ORDER_TOTAL, "lt": str(r.min_order)}]}))
    return out


@dataclass(frozen=True)
class RedemptionQuestions:
    """The refusal rules of one redemption section, in two groups: paying with points
    (and assessing what could be paid), and catalog rewards — each fact reads only its
    own fields, so its cache key is no longer than it needs to be."""

    points: DecisionGroup
    rewards: DecisionGroup
    reasons: tuple[Reason, ...]

    def group(self, kind: str) -> DecisionGroup:
        """The group that decides a redemption of `kind` (REDEEM_KIND)."""
        return self.rewards if kind == "reward" else self.points

    @property
    def groups(self) -> tuple[DecisionGroup, DecisionGroup]:
        return self.points, self.rewards


_REDEMPTION: dict[Redemption, RedemptionQuestions] = {}
_SEEN: dict[int, tuple[Redemption, RedemptionQuestions]] = {}  # by id: no hashing per call


def redemption_group(config: Redemption) -> RedemptionQuestions:
    """The refusal rules of `config`, compiled once per distinct redemption section."""
    seen = _SEEN.get(id(config))
    if seen is not None and seen[0] is config:
        return seen[1]
    found = _REDEMPTION.get(config)
    if found is None:
        rules = redemption_rules(config)

        def of(path: str) -> Callable[[], list[CompiledRule]]:
            return lambda: [CompiledRule(r.id, cond) for r, cond in rules
                            if r.path in ("any", path)]
        found = _REDEMPTION[config] = RedemptionQuestions(
            shared("redemption-points", config, of("points")),
            shared("redemption-rewards", config, of("reward")),
            tuple(r for r, _ in rules))
    _SEEN[id(config)] = (config, found)
    return found


# ---------------------------------------------------------------- activities

# Fields of an activity's refusal fact: the activity's name, and flags (1/0) and counts
# computed in Python (`activity_facts` here, engine/lifecycle/policies.py for referrals
# and birthdays); a field that does not apply to the activity is absent, and no
# comparison on it holds.
ACTIVITY, OFFERED, USES_LEFT = "activity.name", "activity.offered", "activity.uses_left"
ALONE = "activity.alone"  # 1: recorded on its own; 0: asked with an order (first purchase)
FIRST_ORDER = "member.first_order"  # 1: the order asked with is the member's first
BIRTHDAY_ON_RECORD, BIRTHDAY_IS_DATE = "member.birthday_on_record", "member.birthday_is_date"
IN_BIRTHDAY_MONTH = "activity.in_birthday_month"
FRIEND_NAMED, FRIEND_IS_REFERRER = "referral.friend_named", "referral.friend_is_referrer"
FRIEND_REFERRED, CLOSES_CIRCLE = "referral.friend_referred", "referral.closes_circle"
ORDER_ACTIVITIES = ("first_purchase",)  # come with an order, never on their own


def activity_facts(name: str, offered: bool, limit: Any, used: int,
                   alone: bool = True) -> dict[str, Any]:
    """The activity's fields of its refusal fact: its name, whether the program offers
    it (1/0), whether it is recorded on its own (`alone`, else asked with an order) and,
    when it has a limit, the uses left in the current period (`limit.count − used`)."""
    fact: dict[str, Any] = {ACTIVITY: name, OFFERED: int(offered), ALONE: int(alone)}
    if limit is not None:
        fact[USES_LEFT] = limit.count - used
    return fact


def _is(name: str, *parts: dict[str, Any]) -> dict[str, Any]:
    return {"all": [{"field": ACTIVITY, "eq": name}, *parts]}


def activity_refusal_rules(limited: Sequence[str]) -> list[tuple[Reason, dict[str, Any]]]:
    """The refusal rules of an activity, in the order their reasons are reported: who may
    refer whom, whether the activity is offered on its own, whether a birthday bonus is
    due, then the limit of each activity in `limited` (the uses left in its period)."""
    def flag(field: str, value: int) -> dict[str, Any]:
        return {"field": field, "eq": value}
    out: list[tuple[Reason, dict[str, Any]]] = [
        (Reason("earning.activities.referral.friend", "friend_required", "referral"),
         _is("referral", flag(FRIEND_NAMED, 0))),
        (Reason("earning.activities.referral.self", "self_referral", "referral"),
         _is("referral", flag(FRIEND_IS_REFERRER, 1))),
        (Reason("earning.activities.referral.once", "already_referred", "referral"),
         _is("referral", flag(FRIEND_REFERRED, 1))),
        (Reason("earning.activities.referral.circle", "circular_referral", "referral"),
         _is("referral", flag(CLOSES_CIRCLE, 1))),
        (Reason("earning.activities.with_order", "activity_not_offered", "any"),
         {"all": [{"field": ACTIVITY, "in": list(ORDER_ACTIVITIES)}, flag(ALONE, 1)]}),
        (Reason("earning.activities.offered", "activity_not_offered", "any"),
         flag(OFFERED, 0)),
        (Reason("earning.activities.first_purchase.first_order", "not_first_order",
                "first_purchase"),
         _is("first_purchase", flag(FIRST_ORDER, 0))),
        (Reason("earning.activities.birthday.on_record", "birthday_unknown", "birthday"),
         _is("birthday", flag(BIRTHDAY_ON_RECORD, 0))),
        (Reason("earning.activities.birthday.date", "birthday_unknown", "birthday"),
         _is("birthday", flag(BIRTHDAY_IS_DATE, 0))),
        (Reason("earning.activities.birthday.month", "not_birthday_month", "birthday"),
         _is("birthday", flag(IN_BIRTHDAY_MONTH, 0))),
    ]
    out.extend((Reason(f"earning.activities.{name}.limit", "activity_limit_reached", name),
                _is(name, {"field": USES_LEFT, "lte": 0})) for name in limited)
    return out


@dataclass(frozen=True)
class ActivityQuestions:
    """The refusal rules of an activity, compiled as one group, and their reasons in the
    order they are reported."""

    group: DecisionGroup
    reasons: tuple[Reason, ...]
    # fired → first reason; the group's decisions are few (its cache's answers)
    _first: dict[frozenset[str], Reason | None] = field(
        default_factory=dict, compare=False, repr=False)

    def first(self, fired: frozenset[str]) -> Reason | None:
        """The reason reported when the rules `fired` hold: the first in order."""
        if not fired:
            return None
        known = self._first
        if fired in known:
            return known[fired]
        found = next((r for r in self.reasons if r.id in fired), None)
        if len(known) < 1024:
            known[fired] = found
        return found


_ACTIVITY: dict[tuple[str, ...], ActivityQuestions] = {}


def activity_refusal_group(limited: tuple[str, ...]) -> ActivityQuestions:
    """The refusal rules of activities where those named `limited` have a limit:
    compiled once per distinct tuple (the rules read nothing else of a ruleset)."""
    found = _ACTIVITY.get(limited)
    if found is None:
        rules = activity_refusal_rules(limited)
        found = _ACTIVITY[limited] = ActivityQuestions(
            shared("activity-refusals", limited,
                   lambda: [CompiledRule(r.id, cond) for r, cond in rules]),
            tuple(r for r, _ in rules))
    return found


# ---------------------------------------------------------------- one program's questions

@dataclass(frozen=True)
class Questions:
    """The compiled questions of one ruleset (None where the ruleset has nothing to ask)."""

    tiers: DecisionGroup | None
    challenges: DecisionGroup
    activity: DecisionGroup
    redemption: RedemptionQuestions | None
    refusals: ActivityQuestions

    def conditions(self) -> dict[str, Any]:
        groups = [self.tiers, self.challenges, self.activity, self.refusals.group,
                  *(self.redemption.groups if self.redemption else ())]
        return {r.id: r.condition for g in groups if g is not None for r in g.rules}


def compile_questions(model: Ruleset, name: str) -> Questions:
    levels = model.tiers.levels if model.tiers else ()
    tiers = tier_group(tuple(t.id for t in levels),
                       tuple((t.min_spend, t.min_orders) for t in levels)) if levels else None
    return Questions(
        tiers=tiers,
        challenges=DecisionGroup(f"{name}#challenges", challenge_rules(model.campaigns)),
        activity=DecisionGroup(f"{name}#activity", activity_rules(model.campaigns)),
        redemption=redemption_group(model.redemption) if model.redemption else None,
        refusals=activity_refusal_group(tuple(sorted(
            name for name, a in model.earning.activities.items() if a.limit is not None))))


__all__ = ["ActivityQuestions", "Questions", "Reason", "RedemptionQuestions",
           "activity_facts", "activity_refusal_group", "compile_questions", "redemption_group",
           "tier_group"]
