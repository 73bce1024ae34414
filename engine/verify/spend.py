"""The most a campaign with a budget can give in a day: its whole budget, when one day's
orders can spend it. The witness is `n` orders alike on one day of the campaign, each by a
member the campaign applies to, each told how much of the budget went before it
(`member.state.campaign_budget_used`, as the store tells the evaluator): the first and the
last are evaluated, and every order between them is the first one with more budget used
(which changes nothing while what is left exceeds one order's share)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import engine.verify.witness as w
from engine.language.model import Campaign
from engine.program import Program
from engine.verify.bounds import Bound
from engine.verify.contexts import Context, DayClass, applies, contexts, levels
from engine.verify.worst import line_case, order_case

QUANTITY = "max_campaign_points_per_day"
LARGEST = Decimal("10000000.00")  # the largest line a witness order carries


def _where(program: Program, c: Campaign, days: list[DayClass]) -> tuple[Context, Any] | None:
    """The first context in which the campaign gives points, and its case."""
    model = program.model
    lines = c.type in ("multiplier", "category_bonus")
    top = max(levels(model))
    for ctx in contexts(model, days, lines=lines):
        if not applies(c, ctx) or (not lines and ctx.level != top):
            continue
        if lines:
            case = line_case(model, ctx)
            if case is not None and c.rule_id in case.applied:
                return ctx, case
        elif c in order_case(model, ctx).campaigns:
            return ctx, order_case(model, ctx)
    return None


def _request(program: Program, c: Campaign, ctx: Context, case: Any, used: int,
             amount: Decimal) -> dict[str, Any]:
    if c.type in ("multiplier", "category_bonus"):
        request = w.line_request(program, ctx, case, amount)
    else:
        request = w.order_request(program, ctx, case, "uncategorised")
        request["member"].pop("state", None)
    state = request["member"].setdefault("state", {})
    state.setdefault("campaign_budget_used", {})[c.id] = used
    return request


def spend_budget(program: Program, c: Campaign, days: list[DayClass]) -> Bound:
    budget = c.budget_points
    assert budget is not None
    found = _where(program, c, days)
    if found is None:
        return Bound(QUANTITY, Decimal(0), "it never gives points: no day, member and "
                       "order it applies to earns anything from it", subject=c.id)
    ctx, case = found
    share = min(v for v in (budget, c.max_points, c.points if c.type in
                                ("fixed_bonus", "spend_threshold") else None) if v is not None)
    amount = Decimal("100.00")
    for _ in range(8):  # a larger order until one order collects the whole share
        first = _request(program, c, ctx, case, 0, amount)
        got = w.campaign_points(w.run(program, first), c)
        if got >= share or amount * 10 > LARGEST:
            break
        amount *= 10 if got <= 0 else max(2, -(-share // got) + 1)
    if got <= 0:
        return Bound(QUANTITY, Decimal(0), f"{ctx.describe()}: it gives no extra points",
                     subject=c.id)
    orders = -(-budget // share)
    last_used = share * (orders - 1)
    last = _request(program, c, ctx, case, last_used, amount)
    last_got = w.campaign_points(w.run(program, last), c) if orders > 1 else got
    total = got * (orders - 1) + last_got
    if got != share or total != budget:
        raise w.WitnessMismatch(
            f"{QUANTITY}[{c.id}]: proven {budget} over {orders} orders of {share}, but the "
            f"evaluator gives {got} on the first and {last_got} on the last: {first}")
    witness = (first,) if orders == 1 else (first, last)
    return Bound(QUANTITY, Decimal(budget),
                   f"{ctx.describe()}: {orders} order(s) of {share} points use the whole "
                   f"budget of {budget}", witness, Decimal(total), subject=c.id,
                   orders=orders)
