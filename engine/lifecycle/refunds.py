"""Refunds: the refunded share of an order comes out of the member's book.

Shares are cumulative over an order's refunds (partial refunds never add up to more
than the order): the share of its **points** (by the lines' exact points), of its
**spend** (by eligible amounts) and of its **amount** (by net amounts). Then:

* points: `floor(order points × points share)` minus what earlier refunds reversed.
  `clawback`: taken from the order's own lot, then from the member's other lots, and
  what no lot holds becomes debt (the balance goes negative; later credits repay it
  first). `forfeit_remaining`: only what the order's own lot still holds.
* the first-purchase bonus, once the whole order is refunded (same policy);
* cashback in the amount share;
* points that paid for the order (captured holds): pay-with-points in the amount share,
  a reward once the whole order is refunded — back to the lots they came from;
* usage: the spend share of the order's seasonal-cap spend (in the order's own cap
  period, while it runs) and of its tier-challenge spend (while that challenge runs),
  the points share of its campaign points and budgets, and on a whole refund its
  campaign uses;
* qualification: the spend share leaves the window the order counted in (a whole
  refund also removes the order); the tier is what the member then holds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal

import engine.lifecycle.points as points
import engine.lifecycle.policies as policies
from engine.lifecycle.book import MemberBook
from engine.lifecycle.changes import BudgetMove, CashbackMove, Change, CodeMove, Draw, Entry
from engine.lifecycle.context import Lifecycle, Step
from engine.lifecycle.records import OrderRecord, RedemptionRecord, order_of
from engine.lifecycle.status import CLOSED, forfeit_left

ZERO, ONE = Decimal(0), Decimal(1)
STEP = Decimal("0.0001")


class RefundRefused(ValueError):
    def __init__(self, code: str, message: str, pointer: str) -> None:
        super().__init__(message)
        self.code, self.message, self.pointer = code, message, pointer


@dataclass
class RefundStep(Step):
    refunded: dict[int, int] | None = None  # line index → quantity refunded now
    amount: Decimal = ZERO
    share: Decimal = ZERO  # cumulative spend share
    points_reversed: int = 0
    points_restored: int = 0
    whole: bool = False

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, changes: list[Change] | None = None,
                 released: list[RedemptionRecord] | None = None, noted: int = 0,
                 refunded: dict[int, int] | None = None, amount: Decimal = ZERO,
                 share: Decimal = ZERO, points_reversed: int = 0, points_restored: int = 0,
                 whole: bool = False) -> None:
        self.changes = [] if changes is None else changes
        self.released = [] if released is None else released
        self.noted = noted
        self.refunded = refunded
        self.amount = amount
        self.share = share
        self.points_reversed = points_reversed
        self.points_restored = points_restored
        self.whole = whole


def _floor(value: Decimal) -> Decimal:
    return value.quantize(STEP, rounding=ROUND_FLOOR)


def _share(record: OrderRecord, returned: Mapping[int, int], weight: str) -> Decimal:
    lines = record.lines
    if not lines:  # an order kept without its lines is only ever refunded by amount
        return ZERO
    if all(returned.get(i, 0) >= ln.quantity for i, ln in enumerate(lines)):
        return ONE
    weights = [getattr(ln, weight) for ln in lines]
    total = sum(weights, ZERO)
    if total == 0:
        return _share(record, returned, "amount") if weight != "amount" else ZERO
    return sum((w * returned.get(i, 0) / lines[i].quantity for i, w in enumerate(weights)),
               ZERO) / total


def wanted_lines(record: OrderRecord, lines: list[tuple[int | None, str | None, int]] | None,
                 skus: list[str]) -> dict[int, int]:
    """Quantities to refund now per line (everything left when `lines` is None); lines
    are named by index or sku. Raises RefundRefused naming the offending line."""
    left = {i: ln.quantity - record.refunded.get(i, 0) for i, ln in enumerate(record.lines)}
    if lines is None:
        return {i: q for i, q in left.items() if q > 0}
    wanted: dict[int, int] = {}
    for n, (named, sku, quantity) in enumerate(lines):
        index = named if named is not None else next(
            (i for i, s in enumerate(skus) if s == sku and left[i] - wanted.get(i, 0) > 0), None)
        if index is None or not 0 <= index < len(record.lines):
            raise RefundRefused("unknown_line", "no refundable order line matches "
                                f"{sku or index!r}", f"/lines/{n}")
        wanted[index] = wanted.get(index, 0) + quantity
        if wanted[index] > left[index]:
            raise RefundRefused("refund_exceeds_order", f"line {index} has {left[index]} "
                                "refundable units left", f"/lines/{n}/quantity")
    return wanted


def refund(lc: Lifecycle, book: MemberBook, record: OrderRecord, at: datetime, ref: str,
           lines: dict[int, int] | None = None, amount: Decimal | None = None,
           records: Mapping[str, OrderRecord] | None = None) -> RefundStep:
    """Refund `lines` (quantities per line index) or an `amount` of `record`'s order
    (neither: what is left of it). `ref` names the refund in the ledger."""
    _check_refund(record, at, lines, amount)
    step = RefundStep()
    known = _Known(record, records or {})
    lc.advance(book, at, step)  # refused refunds (above) change nothing, not even time
    lc.note(step, known)  # points the order lost to expiry are not taken back
    before_spend = _spend_share(record)
    before_points = _points_share(record)
    _mark_refunded(record, lines, amount, step)
    spend_share, points_share = _spend_share(record), _points_share(record)
    whole = spend_share >= ONE
    step.share, step.whole = spend_share, whole
    _reverse_points(lc, book, record, points_share, whole, at, ref, step)
    _cashback(record, _amount_share(record), at, ref, step)
    step.points_restored = _give_back_payments(lc, book, record, _amount_share(record),
                                               at, ref, step)
    _release_usage(lc, book, record, before_spend, spend_share, before_points, points_share,
                   whole, step)
    if lc.tiers is not None:
        spend_back = _floor(record.spend * spend_share) - _floor(record.spend * before_spend)
        lc.tiers.refund_order(book, record.order_id, record.placed_at, spend_back,
                              whole and before_spend < ONE)
        lc.tier_settled(book, at, "refund", step)
    forfeited = forfeit_left(book, at, ref)  # a closed member keeps nothing given back
    if forfeited is not None:
        step.changes.append(forfeited)
    lc.note(step, known)
    return step


def _check_refund(record: OrderRecord, at: datetime, lines: dict[int, int] | None,
                  amount: Decimal | None) -> None:
    """Refuse a refund dated before its order, or one with nothing left to refund."""
    too_early = policies.refund_before_order(record.placed_at, at)
    if too_early is not None:
        raise RefundRefused("refund_before_order", too_early, "/refunded_at")
    rest = record.net - record.refunded_money()
    whole_rest = lines is None and amount is None  # what is left of the order
    if amount is not None or whole_rest:
        left_lines = any(ln.quantity > record.refunded.get(i, 0)
                         for i, ln in enumerate(record.lines))
        if (rest <= 0 or (amount is not None and amount <= 0)) and not (whole_rest and left_lines):
            raise RefundRefused("nothing_to_refund", "the order is fully refunded",
                                "/amount" if amount is not None else "/lines")
    elif not any(lines.values()):  # type: ignore[union-attr]
        raise RefundRefused("nothing_to_refund", "nothing to refund", "/lines")


def _mark_refunded(record: OrderRecord, lines: dict[int, int] | None, amount: Decimal | None,
                   step: RefundStep) -> None:
    """Add what this refund takes to the record's refunded quantities or amount."""
    rest = record.net - record.refunded_money()
    if lines is None and amount is None:  # what is left of the order
        step.amount = max(rest, ZERO)
        step.refunded = {i: ln.quantity - record.refunded.get(i, 0)
                         for i, ln in enumerate(record.lines)
                         if ln.quantity > record.refunded.get(i, 0)}
        record.refunded = {i: ln.quantity for i, ln in enumerate(record.lines)}
        record.refunded_amount = record.net
    elif amount is not None:
        step.amount = min(amount, rest)
        record.refunded_amount = record.refunded_money() + step.amount
    else:
        assert lines is not None
        for i, q in lines.items():
            record.refunded[i] = record.refunded.get(i, 0) + q
        step.refunded = {i: q for i, q in sorted(lines.items()) if q}


