"""Order and redemption records from the tables as of revision 0009: what the lifecycle
core needs to refund an order (`OrderRecord`) or to cancel, release or capture a
redemption (`RedemptionRecord`), from the order's request and first result, its refunds,
the ledger entries on its lots and the redemption rows.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from engine.lifecycle.context import Lifecycle
from engine.lifecycle.records import OrderLine, OrderRecord, Payment, RedemptionRecord
from store.migrations.books.lots import Lots
from store.migrations.books.rows import MemberRows
from store.migrations.books.standing import challenge_met, money

ZERO, ONE, CENT = Decimal(0), Decimal(1), Decimal("0.01")
LIVE = ("held", "completed", "captured")  # redemptions that may still change
PAID = ("captured", "refunded", "partially_refunded")  # holds an order captured


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _lines(order: Any) -> tuple[OrderLine, ...]:
    sent = ((order.request or {}).get("order") or {}).get("lines") or []
    earned = ((order.result or {}).get("earn") or {}).get("lines") or []
    out = []
    for line, out_line in zip(sent, earned):
        quantity = int(line.get("quantity", 1))
        amount = _dec(line["unit_price"]) * quantity - _dec(line.get("discount") or 0)
        out.append(OrderLine(quantity, amount, _dec(out_line["eligible_amount"]),
                             _dec(out_line.get("points_exact", out_line["points"]))))
    return tuple(out)


def _refunded(rows: MemberRows, order: Any) -> dict[int, int]:
    done: dict[int, int] = {}
    for refund in rows.refunds.get(order.id, ()):
        for line in (refund.result or {}).get("lines") or ():
            done[int(line["index"])] = done.get(int(line["index"]), 0) + int(line["quantity"])
    return done


def _given_back(lots: Lots, rows: MemberRows, redemption: Any) -> int:
    """Points of a captured hold an order's refunds gave back so far."""
    if redemption.external_account is not None:
        return rows.external_back.get(redemption.id, 0)
    return lots.given_back.get(str(redemption.id), 0)


def _usage(lc: Lifecycle, rows: MemberRows, order: Any, record: OrderRecord) -> None:
    result = order.result or {}
    used = result.get("usage") or {}
    caps = []
    for cap in used.get("caps") or ():
        rotation = lc.rotations.get(cap["rule"])
        if rotation is not None:  # a rotation the ruleset dropped is no longer counted
            caps.append((cap["rule"], lc.cap_period(rotation, order.placed_at),
                         _dec(cap["spend"])))
    running = {r.key: r.started_at for r in rows.counters
               if r.kind == "challenge" and r.started_at is not None}
    challenges = []
    for ch in used.get("challenges") or ():
        started = running.get(ch["id"])
        days = lc.challenge_days.get(ch["id"])
        if started is None or started > order.placed_at or challenge_met(rows, ch["id"], started) \
                or (days and (order.placed_at - started).days >= days):
            started = order.placed_at  # a challenge no longer running: never matched again
        challenges.append((ch["id"], started, _dec(ch["spend"])))
    campaigns = tuple((c["id"], int(c.get("points") or 0))
                      for c in result.get("campaigns") or ())
    record.caps, record.challenges, record.campaigns = tuple(caps), tuple(challenges), campaigns
    record.budgeted = tuple(cid for cid, points in campaigns if cid in lc.budgeted and points)


def order_record(lc: Lifecycle, rows: MemberRows, order: Any, lots: Lots) -> OrderRecord:
    result = order.result or {}
    earn = result.get("earn") or {}
    lines = _lines(order)
    lot = lots.source_lot(f"order:{order.order_id}")
    first_lot = lots.source_lot(f"activity:order:{order.order_id}")
    first = next(((int(a["points"]), first_lot) for a in result.get("activities") or ()
                  if a.get("activity") == "first_purchase"), None)
    whole = (order.refunded_fraction or ZERO) >= ONE
    record = OrderRecord(
        order_id=order.order_id, placed_at=order.placed_at, lines=lines,
        net=sum((ln.amount for ln in lines), ZERO), spend=money(order.original_spend),
        by_rule=tuple((rule, int(points)) for rule, points in (earn.get("by_rule") or {}).items()
                      if points),
        cashback=_dec(earn.get("cashback") or "0"), lot=lot,
        first_purchase=None if whole else first,
        refunded=_refunded(rows, order))
    _usage(lc, rows, order, record)
    record.reversed = dict(lots.reversed.get(lot, {})) if lot is not None else {}
    record.lost = {no: lots.expired[no] for no in (lot, first_lot) if no in lots.expired}
    for redemption in rows.redemptions:
        if redemption.order_id == order.order_id and redemption.status in PAID \
                and redemption.kind in ("points", "reward"):
            record.payments.append(Payment(
                str(redemption.id), redemption.kind, int(redemption.points),
                lots.draws(rows.allocations.get(redemption.ledger_entry_id, [])),
                _given_back(lots, rows, redemption)))
    # Revision 0009 did not reverse cashback; a refund under the core takes back the
    # refunded share of it, so the share refunded so far counts as taken back already.
    share = min(ONE, record.refunded_money() / record.net) if record.net else ZERO
    record.cashback_back = (record.cashback * share).quantize(CENT, rounding=ROUND_FLOOR)
    return record


def _counted_in(rows: MemberRows, redemption: Any) -> str | None:
    for event in rows.events.get(redemption.id, ()):
        if event.status == "completed":
            return (event.detail or {}).get("counted_in")
    return None


def redemption_record(rows: MemberRows, redemption: Any, lots: Lots) -> RedemptionRecord:
    draws = lots.draws(rows.allocations.get(redemption.ledger_entry_id, [])) \
        if redemption.ledger_entry_id is not None else ()
    at: datetime = redemption.occurred_at
    return RedemptionRecord(
        id=str(redemption.id), kind=redemption.kind, status=redemption.status,
        points=int(redemption.points), draws=draws, at=at, order_id=redemption.order_id,
        reward_id=redemption.reward_id, quantity=int(redemption.quantity or 1),
        hold_expires_at=redemption.hold_expires_at,
        counted_in=_counted_in(rows, redemption) if redemption.kind == "automatic" else None)
