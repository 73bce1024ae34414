"""Put a finished Evaluation's parts together into its typed Outcome
(engine/evaluation/outcome.py); the result JSON (docs/semantics.md) is rendered from it when asked
(engine/evaluation/render.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.evaluation.earn import ZERO
from engine.evaluation.evaluator import Evaluation
from engine.evaluation.outcome import (
    ActivityBonus,
    Assessment,
    CampaignUse,
    CapUse,
    ChallengeSpend,
    CodeUse,
    Earn,
    Outcome,
    Refusal,
    TierAdvance,
    Usage,
)
from engine.evaluation.redeem import assess
from engine.rules.questions import FIRST_ORDER, activity_facts


def _activities(ev: Evaluation) -> list[ActivityBonus]:
    """Activity bonuses that come with an order (first purchase), reported apart. Whether
    it is due is the rule engine's decision: the activity's refusal rules
    (engine/rules/questions.py `activity_refusal_rules`: offered, the member's first
    order, the limit's uses left), asked with the order and kept in the record."""
    first = ev.model.earning.activities.get("first_purchase")
    if ev.req.order is None or first is None:  # nothing to ask: the ruleset has none
        return []
    st = ev.state
    fact = activity_facts("first_purchase", first.points > 0, first.limit,
                          st.activity_counts.get("first_purchase", 0), alone=False)
    fact[FIRST_ORDER] = int(st.orders_count == 0)  # unknown (None): not the first
    questions = ev.program.questions.refusals
    fired = questions.group.decide(fact)
    ev.record.add("activity_refusals", questions.group, fact, fired)
    if questions.first(fired) is not None:
        return []
    return [ActivityBonus("first_purchase", "earning.activities.first_purchase", first.points)]


def _cap_period(ev: Evaluation, rule: str) -> str:
    rotation = next(r for r in ev.model.rotations if r.rule_id == rule)
    return rotation.cap_key(ev.local.date())


def _campaigns(ev: Evaluation, by_rule: dict[str, int], advances: list[TierAdvance]
               ) -> list[CampaignUse]:
    out = []
    advanced = {a.campaign for a in advances}
    for c in ev.model.campaigns:
        points = by_rule.get(c.rule_id, 0)
        if points or c.id in advanced:
            out.append(CampaignUse(c.id, c.type, points, c.rule_id, c.id in advanced))
    return out


def _codes(ev: Evaluation, campaigns: list[CampaignUse]) -> list[CodeUse]:
    """What became of each code the request presents: its campaign applied (the code is
    used by a commit), or not, or the code is not valid (the caller's reason)."""
    st, applied = ev.state, {c.id for c in campaigns}
    out = []
    for code in ev.req.codes:
        campaign = st.codes.get(code)
        if campaign is None:
            out.append(CodeUse(code, None, st.refused_codes.get(code, "unknown")))
        else:
            out.append(CodeUse(code, campaign,
                               "applied" if campaign in applied else "not_applied"))
    return out


def _usage(ev: Evaluation, spend: Any) -> Usage:
    if ev.req.order is None:
        return Usage()
    caps = ev.caps
    return Usage(caps=[CapUse(rule, _cap_period(ev, rule), used)
                       for rule, used in sorted(caps.consumed.items())],
                 caps_hit=sorted(caps.hit),
                 challenges=[ChallengeSpend(c.id, spend)
                             for c in ev.active_campaigns("tier_challenge")])


def assemble(ev: Evaluation, build_trace: Callable[[Evaluation, Outcome], list] | None
             ) -> Outcome:
    """The outcome of `ev`; `build_trace` (explain) renders its trace from the record."""
    order, st = ev.req.order, ev.state
    earn = ev.run_order(order) if order is not None else Earn()
    if order is None:
        ev.lines, ev.line_fired = [], []
    spend = earn.spend
    tier_after, upgrade, advances = ev.tier_change(spend)
    extra = [f for f in ev.line_fired if f and not f <= ev.fired]
    ev.fired_all = ev.fired.union(*extra) if extra else ev.fired  # frozen: its hash is kept
    fired_all = ev.fired_all
    denials = [Refusal(v["code"], v["message"], rule)
               for rule, v in ev.rule_effects("deny_redemption", fired_all)]
    # the order fact has them (engine/rules/facts.py `order_fact`): not summed again
    subtotal = ev.fact["order.subtotal"] if order is not None else None
    total = ev.fact["order.total"] if order is not None else None

    def redemption() -> Assessment:
        return assess(ev.model.redemption, ev.req.redeem, balance=st.balance, tier=ev.tier_id,
                      order_total=total, stock=st.reward_stock, denials=denials,
                      record=ev.record)
    outcome = Outcome(
        program=ev.program, request=ev.req, local=ev.local, tier=ev.tier_id,
        tier_after=tier_after, qualified=ev.qualified, balance=st.balance,
        qualifying_spend=(st.qualifying_spend or ZERO) + spend,
        qualifying_orders=(st.qualifying_orders or 0) + (1 if order else 0),
        earn=earn, campaigns=_campaigns(ev, earn.by_rule, advances),
        activities=_activities(ev), advances=advances, upgrade=upgrade,
        usage=_usage(ev, spend), assess=redemption, denials=denials,
        tags=ev.rule_effects("tag", fired_all), grants=ev.rule_effects("grant_reward", fired_all),
        subtotal=subtotal, total=total)
    if ev.req.codes:
        outcome.codes = _codes(ev, outcome.campaigns)
    if build_trace is not None:
        outcome.trace = build_trace(ev, outcome)
    return outcome