def take_owed(lc: Lifecycle, book: MemberBook, draws: tuple[Draw, ...], at: datetime,
               records: Mapping[str, OrderRecord] | None, step: Step) -> int:
    """Points came back to lots of refunded orders (a cancelled redemption): under
    `forfeit_remaining` a refund could only take what the lots held while these points
    were out, so it takes what it still owes now (entries `<order>/owed`). Under
    `clawback` the refund took everything at once, and nothing is owed. Returns the
    points taken."""
    if lc.refund_policy != policies.FORFEIT_REMAINING or records is None:
        return 0
    taken = 0
    for order_id in dict.fromkeys(order_of(d.source) for d in draws if d.lot):
        record = records.get(order_id) if order_id is not None else None
        if record is None or not (record.refunded or record.refunded_amount):
            continue
        owed = RefundStep()
        _reverse_points(lc, book, record, _points_share(record), _spend_share(record) >= ONE,
                        at, f"{order_id}/owed", owed)
        step.changes.extend(owed.changes)
        taken += owed.points_reversed
    return taken


class _Known(Mapping[str, OrderRecord]):
    """The refunded order's record, then the caller's records, each read only when asked
    for (a store loads its records on demand)."""

    def __init__(self, record: OrderRecord, others: Mapping[str, OrderRecord]) -> None:
        self.record, self.others = record, others

    def __getitem__(self, order_id: str) -> OrderRecord:
        return self.record if order_id == self.record.order_id else self.others[order_id]

    def __iter__(self) -> Iterator[str]:
        yield self.record.order_id
        yield from (k for k in self.others if k != self.record.order_id)

    def __len__(self) -> int:
        return len(set(self.others) | {self.record.order_id})


