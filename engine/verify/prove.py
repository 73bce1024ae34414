"""`prove(program)`: the exact worst case of every earning quantity, each with a witness the
real evaluator reproduces (docs/verify.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import engine.verify.witness as w
from engine.language.model import Campaign
from engine.program import Program
from engine.verify.bounds import Bound, Bounds
from engine.verify.contexts import (
    Context,
    categories,
    contexts,
    day_classes,
    levels,
    points_campaigns,
    require_bounded,
)
from engine.verify.spend import spend_budget
from engine.verify.worst import LineCase, line_case, order_case, unsupported


def prove(program: Program) -> Bounds:
    """Every quantity's worst case over every context (engine.verify.contexts), each
    checked on its witness by the real evaluator; raises WitnessMismatch when the
    evaluator does not reproduce one."""
    model = program.model
    days = day_classes(model)
    require_bounded(model, days)
    counted = [0]
    blocked = unsupported(model)
    out: list[Bound] = []
    line_bounds = _line_bounds(program, days, counted)
    order_bound = _order_bound(program, days, counted)
    if blocked:
        why = (f"custom rule {', '.join(blocked)} changes points on conditions verify does "
               "not solve: no bound is proven")
        out += [Bound("max_points_per_unit", None, why), Bound("max_value_back", None, why),
                Bound("max_bonus_points_per_order", None, why)]
    else:
        out += [*line_bounds, order_bound]
    out += [_campaign_bound(program, c, days) for c in points_campaigns(model)]
    return Bounds(model.program, model.version, tuple(out), len(days), counted[0],
                  dict(model.invariants))


def _line_bounds(program: Program, days: list[Any], counted: list[int]) -> list[Bound]:
    model = program.model
    value = model.redemption.point_value if model.redemption else Decimal(0)
    best: tuple[Decimal, Context, LineCase] | None = None
    back: tuple[Decimal, Context, LineCase] | None = None
    for ctx in contexts(model, days, lines=True):
        counted[0] += 1
        case = line_case(model, ctx)
        if case is None:
            continue
        if best is None or case.rate > best[0]:
            best = (case.rate, ctx, case)
        given = case.rate * value + case.cashback_percent / 100
        if back is None or given > back[0]:
            back = (given, ctx, case)
    if best is None or back is None:  # every category excluded
        none = "every category is excluded from earning"
        return [Bound("max_points_per_unit", Decimal(0), none),
                Bound("max_value_back", Decimal(0), none)]
    return [_line_witness(program, "max_points_per_unit", *best, value),
            _line_witness(program, "max_value_back", *back, value)]


def _next_level(program: Program, ctx: Context) -> Decimal | None:
    return next((lv for lv in levels(program.model) if lv > ctx.level), None)


def _line_witness(program: Program, quantity: str, bound: Decimal, ctx: Context,
                  case: LineCase, value: Decimal) -> Bound:
    cashback = program.model.earning.cashback
    amount = w.line_amount(case, ctx, _next_level(program, ctx))
    if quantity == "max_value_back" and cashback is not None:
        for smaller in [a for a in w.AMOUNTS if a <= amount]:
            if w.cash_exact(smaller, case.cashback_percent) and (
                    cashback.max_per_order is None
                    or smaller * case.cashback_percent / 100 <= cashback.max_per_order):
                amount = smaller
                break
    request = w.line_request(program, ctx, case, amount)
    points, cash = w.line_rate(w.run(program, request))
    got = points if quantity == "max_points_per_unit" else points * value + cash
    parts = " × ".join(case.applied) or "earning.base"
    if quantity == "max_value_back":
        parts += f"; point value {value:f}, cashback {case.cashback_percent:f}%"
        # cashback is paid in whole cents: on a witness line small enough for every cap,
        # the percent is reproduced when the evaluator pays it cut to cents
        paid = w.cash_paid(amount, case.cashback_percent, cashback)
        if points == case.rate and cash == paid / amount:
            got = bound
    if got != bound:
        raise w.WitnessMismatch(f"{quantity}: proven {bound} in {ctx.describe()}, but the "
                                f"evaluator gives {got} on the witness {request}")
    return Bound(quantity, bound, f"{ctx.describe()}: {parts}", (request,), got)


def _order_bound(program: Program, days: list[Any], counted: list[int]) -> Bound:
    model = program.model
    top = max(levels(model))
    best = None
    for ctx in contexts(model, days, lines=False):
        counted[0] += 1
        if ctx.level != top:  # a total reaching every min_order gives every bonus
            continue
        case = order_case(model, ctx)
        if best is None or case.points > best[1].points:
            best = (ctx, case)
    assert best is not None
    ctx, case = best
    request = w.order_request(program, ctx, case, categories(model)[-1])
    got = w.bonus_points(w.run(program, request))
    if got != case.points:
        raise w.WitnessMismatch(f"max_bonus_points_per_order: proven {case.points} in "
                                f"{ctx.describe()}, but the evaluator gives {got} on the "
                                f"witness {request}")
    parts = " + ".join(case.detail) or "no bonus applies"
    return Bound("max_bonus_points_per_order", Decimal(case.points),
                 f"{ctx.describe()}: {parts}", (request,), Decimal(got))


def _campaign_bound(program: Program, c: Campaign, days: list[Any]) -> Bound:
    quantity = "max_campaign_points_per_day"
    if c.budget_points is None:
        why = "no budget: each order may collect it" + (
            f" (up to {c.max_points} points)" if c.max_points is not None else "") + \
            " and a day's orders have no limit"
        return Bound(quantity, None, why, subject=c.id)
    return spend_budget(program, c, days)
