"""Redemption eligibility (docs/semantics.md): what a member may redeem, and why not.

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

from engine.evaluation.outcome import Assessment, Refusal
from engine.evaluation.record import Record
from engine.evaluation.request import Redeem
from engine.language.model import Redemption, Reward
from engine.rules.questions import (
    BALANCE,
    MEMBER_TIER,
    ORDER_TOTAL,
    OVER_BALANCE,
    OVER_SHARE,
    REDEEM_KIND,
    REDEEM_POINTS,
    REWARD_ID,
    REWARD_OVER,
    REWARD_SHORT,
    Reason,
    redemption_group,
)

CENT = Decimal("0.01")
ZERO = Decimal(0)
NEGATIVE_BALANCE = "NEGATIVE_BALANCE"


def _reason(code: str, message: str, rule: str) -> Refusal:
    return Refusal(code, message, rule)


def money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def max_points(config: Redemption, balance: int, order_total: Decimal | None) -> int:
    best = balance
    if order_total is not None and config.max_order_fraction is not None:
        share = order_total * config.max_order_fraction / config.point_value
        best = min(best, int(share.to_integral_value(rounding=ROUND_FLOOR)))
    return max(0, best)


def negative_balance(balance: int) -> Refusal | None:
    """The refusal of every redemption (stand-alone, checkout hold, catalog, automatic)
    while the balance is below zero, or None."""
    if balance >= 0:
        return None
    return Refusal(NEGATIVE_BALANCE,
                   f"The balance is {balance} points: a refund took back points that had "
                   f"already been spent. Nothing can be redeemed until later earnings have "
                   f"repaid the {-balance} points.", "redemption.refund_policy")


def assess(config: Redemption | None, redeem: Redeem | None, *, balance: int, tier: str | None,
           order_total: Decimal | None, stock: dict[str, int],
           denials: list[Refusal], record: Record | None = None) -> Assessment:
    """What may be redeemed, and why not. Which refusals hold is the rule engine's
    decision (engine/rules/questions.py `redemption_rules`), reported in the rules'
    order after the custom rules' `denials`; `record` keeps that decision."""
    if config is None:
        return Assessment(False, 0, 0, ZERO, offered=False, reasons=[
            _reason("NOT_OFFERED", "This program has no redemption.", "redemption")])
    questions = redemption_group(config)
    limit = max_points(config, balance, order_total)
    pv = config.point_value
    reward = None
    if redeem is None or redeem.points is not None:
        points = redeem.points if redeem and redeem.points is not None else limit
        value = points * pv
    else:
        reward = config.reward(redeem.reward_id or "")
        points = reward.points * redeem.quantity if reward else 0
        value = reward.value * redeem.quantity if reward and reward.value else ZERO
    fact = _fact(redeem, reward, points=points, limit=limit, balance=balance, tier=tier,
                 order_total=order_total, stock=stock)
    group = questions.group(fact[REDEEM_KIND])
    fired = group.decide(fact)
    if record is not None:
        record.add("redemption", group, fact, fired)
    reasons = list(denials)
    if fired:
        reasons.extend(_refusal(r, config, redeem, reward, fact, points, limit)
                       for r in questions.reasons if r.id in fired)
    by_reward = redeem is not None and redeem.points is None
    return Assessment(not reasons, limit, points, value, max_value=limit * pv,
                      reward_id=redeem.reward_id if redeem is not None and by_reward else None,
                      quantity=redeem.quantity if redeem is not None and by_reward else None,
                      reasons=reasons)


def _fact(redeem: Redeem | None, reward: Reward | None, *, points: int, limit: int,
          balance: int, tier: str | None, order_total: Decimal | None,
          stock: dict[str, int]) -> dict[str, Any]:
    """What the refusal rules are asked about; the differences are computed here."""
    if redeem is None or redeem.points is not None:
        return {BALANCE: balance, REDEEM_KIND: "points" if redeem else "max_points",
                REDEEM_POINTS: points, OVER_BALANCE: points - balance, OVER_SHARE: points - limit}
    fact: dict[str, Any] = {BALANCE: balance, MEMBER_TIER: tier, ORDER_TOTAL: order_total,
                            REDEEM_KIND: "reward", REWARD_ID: redeem.reward_id}
    if reward is not None:
        left = stock.get(reward.id, reward.stock)
        fact[REWARD_SHORT] = None if left is None else redeem.quantity - left
        fact[REWARD_OVER] = points - balance
    return fact


def _refusal(reason: Reason, config: Redemption, redeem: Redeem | None, reward: Reward | None,
             fact: dict[str, Any], points: int, limit: int) -> Refusal:
    """The reason a fired refusal rule reports: its code, message and rule."""
    code, balance = reason.code, fact[BALANCE]
    if code == NEGATIVE_BALANCE:
        refusal = negative_balance(balance)
        assert refusal is not None, "the rule fires only below zero"
        return refusal
    if code == "BELOW_MINIMUM":
        what = f"{points} points" if redeem else f"at most {points} points are available"
        return _reason(code, f"Redemptions start at {config.min_points} points; {what}.",
                       reason.id)
    if code == "EXCEEDS_ORDER_SHARE":
        share = config.max_order_fraction * 100 if config.max_order_fraction else Decimal(100)
        return _reason(code, f"Points may pay at most {share.normalize():f} % of the order "
                       f"total ({limit} points here).", reason.id)
    if reward is None:
        if code == "UNKNOWN_REWARD":
            wanted = redeem.reward_id if redeem else None
            return _reason(code, f"No reward {wanted!r} in the catalog.", "redemption.catalog")
        return _reason(code, f"{points} points requested; the available balance is "
                       f"{balance}.", reason.id)
    qty = redeem.quantity if redeem else 1
    messages = {
        "TIER_RESTRICTED": f"{reward.name} is for {', '.join(sorted(reward.tiers or ()))} "
                           "members only.",
        "OUT_OF_STOCK": f"{reward.name}: {qty - (fact.get(REWARD_SHORT) or 0)} left, "
                        f"{qty} requested.",
        "INSUFFICIENT_POINTS": f"{reward.name} costs {points} points; the available "
                               f"balance is {balance}.",
        "BELOW_MIN_ORDER": f"{reward.name} needs an order of at least "
                           f"{money(reward.min_order or Decimal(0))}.",
    }
    return _reason(code, messages[code], reward.rule_id)


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
