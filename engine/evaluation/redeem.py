"""Redemption eligibility (DESIGN §4): what a member may redeem, and why not.

Paying with points needs at least `min_points`, at most the available balance, and at
most `max_order_fraction` of the order total; a catalog reward needs its points, stock
and tier (and its `min_order` when an order is given; `min_points` does not apply to
catalog rewards, which carry their own price). A balance below zero (a refund under
`refund_policy: clawback` took back points already spent) refuses every redemption with
NEGATIVE_BALANCE (engine/lifecycle/policies.py). Every refusal has a machine-readable code.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from engine.evaluation.request import Redeem
from engine.language.model import Redemption

CENT = Decimal("0.01")
NEGATIVE_BALANCE = "NEGATIVE_BALANCE"


def _reason(code: str, message: str, rule: str) -> dict[str, str]:
    return {"code": code, "message": message, "rule": rule}


def money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def max_points(config: Redemption, balance: int, order_total: Decimal | None) -> int:
    best = balance
    if order_total is not None and config.max_order_fraction is not None:
        share = order_total * config.max_order_fraction / config.point_value
        best = min(best, int(share.to_integral_value(rounding=ROUND_FLOOR)))
    return max(0, best)


def negative_balance(balance: int) -> dict[str, str] | None:
    """The refusal of every redemption (stand-alone, checkout hold, catalog, automatic)
    while the balance is below zero, or None."""
    if balance >= 0:
        return None
    return {"code": NEGATIVE_BALANCE,
            "message": f"The balance is {balance} points: a refund took back points that "
                       f"had already been spent. Nothing can be redeemed until later "
                       f"earnings have repaid the {-balance} points.",
            "rule": "redemption.refund_policy"}


def assess(config: Redemption | None, redeem: Redeem | None, *, balance: int, tier: str | None,
           order_total: Decimal | None, stock: dict[str, int],
           denials: list[dict[str, str]]) -> dict[str, Any]:
    """The `redemption` block of an evaluation result."""
    if config is None:
        return {"eligible": False, "max_points": 0, "value": "0.00",
                "reasons": [_reason("NOT_OFFERED", "This program has no redemption.", "redemption")]}
    reasons: list[dict[str, str]] = list(denials)
    debt = negative_balance(balance)
    if debt is not None:  # the one reason about the balance: INSUFFICIENT_POINTS would repeat it
        reasons.append(debt)
    limit = max_points(config, balance, order_total)
    pv = config.point_value
    out: dict[str, Any] = {"max_points": limit, "max_value": money(limit * pv)}
    if redeem is None or redeem.points is not None:
        points = redeem.points if redeem and redeem.points is not None else limit
        if points < config.min_points:
            what = f"{points} points" if redeem else f"at most {points} points are available"
            reasons.append(_reason("BELOW_MINIMUM", f"Redemptions start at {config.min_points} "
                                   f"points; {what}.", "redemption.min_points"))
        if redeem and points > balance and debt is None:
            reasons.append(_reason("INSUFFICIENT_POINTS", f"{points} points requested; the "
                                   f"available balance is {balance}.", "redemption.balance"))
        elif redeem and points > limit and debt is None:
            share = config.max_order_fraction * 100 if config.max_order_fraction else Decimal(100)
            reasons.append(_reason("EXCEEDS_ORDER_SHARE", f"Points may pay at most "
                                   f"{share.normalize():f} % of the order total "
                                   f"({limit} points here).", "redemption.max_order_fraction"))
        out.update(points=points, value=money(points * pv))
    else:
        reward = config.reward(redeem.reward_id or "")
        qty = redeem.quantity
        out.update(reward_id=redeem.reward_id, quantity=qty)
        if reward is None:
            reasons.append(_reason("UNKNOWN_REWARD", f"No reward {redeem.reward_id!r} in the "
                                   "catalog.", "redemption.catalog"))
            out.update(points=0, value="0.00")
        else:
            cost = reward.points * qty
            out.update(points=cost, value=money(reward.value * qty) if reward.value else "0.00")
            if reward.tiers and tier not in reward.tiers:
                reasons.append(_reason("TIER_RESTRICTED", f"{reward.name} is for "
                                       f"{', '.join(sorted(reward.tiers))} members only.",
                                       reward.rule_id))
            left = stock.get(reward.id, reward.stock)
            if left is not None and left < qty:
                reasons.append(_reason("OUT_OF_STOCK", f"{reward.name}: {left} left, "
                                       f"{qty} requested.", reward.rule_id))
            if cost > balance and debt is None:
                reasons.append(_reason("INSUFFICIENT_POINTS", f"{reward.name} costs {cost} "
                                       f"points; the available balance is {balance}.",
                                       reward.rule_id))
            if reward.min_order is not None and order_total is not None \
                    and order_total < reward.min_order:
                reasons.append(_reason("BELOW_MIN_ORDER", f"{reward.name} needs an order of at "
                                       f"least {money(reward.min_order)}.", reward.rule_id))
    out["eligible"] = not reasons
    out["reasons"] = reasons
    return {"eligible": out.pop("eligible"), **out}


class AutoSettingsInvalid(ValueError):
    """Automatic-redemption settings the program does not allow."""

    def __init__(self, code: str, message: str, pointer: str) -> None:
        super().__init__(message)
        self.code, self.message, self.pointer = code, message, pointer


def auto_settings(offer: Any, request: Mapping[str, Any]) -> dict[str, Any]:
    """A member's automatic-redemption settings (threshold, unit, method, frequency,
    enabled) with the program's `redemption.automatic` defaults filled in; raises
    AutoSettingsInvalid for what the program does not allow. The store's
    `PUT …/auto-redemption` and the simulator's `auto_redemption` events both use it."""
    threshold = int(request.get("threshold") or offer.threshold)
    unit = int(request.get("unit") or offer.unit)
    method = request.get("method") or offer.methods[0]
    frequency = request.get("frequency")
    if frequency is None and offer.frequency is not None:
        frequency = {"count": offer.frequency.count, "per": offer.frequency.per}
    if method not in offer.methods:
        raise AutoSettingsInvalid("method_not_offered", f"method {method!r} is not offered; "
                                  f"choose one of {', '.join(offer.methods)}", "/method")
    if threshold < offer.threshold:
        raise AutoSettingsInvalid("below_threshold", "the threshold may not be below the "
                                  f"program's {offer.threshold} points", "/threshold")
    if unit % offer.unit or unit > threshold:
        raise AutoSettingsInvalid("invalid_unit", f"the unit must be a multiple of {offer.unit} "
                                  f"points and at most the threshold ({threshold})", "/unit")
    if offer.frequency is not None and frequency is not None and (
            frequency["per"] != offer.frequency.per or frequency["count"] > offer.frequency.count):
        raise AutoSettingsInvalid("exceeds_frequency_limit", "the program allows at most "
                                  f"{offer.frequency.count} automatic redemption(s) per "
                                  f"{offer.frequency.per}", "/frequency")
    return {"threshold": threshold, "unit": unit, "method": method, "frequency": frequency,
            "enabled": bool(request.get("enabled", True))}
