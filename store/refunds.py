"""Refunds: full or by line; the order's points are reversed proportionally and the tier
is re-qualified. Idempotent on (order, refund_id) like commits.

What is taken back once the order's points were spent follows the `refund_policy` of the
ruleset version the order was earned under (engine/lifecycle/policies.py): `clawback` takes back the
whole refunded share, from the member's other points and then as debt (store/debt.py);
`forfeit_remaining` only what the order's lots still hold. The first-purchase bonus
leaves with an order refunded in full."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import engine.lifecycle.policies as policies
import store.debt as debt
import store.ledger as ledger
import store.members as members
import store.tiering as tiering
import store.usage as usage
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
    if request.get("lines") is None:
        return {i: q for i, q in left.items() if q > 0}
    if not request["lines"]:
        raise Unprocessable("invalid_request", "`lines` is empty: name the lines to refund, "
                            "or omit `lines` to refund the whole order", pointer="/lines")
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
    too_early = policies.refund_before_order(order.placed_at, at)
    if too_early is not None:
        raise Unprocessable("refund_before_order", too_early, pointer="/refunded_at")
    done = _refunded_so_far(session, order.id)
    wanted = _wanted(order, request, done)
    if not wanted:
        raise Unprocessable("nothing_to_refund", f"order {order.order_id!r} is fully refunded",
                            pointer="/lines")
    returned = {i: done.get(i, 0) + wanted.get(i, 0) for i in set(done) | set(wanted)}
    points_share = _fraction(order, returned, "points_exact")
    spend_share = _fraction(order, returned, "eligible_amount")
    ledger.expire_due(session, member, at)  # points past their date are gone, not refunded
    claims = _claims(session, order, points_share)
    reversed_now = _reverse(session, member, claims,
                            policies.refund_policy(program.model.redemption),
                            f"{order.order_id}/{request['refund_id']}", at)
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


def _order_of_lot(lot: LedgerEntryRow) -> str | None:
    """The order a lot came with: its earned points, or its activity bonus (first purchase)."""
    if lot.source_type == "order":
        return lot.source_ref
    if lot.source_type == "activity" and lot.source_ref.startswith("order:"):
        return lot.source_ref.removeprefix("order:")
    return None


def _lot_share(lot: LedgerEntryRow, order_share: Decimal) -> Decimal:
    """Share of `lot` a refund of `order_share` of its order takes back."""
    if lot.source_type == "order":
        return order_share
    return policies.bonus_share((lot.rule or "").rsplit(".", 1)[-1], order_share)


def _claims(session: Session, order: OrderRow, share: Decimal) -> list[tuple[LedgerEntryRow, Decimal]]:
    """(lot, share of it to take back) for the order's lots and its activity bonus lots."""
    found = ledger.lots_of(session, order.program, "order", order.order_id) \
        + ledger.lots_of(session, order.program, "activity", f"order:{order.order_id}")
    return [(lot, _lot_share(lot, share)) for lot in found]


def points_came_back(session: Session, member: MemberRow, lots: list[LedgerEntryRow],
                     at: datetime) -> int:
    """Points came back to `lots` (a redemption was cancelled, a hold released or a
    captured hold refunded): what refunds of their orders still owe is taken
    (`reverse_owed`), and what is left repays a debt before anything else — points of a
    refunded order's lots even past their date: a clawback took them back already, as
    debt, while they were spent. Returns the points reversed."""
    reversed_now = reverse_owed(session, member, lots, at)
    refunded = [lot for lot in lots if (lot.remaining or 0) > 0 and _refunded(session, lot)]
    debt.settle(session, member, at, first=refunded)
    return reversed_now


def _refunded(session: Session, lot: LedgerEntryRow) -> bool:
    ref = _order_of_lot(lot)
    order = find_order(session, lot.program, ref) if ref is not None else None
    return order is not None and bool(order.refunded_fraction)


def reverse_owed(session: Session, member: MemberRow, lots: list[LedgerEntryRow],
                 at: datetime) -> int:
    """Points came back to `lots` (a redemption was cancelled or a hold released): a
    refund that ran while they were spent could not take them back then (under
    `forfeit_remaining`), so take back now what each refunded order's lot still owes its
    refunds. Returns the points reversed. (Under `clawback` the refund took everything it
    was owed at once, so nothing is owed here.)

    Without this, hold or redeem → refund → cancel would leave a refunded order's points
    with the member."""
    orders_by_ref: dict[str, OrderRow | None] = {}
    claims: list[tuple[LedgerEntryRow, Decimal]] = []
    for lot in lots:
        ref = _order_of_lot(lot)
        if ref is None:
            continue
        if ref not in orders_by_ref:
            orders_by_ref[ref] = find_order(session, lot.program, ref)
        order = orders_by_ref[ref]
        if order is None or not order.refunded_fraction:
            continue
        share = _fraction(order, _refunded_so_far(session, order.id), "points_exact")
        claims.append((lot, _lot_share(lot, share)))
    if not claims:
        return 0
    source_refs = {id(lot): f"{_order_of_lot(lot)}/owed" for lot, _ in claims}
    return sum(_reverse(session, member, [claim], policies.FORFEIT_REMAINING,
                        source_refs[id(claim[0])], at) for claim in claims)


def _reverse(session: Session, member: MemberRow, claims: list[tuple[LedgerEntryRow, Decimal]],
             policy: str, source_ref: str, at: datetime) -> int:
    """For each (lot, share), reverse what the lot owes `share` of its points beyond what
    was already reversed: from the lot as far as it holds, and under `clawback` the rest
    (but what the lot lost to expiry) from the member's other lots and then as debt.
    Returns the points reversed."""
    ids = [lot.id for lot, _ in claims]
    already = ledger.reversed_from(session, ids)
    lost = ledger.reversed_from(session, ids, "expire")
    rest: list[tuple[LedgerEntryRow, int]] = []
    total = 0
    for lot, share in claims:
        target = lot.points if share == ONE else int(
            (lot.points * share).to_integral_value(rounding=ROUND_FLOOR))
        held, done = lot.remaining or 0, already.get(lot.id, 0)
        delta = policies.to_reverse(policy, target - done, held,
                                    lot.points - done - lost.get(lot.id, 0))
        if delta <= 0:
            continue
        entry = ledger.append(session, member, "reverse", -delta, version=lot.ruleset_version,
                              rule=lot.rule, source_type="refund", source_ref=source_ref,
                              occurred_at=at, lot=lot)
        if delta > held:
            rest.append((entry, delta - max(held, 0)))
        total += delta
    for entry, points in rest:  # the order's own lots first, then the others, then debt
        debt.claw_back(session, member, entry, points, at)
    return total


def _give_back_payment(session: Session, member: MemberRow, order: OrderRow, share: Decimal,
                       at: datetime, refund_id: str) -> int:
    """Points that paid for the order (checkout holds it captured) come back with the
    goods: pay-with-points in proportion to the amount refunded so far, a reward once
    the whole order is refunded. Returns the points given back now."""
    import store.external_accounts as external_accounts
    import store.lots as lots
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
            points_came_back(session, member, [lot for lot, _ in given], at)
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
