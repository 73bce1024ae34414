"""Fulfilment of an order's items, one by one, and how the order's status follows.

Physical items wait in the manual queue: an operator acknowledges one (`acknowledged`),
ships it with a carrier and a tracking number (`shipped`: its reserved stock leaves the
inventory) and marks it delivered — or the carrier's signed callback does. Virtual items
are sent to the fulfilment API (`LOYALTY_FULFILMENT_WEBHOOK_URL`, the same webhook and
settings as single redemptions) by the `b2b_orders` job: `pending` → `sending` (claimed
with a lease) → `sent` (the API accepted it), retried with backoff, `failed` after the
last attempt (an operator may send it again: `pending`); the API's callback then says
`delivered` (or `failed`). The API routes also send an order's virtual items right after
answering (a background task), so they need not wait for the job.

Every move is one transition of `MOVES`, made under the order's row lock, recorded with
who made it; repeating a move that was made answers the item as it is (idempotent). The
order's status follows its items (`model.rollup`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

import store.clock as clock
import store.inventory.stock as inventory
from store.b2b_orders.model import OPEN_ORDERS, event, find, item_view, items_of, rollup, view
from store.db.database import Database
from store.errors import Conflict, NotFound
from store.redemptions.fulfilment import FulfilmentSettings, attempt
from store.tables.b2b_orders import B2BOrderItemRow, B2BOrderRow

# target status → the statuses it may come from
MOVES: dict[str, frozenset[str]] = {
    "acknowledged": frozenset({"queued"}),
    "shipped": frozenset({"queued", "acknowledged"}),
    "sent": frozenset({"sending"}),
    "delivered": frozenset({"shipped", "sending", "sent"}),
    "failed": frozenset({"pending", "sending", "sent", "shipped"}),
    "pending": frozenset({"failed"}),  # an operator sends a failed virtual item again
}
GONE = frozenset({"shipped", "sent", "delivered"})  # the goods left: reserved stock is used
ROUTE_OF_MOVE = {"acknowledged": "manual", "shipped": "manual", "sent": "webhook",
                 "pending": "webhook"}


def move(session: Any, order: B2BOrderRow, item: B2BOrderItemRow, target: str, actor: str,
         **detail: Any) -> bool:
    """Move one item of a locked order to `target` (False: it was there already)."""
    if item.status == target:
        return False
    needed = ROUTE_OF_MOVE.get(target)
    if needed is not None and item.route != needed:
        raise Conflict("wrong_route", f"line {item.line} is fulfilled by the "
                       f"{'manual queue' if item.route == 'manual' else 'fulfilment API'}")
    if order.status not in OPEN_ORDERS or item.status not in MOVES[target]:
        raise Conflict("invalid_transition", f"line {item.line} of order {order.number} is "
                       f"{item.status} (order {order.status}); it cannot become {target}")
    if target in GONE and item.stocked:
        inventory.consume(session, order.program, item.reward_id, item.quantity,
                          inventory.Change(actor, "ship", target, order.number))
        item.stocked = False
    item.status, item.updated_at = target, clock.now()
    if target == "pending":  # a retry: due now, with a fresh count of attempts
        item.attempts, item.next_attempt_at = 0, clock.now()
    for name in ("carrier", "tracking"):
        if detail.get(name):
            setattr(item, name, detail[name])
    event(session, order, target, actor, line=item.line,
          **{k: v for k, v in detail.items() if v is not None})
    order.status, order.updated_at = rollup(i.status for i in items_of(session, order)), \
        clock.now()
    return True


def _item(session: Any, order: B2BOrderRow, line: int) -> B2BOrderItemRow:
    item = session.scalar(select(B2BOrderItemRow).where(
        B2BOrderItemRow.order_pk == order.id, B2BOrderItemRow.line == line)
        .execution_options(populate_existing=True))
    if item is None:
        raise NotFound("unknown_item", f"order {order.number} has no line {line}",
                       pointer="/line")
    return item


def advance(db: Database, program: str | None, number: str, line: int, target: str,
            actor: str, **detail: Any) -> tuple[dict[str, Any], bool]:
    """An operator's (or a callback's) step on one item: (the order, whether it moved)."""
    with db.writing() as session:
        if program is None:  # a callback names the order by its number alone
            order = session.scalar(select(B2BOrderRow).where(B2BOrderRow.number == number)
                                   .with_for_update())
            if order is None:
                raise NotFound("unknown_order", f"no order {number!r}", pointer="/order_number")
        else:
            order = find(session, program, None, number, lock=True)
        moved = move(session, order, _item(session, order, line), target, actor, **detail)
        session.flush()
        return view(session, order), moved


def due_now(order: dict[str, Any]) -> bool:
    """Whether an order's view has virtual items waiting for the fulfilment API."""
    return any(i["route"] == "webhook" and i["status"] == "pending" for i in order["items"])


