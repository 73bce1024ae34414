"""Placing a company's order of several items, and approving or rejecting it.

Placing is all or nothing:

1. the rule engine assesses every item against the company's tier and the account's
   balance (read from the external points API), each item against what the items
   before it leave (`engine.evaluation.redeem.assess`): any refusal refuses the order;
2. one transaction gives the order its number and reserves every item's stock
   (`store.inventory.stock.reserve`, rows locked in reward order): too few units of any
   item and nothing is reserved (409 OUT_OF_STOCK);
3. above the company's approval threshold the order waits (`pending_approval`), its
   stock reserved, until an approver who is not the requester approves it, someone
   rejects it, or it expires (the `b2b_orders` job);
4. otherwise (or on approval) the saga of `store.external.points.redeem` debits the
   account once for the whole order (`Idempotency-Key: b2b-order:<number>`) and marks it
   placed, its items routed to fulfilment. A debit the API refuses fails the order and
   releases the reservations (409 INSUFFICIENT_POINTS); a debit whose outcome stays
   unknown fails it too (503) — the journal's reconciliation credits back whatever was
   taken; a failure after the debit is credited back by the saga.

Two requesters ordering the last units at once: the stock row lock lets one reserve
them, the other gets OUT_OF_STOCK. Ordering the last points at once: the external API
keeps the balance from going negative, so one debit is refused and that order's
reservations are released.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import store.b2b.balances as balances
import store.clock as clock
import store.external.accounts as external_accounts
import store.external.points as ext
import store.inventory.stock as inventory
from engine.evaluation.contract import QUANTITY_LIMIT
from engine.evaluation.redeem import assess
from engine.evaluation.request import Redeem
from engine.program import Program
from store.b2b.balances import BalanceCache
from store.b2b.companies import Company
from store.b2b.companies import find_row as find_company
from store.b2b_orders.model import event, find, items_of, next_number, view
from store.db.database import Database
from store.errors import Conflict, Forbidden, Unprocessable
from store.idempotency import Outcome, request_hash
from store.redemptions.fulfilment import route_of
from store.redemptions.redeem import Refused
from store.registry.programs import ProgramCache
from store.tables.b2b_orders import B2BOrderItemRow, B2BOrderRow

MAX_ITEMS = 50
DEBIT_PREFIX = "b2b-order:"


def _lines(program: Program, company: Company, items: list[dict[str, Any]],
           balance: int) -> list[tuple[str, int, int, str]]:
    """(reward id, quantity, points, route) per item, once the engine found each one
    redeemable; else Refused with every reason, each naming its item."""
    if not 1 <= len(items) <= MAX_ITEMS:
        raise Unprocessable("invalid_items", f"an order has 1 to {MAX_ITEMS} items",
                            pointer="/items")
    config = program.model.redemption
    seen: set[str] = set()
    unlimited = {r.id: QUANTITY_LIMIT for r in config.catalog} if config else {}
    lines: list[tuple[str, int, int, str]] = []
    reasons: list[dict[str, Any]] = []
    spent = 0
    for index, item in enumerate(items):
        reward_id, quantity = str(item["reward_id"]), int(item["quantity"])
        if reward_id in seen:
            raise Unprocessable("duplicate_reward", f"{reward_id} is on the order twice; give "
                                "its whole quantity once", pointer=f"/items/{index}/reward_id")
        seen.add(reward_id)
        # Stock is decided by the reservation under its lock, not here.
        assessed = assess(config, Redeem(reward_id=reward_id, quantity=quantity),
                          balance=balance - spent, tier=company.tier, order_total=None,
                          stock=unlimited, denials=[])
        if not assessed.eligible:
            reasons.extend({**r.to_json(), "item": index} for r in assessed.reasons)
            continue
        reward = config.reward(reward_id) if config else None
        assert reward is not None
        spent += assessed.points
        lines.append((reward_id, quantity, assessed.points, route_of(reward)))
    if reasons:
        raise Refused(reasons)
    return lines


def place(db: Database, cache: ProgramCache, company: Company, request: dict[str, Any],
          actor: str, approval_hours: float, cache_of_balances: BalanceCache | None = None
          ) -> Outcome:
    """Place the order `request` ({items: [{reward_id, quantity}], idempotency_key?})
    for `company`, by `actor`. A retry with the same idempotency key and body answers
    the first order (`created` False). `cache_of_balances`: the company's cached balance
    is forgotten once the account was (or may have been) debited."""
    if not company.active:
        raise Conflict("company_inactive", f"company {company.company_id!r} is deactivated")
    key = request.get("idempotency_key")
    digest = request_hash({"items": request["items"], "idempotency_key": key})
    at = clock.now()
    with db.reading() as session:
        replayed = _earlier(session, company, key, digest)
        if replayed is not None:
            return replayed
        program = cache.resolve(session, company.program, at)
    config = external_accounts.config_of(program)
    if config is None or config.service is None:
        raise Unprocessable("orders_need_external_account", f"{company.program} keeps its "
                            "balances in the platform's ledger; company orders debit an "
                            "external points account")
    balance = external_accounts.balance(config, company.loyalty_account_id)
    lines = _lines(program, company, request["items"], balance)
    total = sum(points for _, _, points, _ in lines)
    waits = company.approval_threshold is not None and total > company.approval_threshold
    try:
        with db.writing() as session:
            replayed = _earlier(session, company, key, digest)
            if replayed is not None:
                return replayed
            number = next_number(session, at.year)
            order = B2BOrderRow(
                number=number, program=company.program, company_id=company.company_id,
                account=company.loyalty_account_id, service=config.service,
                status="pending_approval" if waits else "placing", total_points=total,
                points_credited=0, debited=False, approval_threshold=company.approval_threshold,
                requested_by=actor, idempotency_key=key, request_hash=digest,
                ruleset_version=program.version, created_at=at, updated_at=at,
                approval_expires_at=at + timedelta(hours=approval_hours) if waits else None)
            session.add(order)
            session.flush()
            reserve = inventory.Change(actor, "reserve", order_number=number)
            stocked = {}
            for index, (reward_id, quantity, _, _) in sorted(enumerate(lines),
                                                              key=lambda p: p[1][0]):
                stocked[reward_id] = inventory.reserve(session, program, reward_id, quantity,
                                                       reserve, f"/items/{index}/quantity")
            for line, (reward_id, quantity, points, route) in enumerate(lines, 1):
                session.add(B2BOrderItemRow(
                    order_pk=order.id, program=company.program, line=line, reward_id=reward_id,
                    quantity=quantity, points=points, route=route, stocked=stocked[reward_id],
                    status="awaiting_approval" if waits else "placing", attempts=0,
                    updated_at=at))
            event(session, order, "requested", actor, total_points=total)
            if waits:
                event(session, order, "awaiting_approval", actor,
                      threshold=company.approval_threshold)
                session.flush()
                return Outcome(view(session, order), created=True)
            order_pk = order.id
    except IntegrityError:
        if key is None:
            raise
        with db.reading() as session:  # a request with the same key won the race
            replayed = _earlier(session, company, key, digest)
        if replayed is None:
            raise
        return replayed
    return Outcome(debit(db, order_pk, actor, cache_of_balances), created=True)


def _earlier(session: Any, company: Company, key: str | None, digest: str) -> Outcome | None:
    if key is None:
        return None
    row = session.scalar(select(B2BOrderRow).where(
        B2BOrderRow.program == company.program, B2BOrderRow.company_id == company.company_id,
        B2BOrderRow.idempotency_key == key))
    if row is None:
        return None
    if row.request_hash != digest:
        raise Conflict("order_conflict", f"idempotency key {key!r} was already used with "
                       "different items", pointer="/idempotency_key")
    return Outcome(view(session, row), created=False)


def debit(db: Database, order_pk: int, actor: str,
          cache_of_balances: BalanceCache | None = None) -> dict[str, Any]:
    """The saga for an order in `placing`: debit its total once, then mark it placed and
    route its items; when the debit fails, fail the order and release its stock. Whatever
    the outcome, the account's cached balance is forgotten (a debit whose answer was lost
    may have been applied)."""
    with db.reading() as session:
        order = session.get(B2BOrderRow, order_pk)
        assert order is not None and order.status == "placing", order
        program, number, service = order.program, order.number, order.service
        account, total = order.account, order.total_points
    try:
        ext.redeem(db, external_accounts.client(service), program, account, total,
                   DEBIT_PREFIX + number, lambda: confirm(db, order_pk, actor),
                   reference=number)
    except ext.Rejected as exc:
        refused = exc.status in (409, 422)
        fail(db, order_pk, actor, "INSUFFICIENT_POINTS" if refused else exc.code)
        if refused:
            raise Refused([{"code": "INSUFFICIENT_POINTS", "message": f"{service} refused to "
                            f"debit {total} points from account {account} for order {number}; "
                            "its reservations were released", "rule": "redemption.balance"}]
                          ) from exc
        raise external_accounts.unavailable(exc, service) from exc
    except ext.ExternalPointsError as exc:
        fail(db, order_pk, actor, exc.code)
        raise external_accounts.unavailable(exc, service) from exc
    except Exception:
        fail(db, order_pk, actor, "placing_failed")
        raise
    finally:
        balances.forget_account(cache_of_balances, program, account)
    with db.reading() as session:
        order = session.get(B2BOrderRow, order_pk)
        assert order is not None
        return view(session, order)


def confirm(db: Database, order_pk: int, actor: str) -> None:
    """The account was debited: the order is placed and its items go to fulfilment
    (physical: the manual queue; virtual: the fulfilment API, by the job)."""
    with db.writing() as session:
        order = session.get(B2BOrderRow, order_pk, with_for_update=True,
                            populate_existing=True)
        assert order is not None
        if order.status == "placed" and order.debited:
            return  # the job settled it from the journal meanwhile
        if order.status != "placing":
            raise Conflict("order_moved", f"order {order.number} is {order.status}")
        now = clock.now()
        order.status, order.debited, order.updated_at = "placed", True, now
        for item in items_of(session, order):
            item.status = "queued" if item.route == "manual" else "pending"
            item.next_attempt_at = None if item.route == "manual" else now
            item.updated_at = now
        event(session, order, "placed", actor, debited=order.total_points)


def fail(db: Database, order_pk: int, actor: str, reason: str) -> None:
    """An order whose debit did not happen (or was undone): failed, stock released."""
    with db.writing() as session:
        order = session.get(B2BOrderRow, order_pk, with_for_update=True,
                            populate_existing=True)
        assert order is not None
        if order.status != "placing":
            return
        _release(session, order, actor, "failed", "not_placed", reason)


def _release(session: Any, order: B2BOrderRow, actor: str, status: str, item_status: str,
             reason: str) -> None:
    change = inventory.Change(actor, "release", reason, order.number)
    for item in sorted(items_of(session, order), key=lambda i: i.reward_id):
        if item.stocked:
            inventory.release(session, order.program, item.reward_id, item.quantity, change)
            item.stocked = False
        item.status, item.updated_at = item_status, clock.now()
    order.status, order.reason, order.updated_at = status, reason, clock.now()
    event(session, order, reason if status == "cancelled" else status, actor, reason=reason)


def _decide(db: Database, program: str, company_id: str, number: str, actor: str,
            act: Callable[[Any, B2BOrderRow], None]) -> int:
    """Lock a pending order and `act` on it, unless its approval expired (then it is
    expired, and the answer is 409 order_expired)."""
    with db.writing() as session:
        order = find(session, program, company_id, number, lock=True)
        if order.status != "pending_approval":
            raise Conflict("order_not_pending", f"order {number} is {order.status}, not "
                           "pending_approval")
        expired = order.approval_expires_at is not None and \
            order.approval_expires_at <= clock.now()
        if expired:
            _release(session, order, actor, "cancelled", "cancelled", "expired")
        else:
            act(session, order)
        order_pk = order.id
    if expired:
        raise Conflict("order_expired", f"order {number} waited past its approval time and "
                       "was cancelled; its stock is back")
    return order_pk


def approve(db: Database, program: str, company_id: str, number: str,
            actor: str, cache_of_balances: BalanceCache | None = None) -> dict[str, Any]:
    """An approver (never the requester) approves: the account is debited now (not for
    a company deactivated meanwhile: 409 company_inactive)."""
    def act(session: Any, order: B2BOrderRow) -> None:
        if order.requested_by == actor:
            raise Forbidden("approver_is_requester", f"{actor} placed order {number}; "
                            "another approver must approve it")
        company = find_company(session, program, company_id)
        if company is None or not company.active:  # a credential cached a while longer
            raise Conflict("company_inactive", f"company {company_id!r} is deactivated")
        order.status, order.approved_by, order.updated_at = "placing", actor, clock.now()
        for item in items_of(session, order):
            item.status = "placing"
        event(session, order, "approved", actor)

    return debit(db, _decide(db, program, company_id, number, actor, act), actor,
                 cache_of_balances)


def reject(db: Database, program: str, company_id: str, number: str, actor: str,
           reason: str | None = None) -> dict[str, Any]:
    """The order will not be placed: cancelled (reason `rejected`), stock released."""
    def act(session: Any, order: B2BOrderRow) -> None:
        _release(session, order, actor, "cancelled", "cancelled", "rejected")
        if reason:
            event(session, order, "rejection_note", actor, note=reason)

    order_pk = _decide(db, program, company_id, number, actor, act)
    with db.reading() as session:
        order = session.get(B2BOrderRow, order_pk)
        assert order is not None
        return view(session, order)


def expire_due(db: Database, limit: int = 500) -> int:
    """Cancel (reason `expired`) the orders whose approval time has passed, releasing
    their stock; each under its row lock, so racing jobs expire each once."""
    now = clock.now()
    with db.reading() as session:
        due = list(session.scalars(select(B2BOrderRow.id).where(
            B2BOrderRow.status == "pending_approval", B2BOrderRow.approval_expires_at <= now)
            .order_by(B2BOrderRow.id).limit(limit)))
    done = 0
    for order_pk in due:
        with db.writing() as session:
            order = session.get(B2BOrderRow, order_pk, with_for_update=True,
                                populate_existing=True)
            if order is not None and order.status == "pending_approval":
                _release(session, order, "jobs", "cancelled", "cancelled", "expired")
                done += 1
    return done
