"""Facts the rule engine decides on: one per order, one per line (order fields included)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import engine.calendar as calendar
from engine.evaluation.request import Request
from engine.rules.conditions import WEEKDAY_NAMES

if TYPE_CHECKING:
    from engine.program import Program

ZERO = Decimal(0)


_SPANS: dict[int, tuple[Any, int]] = {}


def monthly_span(model: Any) -> int:
    """The longest `schedule.monthly.days` among the program's campaigns (1 without)."""
    found = _SPANS.get(id(model))
    if found is None or found[0] is not model:
        span = max((c.schedule.monthly.days for c in model.campaigns
                    if c.schedule.monthly is not None), default=1)
        found = _SPANS[id(model)] = (model, span)
    return found[1]


def order_fact(program: Program, req: Request, tier: str | None,
               local: datetime | None = None) -> dict[str, Any]:
    member = req.member
    attrs = member.get("attributes") or {}
    if local is None:
        local = calendar.local(program, req.at)
    fact: dict[str, Any] = {
        "member.id": member.get("id"), "member.tier": tier,
        "order.local_date": local.year * 10000 + local.month * 100 + local.day,
        "order.weekday": WEEKDAY_NAMES[local.weekday()], "order.day_of_month": local.day,
        "order.month": local.month,
    }
    for k in range(1, monthly_span(program.model)):  # windows of several days (compile.py)
        fact[f"order.day_of_month_{k}_days_before"] = (local - timedelta(days=k)).day
    for key, value in attrs.items():
        fact[f"member.attributes.{key}"] = value
    for key, value in req.context.items():
        fact[f"context.{key}"] = value
    order = req.order
    if order is not None:
        subtotal = sum((line.amount for line in order.lines), ZERO)
        fact.update({
            "order.id": order.id, "order.subtotal": subtotal, "order.shipping": order.shipping,
            "order.total": subtotal + order.shipping, "order.channel": order.channel,
            "order.currency": order.currency, "order.line_count": len(order.lines),
            "order.categories": sorted({line.category for line in order.lines}),
        })
    return fact


def activity_fact(program: Program, activity: str, member_id: str, attributes: Mapping[str, Any],
                  tier: str | None, at: datetime) -> dict[str, Any]:
    """The fact of an activity: the member (tier, attributes) and the activity's instant,
    program-local, as an order fact without an order has them, and `activity.name`."""
    request = Request(member={"id": member_id, "attributes": attributes}, order=None,
                      redeem=None, explain=False, as_of=at)
    fact = order_fact(program, request, tier)
    fact["activity.name"] = activity
    return fact


def line_fact(base: Mapping[str, Any], line: Any) -> dict[str, Any]:
    fact = dict(base)
    fact.update({"line.sku": line.sku, "line.category": line.category,
                 "line.quantity": line.quantity, "line.unit_price": line.unit_price,
                 "line.amount": line.amount})
    return fact