def queue(db: Database, program: str, status: str, route: str, after: int | None,
          limit: int) -> dict[str, Any]:
    """Items of `program` in `status` on `route`, oldest first (`after`: the cursor)."""
    query = select(B2BOrderItemRow, B2BOrderRow.number, B2BOrderRow.company_id).join(
        B2BOrderRow, B2BOrderRow.id == B2BOrderItemRow.order_pk).where(
        B2BOrderItemRow.program == program, B2BOrderItemRow.route == route,
        B2BOrderItemRow.status == status)
    if after is not None:
        query = query.where(B2BOrderItemRow.id > after)
    with db.reading() as session:
        rows = session.execute(query.order_by(B2BOrderItemRow.id).limit(limit + 1)).all()
    items = [{"order_number": number, "company_id": company, **item_view(item)}
             for item, number, company in rows[:limit]]
    return {"program": program, "route": route, "status": status, "items": items,
            "next_cursor": str(rows[limit - 1][0].id) if len(rows) > limit else None}


# --- virtual items: the fulfilment API --------------------------------------------------

def _claim(db: Database, lease: float, program: str | None) -> list[int]:
    now = clock.now()
    with db.writing() as session:
        query = select(B2BOrderItemRow.id, B2BOrderItemRow.status).where(
            B2BOrderItemRow.route == "webhook",
            B2BOrderItemRow.status.in_(("pending", "sending")),
            B2BOrderItemRow.next_attempt_at <= now)
        if program is not None:
            query = query.where(B2BOrderItemRow.program == program)
        claimed = []
        for item_id, status in session.execute(query.order_by(B2BOrderItemRow.id)
                                               .limit(100)).all():
            won = session.execute(update(B2BOrderItemRow).where(
                B2BOrderItemRow.id == item_id, B2BOrderItemRow.status == status,
                B2BOrderItemRow.next_attempt_at <= now).values(
                status="sending", next_attempt_at=now + timedelta(seconds=lease),
                updated_at=now)).rowcount  # type: ignore[attr-defined]
            if won:
                claimed.append(item_id)
    return claimed


def dispatch(db: Database, settings: FulfilmentSettings,
             program: str | None = None) -> dict[str, int]:
    """One attempt for every due virtual item (claimed with a lease, so two jobs never
    send one at once); a failed attempt is retried by a later run after its backoff."""
    outcome: dict[str, int] = {}
    if not settings.webhook_url:
        return outcome
    claimed = _claim(db, settings.lease_seconds, program)
    with httpx.Client(timeout=settings.timeout_seconds) as client:
        for item_id in claimed:
            status = _send(db, settings, client, item_id)
            outcome[status] = outcome.get(status, 0) + 1
    return outcome


def _send(db: Database, settings: FulfilmentSettings, client: httpx.Client,
          item_id: int) -> str:
    with db.reading() as session:
        item = session.get(B2BOrderItemRow, item_id)
        assert item is not None
        order = session.get(B2BOrderRow, item.order_pk)
        assert order is not None
        payload: dict[str, Any] = {"event": "b2b_order_item.fulfil", "program": order.program,
                   "order_number": order.number, "line": item.line,
                   "company_id": order.company_id, "reward_id": item.reward_id,
                   "quantity": item.quantity, "points": item.points}
    delivered, retryable, what = attempt(client, settings.webhook_url or "", payload,
                                         f"{order.program}:b2b:{order.number}:{item.line}")
    with db.writing() as session:
        order = find(session, payload["program"], None, payload["order_number"], lock=True)
        item = _item(session, order, payload["line"])
        if item.status != "sending":  # cancelled or called back meanwhile
            event(session, order, "delivery_after_move", "jobs", line=item.line,
                  status=item.status, response=what)
            return item.status
        item.attempts += 1
        if delivered:
            item.last_error = None
            move(session, order, item, "sent", "jobs", response=what)
        elif retryable and item.attempts < settings.max_attempts:
            item.status, item.last_error = "pending", what
            item.next_attempt_at = clock.now() + timedelta(
                seconds=settings.backoff_seconds * 2 ** (item.attempts - 1))
            event(session, order, "delivery_attempt_failed", "jobs", line=item.line,
                  error=what, attempt=item.attempts)
        else:
            item.last_error = what
            move(session, order, item, "failed", "jobs", error=what, attempts=item.attempts)
        return item.status
