"""The result JSON (docs/semantics.md), rendered from a typed outcome (engine/evaluation/outcome.py).

Only what answers a caller is rendered: the API's quotes and commits, `loyalty evaluate`,
the stored order rows. The lifecycle core and the simulator read the outcome itself and
never pay for this. Strings of the multipliers are built once per line context and kept
in the program's index.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import engine.evaluation.tiers as tiers
from engine.evaluation.earn import LineResult
from engine.evaluation.outcome import Assessment, Earn, Outcome
from engine.evaluation.redeem import money
from engine.language.model import Tier
from engine.program import Program, ProgramIndex

CENT = Decimal("0.01")


def result_json(out: Outcome) -> dict[str, Any]:
    program, order = out.program, out.request.order
    earn = earn_json(program, out.earn) if order is not None else {
        "points": 0, "lines": [], "bonuses": [], "by_rule": {}, "cashback": "0.00"}
    benefits, perks = _benefits(out)
    campaigns = [{"id": c.id, "type": c.type, "points": c.points, "rule": c.rule,
                  **({"tier_advance": True} if c.tier_advance else {})} for c in out.campaigns]
    activities = [{"activity": a.activity, "rule": a.rule, "points": a.points}
                  for a in out.activities]
    upgrade = None if out.upgrade is None else {
        "from": out.upgrade.from_tier, "to": out.upgrade.to,
        "bonus_points": out.upgrade.bonus_points, "rules": list(out.upgrade.rules),
        "rule": out.upgrade.rule}
    result: dict[str, Any] = {
        "program": program.program, "ruleset_version": program.version,
        "ruleset_digest": program.digest,
        "member": {
            "id": out.request.member.get("id"), "tier": out.tier, "tier_after": out.tier_after,
            "points_balance": out.balance, "projected_balance": out.projected_balance,
            "progress": {"qualifying_spend": str(out.qualifying_spend.quantize(CENT)),
                         "qualifying_orders": out.qualifying_orders,
                         **tiers.progress(program, out.tier_after, out.qualifying_spend,
                                          out.qualifying_orders)},
        },
        "earn": earn, "campaigns": campaigns, "activities": activities,
        "upgrade": upgrade, "tier_after": out.tier_after, "benefits": benefits,
        "redemption": assessment_json(out.redemption),
        "effects": _effects(out, earn, perks, upgrade, activities),
        "usage": {
            "caps": [{"rule": c.rule, "period": c.period, "spend": str(c.spend)}
                     for c in out.usage.caps],
            "caps_hit": list(out.usage.caps_hit),
            "campaigns": [{"id": c.id, "uses": 1, "points": c.points} for c in out.campaigns],
            "challenges": [{"id": c.id, "spend": str(c.spend)} for c in out.usage.challenges],
        },
    }
    if order is not None and out.subtotal is not None and out.total is not None:
        result["order"] = {"id": order.id, "subtotal": money(out.subtotal),
                           "total": money(out.total), "placed_at": order.placed_at.isoformat()}
    if out.codes:
        result["codes"] = [{"code": c.code, "campaign": c.campaign, "status": c.status}
                           for c in out.codes]
    if out.trace is not None:
        result["trace"] = out.trace
    return result


def assessment_json(a: Assessment) -> dict[str, Any]:
    """The `redemption` block: what may be redeemed, and why not."""
    reasons = [r.to_json() for r in a.reasons]
    if not a.offered:
        return {"eligible": False, "max_points": 0, "value": "0.00", "reasons": reasons}
    out: dict[str, Any] = {"eligible": a.eligible, "max_points": a.max_points,
                           "max_value": money(a.max_value)}
    if a.quantity is not None:  # a catalog reward was asked for
        out.update(reward_id=a.reward_id, quantity=a.quantity)
    out.update(points=a.points, value=money(a.value), reasons=reasons)
    return out


def earn_json(program: Program, earn: Earn) -> dict[str, Any]:
    index = program.index
    return {
        "points": earn.points, "lines": [line_json(index, r) for r in earn.lines],
        "bonuses": [{"rule": b.rule, "points": b.points,
                     **({"campaign": b.campaign} if b.campaign is not None else {})}
                    for b in earn.bonuses],
        "by_rule": dict(earn.by_rule), "cashback": money(earn.cashback),
    }


def line_json(index: ProgramIndex, r: LineResult) -> dict[str, Any]:
    line = r.line
    amount = money(line.amount)
    out: dict[str, Any] = {
        "index": line.index, "sku": line.sku, "category": line.category,
        "amount": amount,
        "eligible_amount": amount if r.eligible is line.amount else money(r.eligible),
        "points": r.awarded, "points_exact": f"{r.exact_points.normalize():f}",
    }
    if r.excluded_by:
        out["base_rate"] = index.base_rate
        out["excluded_by"] = r.excluded_by
        out["multipliers"] = []
        return out
    _multipliers_json(index, r, out)
    if r.seasonal_amount:
        out["seasonal_amount"] = money(r.seasonal_amount)
    return out


def _multipliers_json(index: ProgramIndex, r: LineResult, out: dict[str, Any]) -> None:
    """The multipliers part of a line, into `out`; its strings are built once per line
    context."""
    rates = r.rates
    if rates is not None and r.category is rates.best:  # the context's usual shape
        cache = index.rates_json
        cached = cache.get(id(rates))
        if cached is None or cached[0] is not rates:
            if len(cache) > 10_000:
                cache.clear()
            cached = cache[id(rates)] = (rates, _multipliers(index, r))
        _json_from(cached[1], out)
    else:
        _json_from(_multipliers(index, r), out)


def _multipliers(index: ProgramIndex, r: LineResult) -> tuple[Any, ...]:
    text = index.multiplier_text
    return (index.base_rate,
            (r.category.rule, text(r.category)) if r.category else None,
            (r.tier.rule, text(r.tier)) if r.tier else None,
            tuple((f.rule, text(f)) for f in r.factors))


def _json_from(parts: tuple[Any, ...], out: dict[str, Any]) -> None:
    base, cat, tier, factors = parts
    out["base_rate"] = base
    if cat:
        out["category_multiplier"] = {"rule": cat[0], "value": cat[1]}
    if tier:
        out["tier_multiplier"] = {"rule": tier[0], "value": tier[1]}
    out["multipliers"] = [{"rule": rule, "value": value} for rule, value in factors]


def _benefits(out: Outcome) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The benefits of the member's tier before the order, and their effects."""
    model = out.program.model
    tier: Tier | None = model.tiers.get(out.tier) if model.tiers else None
    if tier is None:
        return {"free_shipping": False, "birthday_discount_percent": None, "flags": {}}, []
    free = (tier.free_shipping_threshold is not None and out.subtotal is not None
            and out.subtotal >= tier.free_shipping_threshold)
    birthday = (out.request.member.get("attributes") or {}).get("birthday")
    in_month = bool(birthday) and _month_of(str(birthday)) == out.local.month
    threshold, percent = out.program.index.tier_text(tier)
    benefits: dict[str, Any] = {"free_shipping": free, "free_shipping_threshold": threshold,
                "birthday_discount_percent": percent if in_month else None,
                "flags": dict(tier.flags)}
    perks: list[dict[str, Any]] = []
    if free:
        perks.append({"type": "free_shipping", "rule": f"tiers.{tier.id}.free_shipping"})
    if in_month and percent is not None:
        perks.append({"type": "birthday_discount", "rule": f"tiers.{tier.id}.birthday_discount",
                      "percent": percent})
    return benefits, perks