def _amount_share(record: OrderRecord) -> Decimal:
    if record.refunded_amount:
        return min(ONE, record.refunded_amount / record.net) if record.net else ONE
    return _share(record, record.refunded, "amount")


def _spend_share(record: OrderRecord) -> Decimal:
    if record.refunded_amount:
        return _amount_share(record)
    return _share(record, record.refunded, "eligible")


def _points_share(record: OrderRecord) -> Decimal:
    if record.refunded_amount:
        return _amount_share(record)
    return _share(record, record.refunded, "points")


def _held(book: MemberBook, lot: int | None) -> int:
    return next((x.left for x in book.lots if x.no == lot), 0)


def _take_back(lc: Lifecycle, book: MemberBook, owed: int, credited: int, reversed_: int,
               lot: int | None, lost: int, at: datetime) -> tuple[Draw, ...]:
    """Take back up to `owed` points for one lot (`credited` points, `reversed_` of them
    taken back before, `lost` to expiry), as the refund policy decides."""
    collectible = credited - reversed_ - lost
    amount = policies.to_reverse(lc.refund_policy, owed, _held(book, lot), collectible)
    if amount <= 0:
        return ()
    mine = [lot] if lot is not None else []
    if lc.refund_policy == policies.CLAWBACK and book.status != CLOSED:
        return points.claw_back(book, amount, mine, at)
    return points.take_own(book, amount, mine)


