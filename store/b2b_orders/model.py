"""What an order is made of and how it reads: the statuses of orders and items, how an order's status follows its items, the order number, and the
JSON view every route and command answers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

import store.clock as clock
from store.db.upsert import insert_ignore
from store.errors import NotFound
from store.tables.b2b_orders import (
    B2BOrderEventRow,
    B2BOrderItemRow,
    B2BOrderRow,
    OrderNumberRow,
)

ORDER_STATUSES = ("pending_approval", "placed", "partially_fulfilled", "fulfilled",
                  "cancelled", "failed")
ITEM_STATUSES = ("awaiting_approval", "queued", "acknowledged", "shipped", "pending",
                 "sending", "sent", "delivered", "failed", "cancelled", "not_placed")
# Items not yet out of the door: cancelling them credits the points and returns the stock.
CANCELLABLE = frozenset({"awaiting_approval", "queued", "acknowledged", "pending", "failed"})
OPEN_ORDERS = frozenset({"placed", "partially_fulfilled"})


def next_number(session: Session, year: int) -> str:
    """`B2B-<year>-<6 digits>` (more digits past 999,999): the year's counter, taken
    under its row lock, which orders being placed at once wait for until the placing
    transaction commits (a short one: it calls out to nothing). A refused placement rolls
    its number back, so numbers have no gaps."""
    insert_ignore(session, OrderNumberRow.__table__, {"year": year, "last": 0}, ["year"])
    session.execute(update(OrderNumberRow).where(OrderNumberRow.year == year)
                    .values(last=OrderNumberRow.last + 1))
    last = session.scalar(select(OrderNumberRow.last).where(OrderNumberRow.year == year))
    return f"B2B-{year}-{int(last or 0):06d}"


def rollup(statuses: Iterable[str]) -> str:
    """An open order's status from its items': every item cancelled → cancelled; every
    item left delivered → fulfilled; some delivered → partially_fulfilled; else placed."""
    live = [s for s in statuses if s != "cancelled"]
    if not live:
        return "cancelled"
    delivered = [s for s in live if s == "delivered"]
    if len(delivered) == len(live):
        return "fulfilled"
    return "partially_fulfilled" if delivered else "placed"


def event(session: Session, order: B2BOrderRow, step: str, actor: str,
          line: int | None = None, **detail: Any) -> None:
    session.add(B2BOrderEventRow(order_pk=order.id, line=line, step=step, actor=actor[:200],
                                 at=clock.now(), detail=detail))


def items_of(session: Session, order: B2BOrderRow) -> list[B2BOrderItemRow]:
    return list(session.scalars(select(B2BOrderItemRow).where(
        B2BOrderItemRow.order_pk == order.id).order_by(B2BOrderItemRow.line)
        .execution_options(populate_existing=True)))


def find(session: Session, program: str, company_id: str | None, number: str,
         lock: bool = False) -> B2BOrderRow:
    """The order by its number, within the program (and the company, when given: another
    company's order is not found, so numbers do not leak)."""
    query = select(B2BOrderRow).where(B2BOrderRow.number == number,
                                      B2BOrderRow.program == program)
    if company_id is not None:
        query = query.where(B2BOrderRow.company_id == company_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(query)
    if row is None:
        raise NotFound("unknown_order", f"no order {number!r} here", pointer="/order_number")
    return row


def view(session: Session, order: B2BOrderRow, history: bool = True) -> dict[str, Any]:
    items = items_of(session, order)
    out: dict[str, Any] = {
        "order_number": order.number, "program": order.program,
        "company_id": order.company_id, "status": order.status, "reason": order.reason,
        "total_points": order.total_points, "points_credited": order.points_credited,
        "account": {"service": order.service, "account": order.account,
                    "debited": order.debited},
        "requested_by": order.requested_by, "approved_by": order.approved_by,
        "approval_threshold": order.approval_threshold,
        "approval_expires_at": order.approval_expires_at.isoformat()
        if order.approval_expires_at else None,
        "ruleset_version": order.ruleset_version,
        "created_at": order.created_at.isoformat(), "updated_at": order.updated_at.isoformat(),
        "items": [item_view(i) for i in items]}
    if history:
        out["history"] = [
            {"step": e.step, "actor": e.actor, "at": e.at.isoformat(), "line": e.line,
             **({"detail": e.detail} if e.detail else {})}
            for e in session.scalars(select(B2BOrderEventRow).where(
                B2BOrderEventRow.order_pk == order.id).order_by(B2BOrderEventRow.id))]
    return out


def item_view(item: B2BOrderItemRow) -> dict[str, Any]:
    return {"line": item.line, "reward_id": item.reward_id, "quantity": item.quantity,
            "points": item.points, "route": item.route, "status": item.status,
            "carrier": item.carrier, "tracking": item.tracking,
            "attempts": item.attempts, "last_error": item.last_error}


def listing(session: Session, program: str, company_id: str, status: str | None,
            before: int | None, limit: int) -> dict[str, Any]:
    """A company's orders, newest first (`before`: the cursor of the next page)."""
    query = select(B2BOrderRow).where(B2BOrderRow.program == program,
                                      B2BOrderRow.company_id == company_id)
    if status is not None:
        query = query.where(B2BOrderRow.status == status)
    if before is not None:
        query = query.where(B2BOrderRow.id < before)
    rows = list(session.scalars(query.order_by(B2BOrderRow.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"program": program, "company_id": company_id,
            "orders": [view(session, r, history=False) for r in rows],
            "next_cursor": str(rows[-1].id) if more and rows else None}