def _effects(out: Outcome, earn: dict[str, Any], perks: list[dict[str, Any]],
             upgrade: dict[str, Any] | None, activities: list[dict[str, Any]]
             ) -> list[dict[str, Any]]:
    effects: list[dict[str, Any]] = [
        {"type": "points", "rule": rule, "points": pts} for rule, pts in earn["by_rule"].items()]
    applied: dict[str, dict[str, Any]] = {}
    for line in earn["lines"]:
        for m in line["multipliers"]:
            effect = applied.get(m["rule"])
            if effect is None:
                effect = applied[m["rule"]] = {"type": "multiplier", "rule": m["rule"],
                                               "value": m["value"], "lines": []}
                effects.append(effect)
            effect["lines"].append(line["index"])
    effects += [{"type": "bonus_points", "rule": b["rule"], "points": b["points"]}
                for b in earn["bonuses"]]
    effects += perks
    effects += [{"type": "tag", "rule": rule, "tag": value} for rule, value in out.tags]
    effects += [{"type": "grant_reward", "rule": rule, "reward_id": value}
                for rule, value in out.grants]
    effects += [{"type": "deny_redemption", "rule": d.rule, "code": d.code, "message": d.message}
                for d in out.denials]
    effects += [{"type": "tier_advance", "rule": a.rule, "campaign": a.campaign,
                 "from": a.from_tier, "to": a.to} for a in out.advances]
    if upgrade:
        effects.append({"type": "tier_upgrade", **upgrade})
    if earn["cashback"] != "0.00":
        effects.append({"type": "cashback", "rule": "earning.cashback", "amount": earn["cashback"]})
    effects += [{"type": "activity", **a} for a in activities]
    return effects


def _month_of(iso_date: str) -> int:
    """Month of a validated YYYY-MM-DD date (the request parser checked the format)."""
    return int(iso_date[5:7]) if len(iso_date) == 10 else date.fromisoformat(iso_date).month
