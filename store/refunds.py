"""Refunds: full or by line; the order's points are reversed proportionally and the tier
is re-qualified. Idempotent on (order, refund_id) like commits."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store import ledger, members, tiering, usage
from store.clock import now as clock_now
from store.db import Database
from store.errors import Conflict, NotFound, Unprocessable
from store.lifecycle_models import ExternalTransferRow
from store.models import LedgerEntryRow, MemberRow, OrderRow, RefundRow
from store.orders import Outcome, find_order
from store.programs import ProgramCache
from store.state import request_hash

ZERO, ONE = Decimal(0), Decimal(1)


def refund(db: Database, cache: ProgramCache, program_id: str, order_id: str,
           request: dict[str, Any]) -> Outcome:
    digest = request_hash(request)
    try:
        with db.writing() as session:
            order = find_order(session, program_id, order_id)
            if order is None:
                raise NotFound("unknown_order", f"{program_id} has no committed order {order_id!r}")
            program = cache.get(session, program_id, order.ruleset_version)
            member = session.scalar(select(MemberRow).where(MemberRow.id == order.member_pk)
                                    .with_for_update().execution_options(populate_existing=True))
            assert member is not None, "an order's member row is never deleted"
            session.refresh(order)
            prior = _find(session, order.id, request["refund_id"])
            if prior is not None:
                return _replay(prior, digest)
            return _refund(session, program, order, member, request, digest)
    except IntegrityError:
        with db.reading() as session:
            order = find_order(session, program_id, order_id)
            prior = _find(session, order.id, request["refund_id"]) if order else None
        if prior is None:
            raise
        return _replay(prior, digest)


def _find(session: Session, order_pk: int, refund_id: str) -> RefundRow | None:
    return session.scalar(select(RefundRow).where(RefundRow.order_pk == order_pk,
                                                  RefundRow.refund_id == refund_id))


def _replay(row: RefundRow, digest: str) -> Outcome:
    if row.request_hash != digest:
        raise Conflict("refund_conflict", f"refund {row.refund_id!r} was already recorded with "
                       "a different body", pointer="/refund_id")
    return Outcome(row.result, created=False)


def _refunded_so_far(session: Session, order_pk: int) -> dict[int, int]:
    done: dict[int, int] = {}
    for row in session.scalars(select(RefundRow).where(RefundRow.order_pk == order_pk)):
        for line in row.result["lines"]:
            done[line["index"]] = done.get(line["index"], 0) + line["quantity"]
    return done


def _wanted(order: OrderRow, request: dict[str, Any], done: dict[int, int]) -> dict[int, int]:
    """Quantities to refund now per line index (all that is left when no lines are given)."""
    lines = order.request["order"]["lines"]
    left = {i: int(line["quantity"]) - done.get(i, 0) for i, line in enumerate(lines)}
    if not request.get("lines"):
        return {i: q for i, q in left.items() if q > 0}
    wanted: dict[int, int] = {}
    for n, item in enumerate(request["lines"]):
        index = item.get("index")
        if index is None:
            index = next((i for i, line in enumerate(lines) if line["sku"] == item.get("sku")
                          and left[i] - wanted.get(i, 0) > 0), None)
        if index is None or not 0 <= index < len(lines):
            raise Unprocessable("unknown_line", "no refundable order line matches "
                                f"{item.get('sku') or index!r}", pointer=f"/lines/{n}")
        wanted[index] = wanted.get(index, 0) + int(item["quantity"])
        if wanted[index] > left[index]:
            raise Unprocessable("refund_exceeds_order", f"line {index} has {left[index]} "
                                "refundable units left", pointer=f"/lines/{n}/quantity")
    return wanted


def _fraction(order: OrderRow, returned: dict[int, int], key: str) -> Decimal:
    """Share of the order (by line `key`: exact points or eligible amount) returned so far."""
    lines = order.result["earn"]["lines"]
    quantities = [int(line["quantity"]) for line in order.request["order"]["lines"]]
    if all(returned.get(i, 0) >= q for i, q in enumerate(quantities)):
        return ONE
    weights = [Decimal(line[key]) for line in lines]
    total = sum(weights, ZERO)
    if total == 0:
        return _fraction(order, returned, "amount") if key != "amount" else ZERO
    part = sum((w * returned.get(i, 0) / quantities[i] for i, w in enumerate(weights)), ZERO)
    return part / total


def _refund(session: Session, program: Any, order: OrderRow, member: MemberRow,
            request: dict[str, Any], digest: str) -> Outcome:
    at = request.get("refunded_at") or clock_now()
    at = at if isinstance(at, datetime) else datetime.fromisoformat(at)
    done = _refunded_so_far(session, order.id)
    wanted = _wanted(order, request, done)
    if not wanted:
        raise Unprocessable("nothing_to_refund", f"order {order.order_id!r} is fully refunded",
                            pointer="/lines")
    returned = {i: done.get(i, 0) + wanted.get(i, 0) for i in set(done) | set(wanted)}
    points_share = _fraction(order, returned, "points_exact")
    spend_share = _fraction(order, returned, "eligible_amount")
    lots = ledger.lots_of(session, order.program, "order", order.order_id)
    already = ledger.reversed_from(session, [lot.id for lot in lots])
    # Points already redeemed or expired from a lot stay spent: only what the lot still
    # holds is reversed, so a refund never takes a balance below zero.
    reversed_now = sum(_reverse_lot(session, member, lot, points_share, already,
                                    f"{order.order_id}/{request['refund_id']}", at)
                       for lot in lots)
    restored = _give_back_payment(session, member, order, _fraction(order, returned, "amount"),
                                  at, request["refund_id"])
    def stats(start: datetime | None, end: datetime) -> Any:
        return members.window_stats(session, member.id, start, end)

    qualified_before = tiering.requalified(program, at, stats) \
        if program.model.tiers is not None else None
    usage.release_order(session, program, member.id, order.placed_at, order.result,
                        order.refunded_fraction or ZERO, spend_share,
                        _fraction(order, done, "points_exact") if done else ZERO, points_share)
    order.refunded_fraction = spend_share
    order.qualifying_spend = (order.original_spend * (ONE - spend_share)).quantize(Decimal("0.0001"))
    order.counted = spend_share < ONE
    session.flush()
    tier_before = member.tier
    tier_after = tiering.after_refund(program, member.tier, at, stats, qualified_before)
    if tier_after != member.tier:
        member.tier, member.tier_since = tier_after, at
    member.updated_at = datetime.now(UTC)
    lines = order.request["order"]["lines"]
    result = {
        "refund_id": request["refund_id"], "order_id": order.order_id,
        "refunded_at": at.isoformat(),
        "lines": [{"index": i, "sku": lines[i]["sku"], "quantity": q} for i, q in sorted(wanted.items())],
        "refunded_share": str(spend_share.quantize(Decimal("0.0001"))),
        "points_reversed": reversed_now, "points_restored": restored,
        "balance": member.balance,
        "tier_before": tier_before, "tier_after": tier_after,
        "ruleset_version": order.ruleset_version,
    }
    session.add(RefundRow(order_pk=order.id, refund_id=request["refund_id"], request_hash=digest,
                          result=result, created_at=datetime.now(UTC)))
    session.flush()
    return Outcome(result, created=True)


def reverse_owed(session: Session, member: MemberRow, lots: list[LedgerEntryRow],
                 at: datetime) -> int:
    """Points came back to `lots` (a redemption was cancelled or a hold released): a
    refund that ran while they were spent could not take them back then, so take back now
    what each refunded order's lot still owes its refunds. Returns the points reversed.

    Without this, hold or redeem → refund → cancel would leave a refunded order's points
    with the member."""
    reversed_now = 0
    orders_by_ref: dict[str, OrderRow | None] = {}
    order_lots = [lot for lot in lots if lot.source_type == "order"]
    if not order_lots:
        return 0
    already = ledger.reversed_from(session, [lot.id for lot in order_lots])
    for lot in order_lots:
        if lot.source_ref not in orders_by_ref:
            orders_by_ref[lot.source_ref] = find_order(session, lot.program, lot.source_ref)
        order = orders_by_ref[lot.source_ref]
        if order is None or not order.refunded_fraction:
            continue
        share = _fraction(order, _refunded_so_far(session, order.id), "points_exact")
        reversed_now += _reverse_lot(session, member, lot, share, already,
                                     f"{order.order_id}/owed", at)
    return reversed_now


def _reverse_lot(session: Session, member: MemberRow, lot: LedgerEntryRow, share: Decimal,
                 already: dict[int, int], source_ref: str, at: datetime) -> int:
    """Reverse what `lot` owes the refunded `share` of its order beyond what was already
    reversed, as far as the lot still holds it; returns the points reversed."""
    target = lot.points if share == ONE else int(
        (lot.points * share).to_integral_value(rounding=ROUND_FLOOR))
    delta = min(target - already.get(lot.id, 0), lot.remaining or 0)
    if delta <= 0:
        return 0
    ledger.append(session, member, "reverse", -delta, version=lot.ruleset_version,
                  rule=lot.rule, source_type="refund", source_ref=source_ref,
                  occurred_at=at, lot=lot)
    return delta


def _give_back_payment(session: Session, member: MemberRow, order: OrderRow, share: Decimal,
                       at: datetime, refund_id: str) -> int:
    """Points that paid for the order (checkout holds it captured) come back with the
    goods: pay-with-points in proportion to the amount refunded so far, a reward once
    the whole order is refunded. Returns the points given back now."""
    from store import external_accounts, lots
    from store.redemption_models import RedemptionEventRow, RedemptionRow

    rows = session.scalars(select(RedemptionRow).where(
        RedemptionRow.member_pk == member.id, RedemptionRow.order_id == order.order_id,
        RedemptionRow.status == "captured").order_by(RedemptionRow.id))
    given_now = 0
    for row in list(rows):
        # Given back so far: credits owed to the external account, or reverse entries.
        back = session.scalar(select(func.sum(ExternalTransferRow.points)).where(
            ExternalTransferRow.redemption_pk == row.id)) if row.external_account is not None \
            else session.scalar(select(func.sum(LedgerEntryRow.points)).where(
                LedgerEntryRow.source_type == "redemption",
                LedgerEntryRow.source_ref == str(row.id), LedgerEntryRow.kind == "reverse"))
        back = back or 0
        if row.kind == "points" and share < ONE:
            target = int((row.points * share).to_integral_value(rounding=ROUND_FLOOR))
        else:
            target = row.points if share == ONE else 0
        points = target - int(back)
        if points <= 0:
            continue
        if row.external_account is not None:
            external_accounts.restore(session, row, at, points=points,
                                      key=f"redemption:{row.id}:refund:{refund_id}")
        else:
            given = lots.restore_part(session, row.ledger_entry_id, int(back), points) \
                if row.ledger_entry_id is not None else []
            entry = ledger.append(
                session, member, "reverse", points, version=row.ruleset_version,
                rule="redemption.refund", source_type="redemption", source_ref=str(row.id),
                occurred_at=at)
            session.flush()
            row.reversal_entry_id = entry.id
            reverse_owed(session, member, [lot for lot, _ in given], at)
        given_now += points
        full = int(back) + points >= row.points
        if full:
            row.status = "refunded"
        row.updated_at = datetime.now(UTC)
        session.add(RedemptionEventRow(redemption_pk=row.id, at=at,
                                       status="refunded" if full else "partially_refunded",
                                       detail={"refund_id": refund_id, "points": points}))
    if given_now:
        ledger.expire_due(session, member, at)
    return given_now