def _reverse_points(lc: Lifecycle, book: MemberBook, record: OrderRecord, share: Decimal,
                    whole: bool, at: datetime, ref: str, step: RefundStep) -> None:
    """The refunded share of each rule's points (rounded down), less what earlier refunds
    took; then, once the whole order is refunded, its first-purchase bonus."""
    owed = {}
    for rule, pts in record.by_rule:
        target = pts if share >= ONE else int((pts * share).to_integral_value(rounding=ROUND_FLOOR))
        if target > record.reversed.get(rule, 0):
            owed[rule] = target - record.reversed.get(rule, 0)
    draws = _take_back(lc, book, sum(owed.values()), record.points,
                       sum(record.reversed.values()), record.lot,
                       record.lost.get(record.lot or 0, 0), at)
    left = sum(d.points for d in draws)
    step.points_reversed = left
    for rule, points_owed in owed.items():  # the points taken, rule by rule
        taken = min(points_owed, left)
        if not taken:
            break
        record.reversed[rule] = record.reversed.get(rule, 0) + taken
        step.changes.append(Entry("reverse", -taken, rule, "refund", ref, at,
                                  draws=_slice(draws, sum(d.points for d in draws) - left,
                                               taken)))
        left -= taken
    if whole and record.first_purchase is not None and policies.bonus_share(
            "first_purchase", share) >= ONE:
        bonus, lot = record.first_purchase
        draws = _take_back(lc, book, bonus, bonus, 0, lot, record.lost.get(lot or 0, 0), at)
        back = sum(d.points for d in draws)
        if back:
            step.changes.append(Entry("reverse", -back, "earning.activities.first_purchase",
                                      "refund", ref, at, draws=draws))
            step.points_reversed += back
        record.first_purchase = None


def _cashback(record: OrderRecord, share: Decimal, at: datetime, ref: str,
              step: RefundStep) -> None:
    """The amount share of the order's cashback (rounded down to the cent), less what
    earlier refunds reversed: money follows the amount refunded, as payments with points do."""
    target = (record.cashback * share).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
    back = target - record.cashback_back
    if back > 0:
        record.cashback_back += back
        step.changes.append(CashbackMove(-back, "refund", ref, at))


def _give_back_payments(lc: Lifecycle, book: MemberBook, record: OrderRecord, share: Decimal,
                        at: datetime, ref: str, step: RefundStep) -> int:
    given = 0
    for pay in record.payments:
        if pay.kind == "points" and share < ONE:
            target = int((pay.points * share).to_integral_value(rounding=ROUND_FLOOR))
        else:
            target = pay.points if share >= ONE else 0
        now = target - pay.given_back
        if now <= 0:
            continue
        part = _slice(pay.draws, pay.given_back, now)
        restored = points.restore(book, part, at)
        step.changes.append(Entry("reverse", now, "redemption.refund", "redemption",
                                  pay.redemption, at, draws=restored))
        pay.given_back += now
        given += now
    if given:
        step.changes.extend(points.expire_due(book, at))
    return given


def _slice(draws: tuple[Draw, ...], skip: int, take: int) -> tuple[Draw, ...]:
    """The part of `draws` from point `skip` on, `take` points long."""
    out = []
    for d in draws:
        if skip >= d.points:
            skip -= d.points
            continue
        n = min(d.points - skip, take)
        out.append(Draw(d.lot, n, d.expires_at, d.earned_at, d.source))
        take -= n
        skip = 0
        if not take:
            break
    return tuple(out)


def _release_usage(lc: Lifecycle, book: MemberBook, record: OrderRecord, spend_before: Decimal,
                   spend_after: Decimal, points_before: Decimal, points_after: Decimal,
                   whole: bool, step: RefundStep) -> None:
    for rule, period, spend in record.caps:
        back = _floor(spend * spend_after) - _floor(spend * spend_before)
        held = book.caps.get(rule)
        if back > 0 and held is not None and held[0] == period:
            book.caps[rule] = (period, max(ZERO, held[1] - back))
    for cid, started, spend in record.challenges:
        back = _floor(spend * spend_after) - _floor(spend * spend_before)
        running = book.challenges.get(cid)
        if back > 0 and running is not None and running.started_at == started:
            running.spend = max(ZERO, running.spend - back)
    first_whole = whole and spend_before < ONE
    if first_whole and record.codes:  # a full refund gives its coupon codes' uses back
        step.changes.extend(CodeMove(code, cid, -1) for code, cid in record.codes)
    for cid, pts in record.campaigns:
        back_points = int(_floor(Decimal(pts) * points_after) - _floor(Decimal(pts) * points_before))
        used = book.campaigns.get(cid)
        if used is not None:
            used[1] = max(0, used[1] - back_points)
            if first_whole:
                used[0] = max(0, used[0] - 1)
        if cid in record.budgeted and back_points:
            step.changes.append(BudgetMove(cid, -back_points))
