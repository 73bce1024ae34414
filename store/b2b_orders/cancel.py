"""Cancelling an order, or some of its items: the items not yet out of the door
(awaiting approval, queued, acknowledged, pending delivery, failed) are cancelled, their
stock goes back to `available`, and — when the order was debited — the account is owed
their points back: one credit transfer per item (`b2b-order:<number>:cancel:<line>`),
written in the same transaction and sent by the `external_points` job, so a crash loses
no credit and a retry never credits twice. Shipped, sent or delivered items stay.

The company's cached balance (store/b2b/balances.py) is forgotten when the cancel
commits and again once `send_credits` (run by the routes right after answering) has
sent what is owed, so the portal does not show the balance from before the credit."""

from __future__ import annotations

from typing import Any

import store.b2b.balances as balances
import store.clock as clock
import store.external.accounts as external_accounts
import store.external.transfers as external_transfers
import store.inventory.stock as inventory
from store.b2b.balances import BalanceCache
from store.b2b_orders.model import CANCELLABLE, OPEN_ORDERS, event, find, items_of, rollup, view
from store.b2b_orders.place import DEBIT_PREFIX
from store.db.database import Database
from store.errors import Conflict, NotFound
from store.idempotency import Outcome
from store.tables.b2b_orders import B2BOrderItemRow, B2BOrderRow


def cancel(db: Database, program: str, company_id: str | None, number: str,
           lines: list[int] | None, actor: str, reason: str | None = None,
           cache_of_balances: BalanceCache | None = None) -> Outcome:
    """Cancel the whole order (`lines` None: every item still cancellable) or the items
    on `lines`. Cancelling a cancelled order again answers it (`created` False)."""
    outcome = _cancel(db, program, company_id, number, lines, actor, reason)
    if outcome.created and outcome.result["account"]["debited"]:
        balances.forget_account(cache_of_balances, outcome.result["program"],
                                outcome.result["account"]["account"])
    return outcome


def send_credits(db: Database, order: dict[str, Any],
                 cache_of_balances: BalanceCache | None = None) -> None:
    """Send now the credits owed to `order`'s program (the `external_points` job sends
    what fails here), then forget the account's cached balance."""
    if not order["account"]["debited"] or not order["points_credited"]:
        return
    external_transfers.send_due(db, external_accounts.settings(), program=order["program"])
    balances.forget_account(cache_of_balances, order["program"], order["account"]["account"])


def _cancel(db: Database, program: str, company_id: str | None, number: str,
            lines: list[int] | None, actor: str, reason: str | None) -> Outcome:
    with db.writing() as session:
        order = find(session, program, company_id, number, lock=True)
        items = items_of(session, order)
        if order.status == "cancelled" and lines is None:
            return Outcome(view(session, order), created=False)
        if order.status == "pending_approval" and lines is not None:
            raise Conflict("order_pending_approval", f"order {number} awaits approval: "
                           "cancel all of it (or reject it), not some items", pointer="/lines")
        if order.status not in OPEN_ORDERS | {"pending_approval"}:
            raise Conflict("order_not_cancellable", f"order {number} is {order.status}")
        chosen = _chosen(items, lines)
        _cancel_items(session, order, chosen, actor, reason)
        order.status = "cancelled" if order.status == "pending_approval" \
            else rollup(i.status for i in items)
        if order.status == "cancelled":
            order.reason = "cancelled"
        order.updated_at = clock.now()
        session.flush()
        return Outcome(view(session, order), created=True)


def _chosen(items: list[B2BOrderItemRow], lines: list[int] | None) -> list[B2BOrderItemRow]:
    if lines is None:
        chosen = [i for i in items if i.status in CANCELLABLE]
        if not chosen:
            raise Conflict("nothing_to_cancel", "every item is shipped, sent, delivered or "
                           "cancelled already")
        return chosen
    by_line = {i.line: i for i in items}
    chosen = []
    for index, line in enumerate(lines):
        item = by_line.get(line)
        if item is None:
            raise NotFound("unknown_item", f"the order has no line {line}",
                           pointer=f"/lines/{index}")
        if item.status not in CANCELLABLE:
            raise Conflict("item_not_cancellable", f"line {line} is {item.status}: only items "
                           "not yet shipped or sent can be cancelled", pointer=f"/lines/{index}")
        if item not in chosen:
            chosen.append(item)
    return chosen


def _cancel_items(session: Any, order: B2BOrderRow, chosen: list[B2BOrderItemRow], actor: str,
                  reason: str | None) -> None:
    change = inventory.Change(actor, "release", reason or "cancelled", order.number)
    for item in sorted(chosen, key=lambda i: i.reward_id):
        if item.stocked:
            inventory.release(session, order.program, item.reward_id, item.quantity, change)
            item.stocked = False
    for item in chosen:
        item.status, item.updated_at = "cancelled", clock.now()
        credited = 0
        if order.debited:
            external_accounts.owe_credit(session, order.program, order.service, order.account,
                                         item.points, f"{DEBIT_PREFIX}{order.number}:cancel:"
                                         f"{item.line}")
            credited = item.points
            order.points_credited += item.points
        event(session, order, "item_cancelled", actor, line=item.line,
              points_credited=credited, **({"reason": reason} if reason else {}))
