"""Assemble the evaluation result (DESIGN §5) from a finished Evaluation."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import engine.calendar as calendar
import engine.evaluation.tiers as tiers
from engine.evaluation.earn import ZERO
from engine.evaluation.evaluator import Evaluation
from engine.evaluation.redeem import assess, money

EMPTY_EARN: dict[str, Any] = {"points": 0, "lines": [], "bonuses": [], "by_rule": {}, "cashback": "0.00"}


def _activities(ev: Evaluation) -> list[dict[str, Any]]:
    """Activity bonuses that come with an order (first purchase), reported apart."""
    first = ev.model.earning.activities.get("first_purchase")
    st = ev.state
    if ev.req.order is None or first is None or st.orders_count != 0 or not first.points:
        return []
    done = st.activity_counts.get("first_purchase", 0)
    if first.limit is not None and done >= first.limit.count:
        return []
    return [{"activity": "first_purchase", "rule": "earning.activities.first_purchase",
             "points": first.points}]


def _cap_period(ev: Evaluation, rule: str) -> str:
    rotation = next(r for r in ev.model.rotations if r.rule_id == rule)
    if rotation.cap_period == "rotation":
        return rotation.id
    return calendar.period_of(rotation.cap_period, ev.local.date())


def _campaigns(ev: Evaluation, by_rule: dict[str, int], advances: list) -> list[dict[str, Any]]:
    out = []
    advanced = {a["campaign"] for a in advances}
    for c in ev.model.campaigns:
        points = by_rule.get(c.rule_id, 0)
        if points or c.id in advanced:
            out.append({"id": c.id, "type": c.type, "points": points,
                        "rule": c.rule_id, **({"tier_advance": True} if c.id in advanced else {})})
    return out


def _effects(ev: Evaluation, earn: dict[str, Any], upgrade: Any, advances: list,
             activities: list, denials: list) -> list[dict[str, Any]]:
    effects: list[dict[str, Any]] = [
        {"type": "points", "rule": rule, "points": pts} for rule, pts in earn["by_rule"].items()
    ]
    applied: dict[str, dict[str, Any]] = {}
    for line in earn["lines"]:
        for m in line["multipliers"]:
            effect = applied.get(m["rule"])
            if effect is None:
                effect = applied[m["rule"]] = {"type": "multiplier", "rule": m["rule"],
                                               "value": m["value"], "lines": []}
                effects.append(effect)
            effect["lines"].append(line["index"])
    for b in earn["bonuses"]:
        effects.append({"type": "bonus_points", "rule": b["rule"], "points": b["points"]})
    effects.extend(ev.effects)
    fired_all = ev.fired_all
    for rule, value in ev.rule_effects("tag", fired_all):
        effects.append({"type": "tag", "rule": rule, "tag": value})
    for rule, value in ev.rule_effects("grant_reward", fired_all):
        effects.append({"type": "grant_reward", "rule": rule, "reward_id": value})
    for d in denials:
        effects.append({"type": "deny_redemption", "rule": d["rule"], "code": d["code"],
                        "message": d["message"]})
    effects.extend(advances)
    if upgrade:
        effects.append({"type": "tier_upgrade", **upgrade})
    if earn["cashback"] != "0.00":
        effects.append({"type": "cashback", "rule": "earning.cashback", "amount": earn["cashback"]})
    for a in activities:
        effects.append({"type": "activity", **a})
    return effects


def assemble(ev: Evaluation, explain: bool, build_trace: Callable[..., list]) -> dict[str, Any]:
    order, st, program = ev.req.order, ev.state, ev.program
    earn = ev.run_order(order) if order is not None else dict(EMPTY_EARN)
    if order is None:
        ev.lines, ev.line_fired = [], []
    spend = sum((r.eligible for r in ev.lines), ZERO)
    subtotal = sum((ln.amount for ln in order.lines), ZERO) if order else None
    tier_after, upgrade, advances = ev.tier_change(spend)
    activities = _activities(ev)
    summary = ev.summary
    benefits = ev.benefits(ev.tier_id, subtotal) if not summary else None
    extra = [f for f in ev.line_fired if f and not f <= ev.fired]
    ev.fired_all = ev.fired.union(*extra) if extra else ev.fired  # frozen: its hash is kept
    fired_all = ev.fired_all
    denials = [{"code": v["code"], "message": v["message"], "rule": rule}
               for rule, v in ev.rule_effects("deny_redemption", fired_all)]
    order_total = subtotal + order.shipping if order and subtotal is not None else None
    redemption = assess(ev.model.redemption, ev.req.redeem, balance=st.balance, tier=ev.tier_id,
                        order_total=order_total, stock=st.reward_stock, denials=denials,
                        record=ev.record)
    q_spend = (st.qualifying_spend or ZERO) + spend
    q_orders = (st.qualifying_orders or 0) + (1 if order else 0)
    upgrade_points = upgrade["bonus_points"] if upgrade else 0
    campaigns = _campaigns(ev, earn["by_rule"], advances)
    result: dict[str, Any] = {
        "program": program.program, "ruleset_version": program.version,
        "ruleset_digest": program.digest,
        "member": {
            "id": ev.req.member.get("id"), "tier": ev.tier_id, "tier_after": tier_after,
            "points_balance": st.balance,
            "projected_balance": st.balance + earn["points"] + upgrade_points
            + sum(a["points"] for a in activities),
            "progress": {"qualifying_spend": str(q_spend.quantize(Decimal("0.01"))),
                         "qualifying_orders": q_orders,
                         **tiers.progress(program, tier_after, q_spend, q_orders)}
            if not summary else None,
        },
        "earn": earn, "campaigns": campaigns, "activities": activities,
        "upgrade": upgrade, "tier_after": tier_after, "benefits": benefits,
        "redemption": redemption,
        "effects": _effects(ev, earn, upgrade, advances, activities, denials)
        if not summary else None,
        "usage": {
            "caps": [{"rule": rule, "period": _cap_period(ev, rule), "spend": str(spend_used)}
                     for rule, spend_used in sorted(ev.caps.consumed.items())]
            if order else [],
            "caps_hit": sorted(ev.caps.hit) if order else [],
            "campaigns": [{"id": c["id"], "uses": 1, "points": c["points"]} for c in campaigns],
            "challenges": [{"id": c.id, "spend": str(spend)}
                           for c in ev.active_campaigns("tier_challenge")] if order else [],
        },
    }
    if order is not None and subtotal is not None and order_total is not None:
        result["order"] = {"id": order.id, "subtotal": money(subtotal), "total": money(order_total),
                           "placed_at": order.placed_at.isoformat()}
    if explain:
        result["trace"] = build_trace(ev, result)
    return result
