"""Witnesses: concrete evaluation requests that reach a bound, and their check by the real
evaluator (engine.evaluation). A witness the evaluator does not reproduce is a bug in the
verifier or the evaluator, never a property of the ruleset: it raises WitnessMismatch."""

from __future__ import annotations

from datetime import datetime, time
from decimal import ROUND_DOWN, Decimal
from typing import Any

from engine.evaluation.evaluate import outcome_of
from engine.evaluation.outcome import Outcome
from engine.evaluation.request import parse
from engine.language.model import Campaign, Ruleset
from engine.program import Program
from engine.verify.contexts import Context
from engine.verify.worst import LineCase, OrderCase, allowance

CENT = Decimal("0.01")
AMOUNTS = tuple(Decimal(a) for a in ("100.00", "10.00", "1.00", "0.10", "0.01"))
MEMBER = "verify-witness"


class WitnessMismatch(AssertionError):
    """The evaluator does not reproduce a proven bound on its witness."""


def instant(program: Program, ctx: Context) -> str:
    """Noon, program-local, on the context's day."""
    return datetime.combine(ctx.day.day, time(12), tzinfo=program.timezone).isoformat()


def _money(value: Decimal) -> str:
    return f"{value.quantize(CENT):f}"


def _member(ctx: Context, state: dict[str, Any]) -> dict[str, Any]:
    member: dict[str, Any] = {"id": MEMBER, "points_balance": 0,
                              "attributes": {"segments": sorted(ctx.segments)}}
    if ctx.tier is not None:
        member["tier"] = ctx.tier.id
    if state:
        member["state"] = state
    return member


def used_up(model: Ruleset, campaign_ids: frozenset[str]) -> dict[str, Any]:
    """member.state of a member who has used up these campaigns."""
    usage: dict[str, int] = {}
    budget: dict[str, int] = {}
    for c in model.campaigns:
        if c.id in campaign_ids:
            if c.limit_per_member is not None:
                usage[c.id] = c.limit_per_member
            elif c.budget_points is not None:
                budget[c.id] = c.budget_points
    state: dict[str, Any] = {}
    if usage:
        state["campaign_usage"] = usage
    if budget:
        state["campaign_budget_used"] = budget
    return state


def line_amount(case: LineCase, ctx: Context, next_level: Decimal | None) -> Decimal:
    """The largest of 100.00, 10.00, …, 0.01 on which no cap binds and the order total
    stays below the next `min_order` level."""
    for amount in AMOUNTS:
        if case.rotation_cap is not None and amount > case.rotation_cap:
            continue
        if any(amount * case.rate > Decimal(allowance(c) or 0) for c in case.capped):
            continue
        if next_level is not None and ctx.level + amount >= next_level:
            continue
        return amount
    return AMOUNTS[-1]


def line_request(program: Program, ctx: Context, case: LineCase, amount: Decimal
                 ) -> dict[str, Any]:
    return {"member": _member(ctx, used_up(program.model, case.switched_off)),
            "order": _order(program, ctx, [(ctx.category or "", amount)], ctx.level)}


def _order(program: Program, ctx: Context, lines: list[tuple[str, Decimal]],
           shipping: Decimal) -> dict[str, Any]:
    order: dict[str, Any] = {
        "id": "verify-witness-order", "placed_at": instant(program, ctx),
        "currency": program.model.currency, "shipping": _money(shipping),
        "lines": [{"sku": f"WITNESS-{i + 1}", "category": category, "quantity": 1,
                   "unit_price": _money(amount), "discount": "0.00"}
                  for i, (category, amount) in enumerate(lines)]}
    if ctx.channel is not None:
        order["channel"] = ctx.channel
    return order


def order_request(program: Program, ctx: Context, case: OrderCase, category: str
                  ) -> dict[str, Any]:
    """An order large enough for every threshold and `min_order`, by a member who reaches
    the top tier with it (when there are upgrade bonuses to collect)."""
    model = program.model
    amount = max([Decimal("1.00"), ctx.level,
                  *(c.threshold for c in case.campaigns if c.threshold is not None)])
    state: dict[str, Any] = {}
    if case.upgrade and model.tiers:
        top = model.tiers.levels[-1]
        state["qualifying"] = {"spend": _money(max(top.min_spend - amount, Decimal(0))),
                               "orders": max(top.min_orders - 1, 0)}
    return {"member": _member(ctx, state), "order": _order(program, ctx, [(category, amount)],
                                                           Decimal(0))}


def run(program: Program, request: dict[str, Any]) -> Outcome:
    return outcome_of(program, parse(request))


def line_rate(outcome: Outcome) -> tuple[Decimal, Decimal]:
    """(points per 1.00, cashback per 1.00) of the witness's single line."""
    line = outcome.earn.lines[0]
    return line.exact_points / line.eligible, outcome.earn.cashback / line.eligible


def bonus_points(outcome: Outcome) -> int:
    upgrade = outcome.upgrade.bonus_points if outcome.upgrade else 0
    return sum(b.points for b in outcome.earn.bonuses) + upgrade


def campaign_points(outcome: Outcome, c: Campaign) -> int:
    return sum(u.points for u in outcome.campaigns if u.id == c.id)


def cash_exact(amount: Decimal, percent: Decimal) -> bool:
    """Whether the evaluator's cashback (cut to cents) on `amount` is exactly the percent."""
    value = amount * percent / 100
    return value == value.quantize(CENT, rounding=ROUND_DOWN)


def cash_paid(amount: Decimal, percent: Decimal, cashback: Any) -> Decimal:
    """The cashback a single line of `amount` is paid at `percent`: cut to cents, up to
    the program's `max_per_order`."""
    paid = (amount * percent / 100).quantize(CENT, rounding=ROUND_DOWN)
    limit = cashback.max_per_order if cashback is not None else None
    return paid if limit is None else min(paid, limit)
