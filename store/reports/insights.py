"""A member's insights over a period: where they spend and earn (by category and by
month), how far each seasonal cap is used, the trend against the period before, their
tier's progress, the points about to expire and the rewards worth aiming for.

Spend and points come from SQL aggregates over the member's orders and ledger entries
(store/reports/aggregates.py). The tier, the caps of the current period, the lots and
the balance come from the member's book brought to the instant asked about, as the
member summary reads them (store/ledger/accounts.py): the tier and its thresholds are
the lifecycle core's (engine/lifecycle/tiering.py) and the ruleset's.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import engine.evaluation.tiers as tiers
import store.ledger.accounts as accounts
import store.ledger.books as books
import store.ledger.members as members
import store.registry.versions as registry
import store.reports.aggregates as agg
from engine.lifecycle import MemberBook
from engine.program import Program
from store.db.database import Database
from store.registry.programs import ProgramCache
from store.reports.window import Window, require_order, window

CENT = Decimal("0.01")


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT))


def insights(db: Database, cache: ProgramCache, program_id: str, member_id: str,
             start: datetime, end: datetime, as_of: datetime) -> dict[str, Any]:
    """The insights of `member_id` over [start, end); the tier, caps, expiring points and
    rewards as of `as_of` (the earlier of `end` and now, as the caller decides)."""
    require_order(start, end)  # before the version in effect at `as_of` is looked up
    with db.reading() as session:
        registry.require_program(session, program_id)
        row = members.get(session, program_id, member_id)
        agg.roomy(session)
        program = cache.get(session, program_id, cache.live_version(session, program_id, as_of))
        win = window(start, end, program.timezone)
        pk = row.id
        monthly = agg.by_category(session, program_id, win, pk, monthly=True)
        points = agg.points_by_month(session, program_id, win, pk)
        orders = agg.orders_by_month(session, program_id, win, pk)
        before = win.previous()
        previous = _totals(agg.points_by_month(session, program_id, before, pk),
                           agg.orders_by_month(session, program_id, before, pk))
        caps = _caps(session, program, win, pk)
    book = books.view_at(books.lifecycle(program), row, member_id, as_of)
    current = _totals(points, orders)
    categories: dict[str, dict[str, Any]] = {}
    for (category, _), figures in monthly.items():
        total = categories.setdefault(category, {"spend": Decimal(0), "points": 0})
        total["spend"] += figures["spend"]
        total["points"] += figures["points"]
    return {
        "program": program_id, "member_id": member_id, "ruleset_version": program.version,
        "period": {"from": start.isoformat(), "to": end.isoformat(), "months": win.keys},
        "as_of": as_of.isoformat(),
        "by_category": [{"category": c, "spend": _money(f["spend"]), "points": f["points"]}
                        for c, f in sorted(categories.items())],
        "by_month": [_month(m, points.get(m, {}), orders.get(m, {}),
                            {c: f for (c, mm), f in monthly.items() if mm == m})
                     for m in win.keys],
        "caps": _with_book(caps, program, book),
        "trend": _trend(current, previous, before),
        "tier": _tier(program, book, as_of),
        "expiring": _expiring(program, book, as_of),
        "rewards": _rewards(db, cache, program_id, book, as_of),
        "balance": book.balance,
    }


def _month(month: str, points: dict[str, int], orders: dict[str, Any],
           categories: dict[str, Any]) -> dict[str, Any]:
    return {"month": month, "orders": orders.get("orders", 0),
            "spend": _money(orders.get("net_spend", Decimal(0))),
            "points_issued": points.get("issued", 0),
            "points_redeemed": points.get("redeemed", 0),
            "points_reversed": points.get("reversed", 0),
            "points_expired": points.get("expired", 0),
            "by_category": {c: {"spend": _money(f["spend"]), "points": f["points"]}
                            for c, f in sorted(categories.items())}}


def _totals(points: dict[str, dict[str, int]], orders: dict[str, dict[str, Any]]
            ) -> dict[str, Any]:
    return {"orders": sum(o["orders"] for o in orders.values()),
            "spend": sum((o["net_spend"] for o in orders.values()), Decimal(0)),
            "points_issued": sum(p["issued"] for p in points.values())}


def _change(now: Decimal, before: Decimal) -> str | None:
    """The relative change in percent (None when the previous period had nothing)."""
    return str(((now - before) * 100 / before).quantize(Decimal("0.1"))) if before else None


def _trend(current: dict[str, Any], previous: dict[str, Any], before: Window
           ) -> dict[str, Any]:
    out: dict[str, Any] = {"previous_period": {"from": before.start.isoformat(),
                                               "to": before.end.isoformat()}}
    for key in ("spend", "orders", "points_issued"):
        now, then = Decimal(current[key]), Decimal(previous[key])
        show: Any = _money if key == "spend" else int
        out[key] = {"current": show(now), "previous": show(then), "change": show(now - then),
                    "change_percent": _change(now, then)}
    return out


def _caps(session: Any, program: Program, win: Window, pk: int) -> list[dict[str, Any]]:
    """Each cap period of a seasonal category with a spend cap that meets the period (the
    rotation itself, or each calendar month or quarter of it): the spend in its categories
    in that period, and what is left of the cap."""
    out: list[dict[str, Any]] = []
    tz = program.timezone
    for rotation in program.model.rotations:
        cap = rotation.cap_spend
        if cap is None:
            continue
        lo = datetime.combine(rotation.start, time(), tz)
        hi = datetime.combine(rotation.end + timedelta(days=1), time(), tz)
        if hi <= win.start or lo >= win.end:
            continue
        dates = window(lo, hi, tz)
        spent: dict[str, Decimal] = {}
        for _, first, last in dates.months:  # the cap periods in the rotation's months
            if first < win.end and last > win.start:
                spent.setdefault(rotation.cap_key(first.astimezone(tz).date()), Decimal(0))
        for (category, month), figures in agg.by_category(
                session, program.program, dates, pk, monthly=True).items():
            period = rotation.cap_key(date(int(str(month)[:4]), int(str(month)[5:]), 1))
            if category in rotation.categories and period in spent:
                spent[period] += figures["spend"]
        out.extend({"rule": rotation.rule_id, "period": period,
                    "from": rotation.start.isoformat(), "to": rotation.end.isoformat(),
                    "categories": sorted(rotation.categories), "cap": _money(cap),
                    "spend": _money(min(spend, cap)),
                    "remaining": _money(max(Decimal(0), cap - spend))}
                   for period, spend in spent.items())
    return out


def _with_book(caps: list[dict[str, Any]], program: Program, book: MemberBook
               ) -> list[dict[str, Any]]:
    """The cap spend the lifecycle holds for the current period replaces the orders'
    sum for that period (it counts eligible spend, after refunds)."""
    limits = {r.rule_id: r.cap_spend for r in program.model.rotations}
    for cap in caps:
        held = book.caps.get(cap["rule"])
        limit = limits.get(cap["rule"])
        if held is not None and limit is not None and held[0] == cap["period"]:
            cap["spend"] = _money(min(held[1], limit))
            cap["remaining"] = _money(max(Decimal(0), limit - held[1]))
    return caps


def _tier(program: Program, book: MemberBook, as_of: datetime) -> dict[str, Any] | None:
    lc = books.lifecycle(program)
    levels = program.model.tiers
    if lc.tiers is None or levels is None:
        return None
    spend, orders = lc.tiers.totals(book, as_of)
    current = levels.get(book.tier)
    keep: dict[str, Any] | None = None
    if current is not None:
        until = tiers.held_until(program, book.tier_since) if book.tier_since else None
        keep = {"tier": current.id, "min_spend": _money(current.min_spend),
                "min_orders": current.min_orders,
                "spend_needed": _money(max(Decimal(0), current.min_spend - spend)),
                "orders_needed": max(0, current.min_orders - orders),
                "held_until": until.isoformat() if until else None}
    return {"tier": book.tier, "window": levels.window, "qualifying_spend": _money(spend),
            "qualifying_orders": orders, "progress": tiers.progress(program, book.tier, spend,
                                                                     orders),
            "keep": keep}


def _expiring(program: Program, book: MemberBook, as_of: datetime) -> list[dict[str, Any]]:
    """The points left in lots expiring after `as_of`, by program-local month."""
    by_month: dict[str, int] = {}
    for lot in book.lots:
        if lot.expires_at is not None and lot.expires_at > as_of and lot.left > 0:
            local = lot.expires_at.astimezone(program.timezone)
            key = f"{local.year}-{local.month:02d}"
            by_month[key] = by_month.get(key, 0) + lot.left
    return [{"month": m, "points": p} for m, p in sorted(by_month.items())]


def _rewards(db: Database, cache: ProgramCache, program_id: str, book: MemberBook,
             as_of: datetime) -> dict[str, Any]:
    """Of the catalog rewards the member's tier may have and that are in stock: the best
    value per point affordable now, and the nearest out of reach, with the points needed."""
    items = [i for i in accounts.catalog(db, cache, program_id, as_of)["items"]
             if (not i["tiers"] or book.tier in i["tiers"])
             and (i["stock_remaining"] is None or i["stock_remaining"] > 0)]
    affordable = [i for i in items if i["points"] <= book.balance]
    out_of_reach = [i for i in items if i["points"] > book.balance]

    def per_point(item: dict[str, Any]) -> Decimal:
        return Decimal(item["value"] or 0) / item["points"]

    best = max(affordable, key=lambda i: (per_point(i), -i["points"]), default=None)
    nearest = min(out_of_reach, key=lambda i: i["points"], default=None)
    return {
        "best_affordable": None if best is None else {
            "id": best["id"], "name": best["name"], "points": best["points"],
            "value": best["value"], "value_per_point": str(per_point(best).quantize(
                Decimal("0.0001")))},
        "nearest_out_of_reach": None if nearest is None else {
            "id": nearest["id"], "name": nearest["name"], "points": nearest["points"],
            "value": nearest["value"], "points_needed": nearest["points"] - book.balance}}
