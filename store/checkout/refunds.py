"""Refunds: full, by line or by amount, idempotent on (order, refund_id) like commits.

The lifecycle core (engine/lifecycle/refunds.py) decides what a refund takes back, under
the `refund_policy` of the ruleset version the order was earned under, from the order's
record: points, cashback, cap spend, campaign uses and budgets, qualification and tier,
and the points that paid for the order. This module locks the member, hands the core
the book and the record, and writes what it changed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import store.external.accounts as external_accounts
import store.ledger.books as books
import store.redemptions.rows as redemption_rows
from engine.lifecycle import MemberBook, RefundRefused, RefundStep, wanted_lines
from engine.lifecycle import refund as core_refund
from engine.lifecycle.records import OrderRecord, order_from
from engine.program import Program
from store.clock import now as clock_now
from store.db.database import Database
from store.errors import Conflict, NotFound, Unprocessable
from store.idempotency import Idempotent, Outcome, request_hash
from store.ledger.books import find_order
from store.registry.programs import ProgramCache
from store.tables.core import MemberRow, OrderRow, RefundRow
from store.tables.redemptions import RedemptionRow

ONE = Decimal(1)


def refund(db: Database, cache: ProgramCache, program_id: str, order_id: str,
           request: dict[str, Any]) -> Outcome:
    once = _idempotent(program_id, order_id, request)

    def write() -> Outcome:
        with db.writing() as session:
            order = find_order(session, program_id, order_id)
            if order is None:
                raise NotFound("unknown_order", f"{program_id} has no committed order {order_id!r}")
            program = cache.get(session, program_id, order.ruleset_version)
            member = session.scalar(select(MemberRow).where(MemberRow.id == order.member_pk)
                                    .with_for_update().execution_options(populate_existing=True))
            assert member is not None, "an order's member row is never deleted"
            session.refresh(order)
            replayed = once.earlier(session)
            if replayed is not None:
                return replayed
            return _refund(session, program, order, member, request, once.digest)
    return once.run(db, write)


def _idempotent(program_id: str, order_id: str, request: dict[str, Any]
                ) -> Idempotent[RefundRow]:
    refund_id = request["refund_id"]
    find = (select(RefundRow).join(OrderRow, RefundRow.order_pk == OrderRow.id)
            .where(OrderRow.program == program_id, OrderRow.order_id == order_id,
                   RefundRow.refund_id == refund_id))
    return Idempotent(lambda session: session.scalar(find), request_hash(request),
                      "refund_conflict", f"refund {refund_id!r} was already recorded with a "
                      "different body", "/refund_id")


def _lines(request: dict[str, Any]) -> list[tuple[int | None, str | None, int]] | None:
    if request.get("lines") is None:
        return None
    if not request["lines"]:
        raise Unprocessable("invalid_request", "`lines` is empty: name the lines to refund, "
                            "or omit `lines` to refund the whole order", pointer="/lines")
    return [(item.get("index"), item.get("sku"), int(item["quantity"]))
            for item in request["lines"]]


def _refund(session: Session, program: Program, order: OrderRow, member: MemberRow,
            request: dict[str, Any], digest: str) -> Outcome:
    at = request.get("refunded_at") or clock_now()
    at = at if isinstance(at, datetime) else datetime.fromisoformat(at)
    if order.record is None:
        raise Conflict("order_not_refundable", f"order {order.order_id!r} was committed "
                       "before orders kept what a refund needs")
    record = order_from(order.record)
    skus = [line["sku"] for line in order.request["order"]["lines"]]
    amount = Decimal(str(request["amount"])) if request.get("amount") is not None else None
    lc = books.lifecycle(program)
    book = books.book_of(lc, member, at)
    tier_before = book.tier
    records = books.OrderRecords(session, program.program, member.id)
    records.add(order, record)
    try:
        wanted = None if amount is not None else wanted_lines(record, _lines(request), skus)
        if wanted is not None and not wanted:
            raise RefundRefused("nothing_to_refund", f"order {order.order_id!r} is fully "
                                "refunded", "/lines")
        step = core_refund(lc, book, record, at, f"{order.order_id}/{request['refund_id']}",
                           lines=wanted if request.get("lines") is not None else None,
                           amount=amount, records=records)
    except RefundRefused as exc:
        raise Unprocessable(exc.code, exc.message, pointer=exc.pointer) from None
    _payments(session, record, step, request["refund_id"], at)
    redemption_rows.save(session, program, member, book, step, records)
    order.refunded_fraction = step.share
    order.qualifying_spend = (order.original_spend * (ONE - step.share)).quantize(
        Decimal("0.0001"))
    order.counted = step.share < ONE
    result = _result(order, request, at, step, skus, book, tier_before)
    session.add(RefundRow(order_pk=order.id, refund_id=request["refund_id"], request_hash=digest,
                          result=result, created_at=datetime.now(UTC)))
    session.flush()
    return Outcome(result, created=True)


def _result(order: OrderRow, request: dict[str, Any], at: datetime, step: RefundStep,
            skus: list[str], book: MemberBook, tier_before: str | None) -> dict[str, Any]:
    out = {
        "refund_id": request["refund_id"], "order_id": order.order_id,
        "refunded_at": at.isoformat(),
        "lines": [{"index": i, "sku": skus[i], "quantity": q}
                  for i, q in sorted((step.refunded or {}).items())],
        "refunded_share": str(step.share.quantize(Decimal("0.0001"))),
        "points_reversed": step.points_reversed, "points_restored": step.points_restored,
        "balance": book.balance,
        "tier_before": tier_before, "tier_after": book.tier,
        "ruleset_version": order.ruleset_version,
    }
    if request.get("amount") is not None:
        out["amount"] = str(step.amount)
    return out


def _payments(session: Session, record: OrderRecord, step: RefundStep, refund_id: str,
              at: datetime) -> None:
    """Points that paid for the order came back (the core gave them back to their lots):
    the redemptions' rows say so; an external account is owed them instead, sent by the
    job (its points never were in the member's lots)."""
    given = [e for e in step.entries()
             if e.source_type == "redemption" and e.rule == "redemption.refund"]
    for entry in given:
        row = session.get(RedemptionRow, int(entry.source_ref)) \
            if entry.source_ref.isdigit() else None
        if row is None:
            continue
        if row.external_account is not None:
            step.changes.remove(entry)
            external_accounts.restore(session, row, at, points=entry.points,
                                      key=f"redemption:{row.id}:refund:{refund_id}")
        payment = next(p for p in record.payments if p.redemption == entry.source_ref)
        full = payment.given_back >= payment.points
        if full:
            row.status = "refunded"
            if row.record is not None:
                row.record = {**row.record, "status": "refunded"}
        row.updated_at = datetime.now(UTC)
        redemption_rows.event(session, row, "refunded" if full else "partially_refunded", at,
                              refund_id=refund_id, points=entry.points)
