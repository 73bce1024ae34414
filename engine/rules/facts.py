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


# schedule.monthly.days is at most 7 (the ruleset schema): names for every k it needs
_DAYS_BEFORE = [f"order.day_of_month_{k}_days_before" for k in range(8)]
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
    day = local.day
    fact: dict[str, Any] = {
        "member.id": member.get("id"), "member.tier": tier,
        "order.local_date": local.year * 10000 + local.month * 100 + day,
        "order.weekday": WEEKDAY_NAMES[local.weekday()], "order.day_of_month": day,
        "order.month": local.month,
    }
    for k in range(1, monthly_span(program.model)):  # windows of several days (compile.py)
        fact[_DAYS_BEFORE[k]] = day - k if day > k else (local - timedelta(days=k)).day
    for key, value in attrs.items():
        fact["member.attributes." + key] = value
    for key, value in req.context.items():
        fact["context." + key] = value
    order = req.order
    if order is not None:
        lines = order.lines
        subtotal = sum([line.amount for line in lines], ZERO)
        fact["order.id"] = order.id
        fact["order.subtotal"] = subtotal
        fact["order.shipping"] = order.shipping
        fact["order.total"] = subtotal + order.shipping
        fact["order.channel"] = order.channel
        fact["order.currency"] = order.currency
        fact["order.line_count"] = len(lines)
        fact["order.categories"] = sorted({line.category for line in lines})
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
