"""An order, committed: the evaluation's result applied to the member's book.

The engine evaluates the order against the book's state (campaigns, rotations, caps,
tier, challenge, first purchase); this step only books what the evaluation decided:
the order's points as one lot (an entry per rule), the upgrade bonus and the
first-purchase bonus as lots of their own, cap spend, campaign uses and budgets,
challenge spend, the tier, the milestones the order reaches (with their gifts), the
checkout holds the order captures, and automatic redemption when the member opted in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from engine.evaluation.earn import LineResult
from engine.evaluation.evaluate import outcome_of
from engine.evaluation.evaluator import check_currency
from engine.evaluation.outcome import Outcome
from engine.evaluation.redeem import CENT
from engine.evaluation.request import Order, Request
from engine.lifecycle.book import ORDER_SOURCE, Challenge, MemberBook
from engine.lifecycle.changes import BudgetMove, CashbackMove, Change, CodeMove
from engine.lifecycle.context import IdFactory, Lifecycle, Pool, Step
from engine.lifecycle.milestones import count_order
from engine.lifecycle.records import OrderLine, OrderRecord, Payment, RedemptionRecord
from engine.lifecycle.redemptions import redeem_automatically
from engine.lifecycle.status import check_active

ZERO = Decimal(0)


@dataclass
class OrderStep(Step):
    outcome: Outcome | None = None
    record: OrderRecord | None = None
    captured: list[RedemptionRecord] = field(default_factory=list)
    automatic: list[RedemptionRecord] = field(default_factory=list)
    gifts: list[RedemptionRecord] = field(default_factory=list)  # milestones' catalog rewards

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, changes: list[Change] | None = None,
                 released: list[RedemptionRecord] | None = None, noted: int = 0,
                 outcome: Outcome | None = None, record: OrderRecord | None = None,
                 captured: list[RedemptionRecord] | None = None,
                 automatic: list[RedemptionRecord] | None = None,
                 gifts: list[RedemptionRecord] | None = None) -> None:
        self.changes = [] if changes is None else changes
        self.released = [] if released is None else released
        self.noted = noted
        self.outcome = outcome
        self.record = record
        self.captured = [] if captured is None else captured
        self.automatic = [] if automatic is None else automatic
        self.gifts = [] if gifts is None else gifts


def commit_order(lc: Lifecycle, book: MemberBook, request: Request, pool: Pool,
                 new_id: IdFactory, summary: bool = False,
                 records: Mapping[str, OrderRecord] | None = None) -> OrderStep:
    """Evaluate `request` (which has an order) against `book` and book the result.
    `records`: the member's order records the caller keeps (told of expired points).
    `summary` (the simulator): no explain trace, and a record without its lines (such an
    order is refunded by amount only)."""
    order = request.order
    assert order is not None, "a commit needs an order"
    at = order.placed_at
    check_currency(lc.program, order)  # a refused order changes nothing, not even time
    check_active(book)  # a suspended or closed member earns nothing
    step = OrderStep()
    lc.advance(book, at, step, alerts=False)  # raised once the order is booked (below)
    lc.note(step, records)
    start = len(step.changes)
    state = lc.state(book, at, pool, stock=bool(request.redeem and request.redeem.reward_id),
                     codes=request.codes)
    outcome = outcome_of(lc.program, request, state, explain=False if summary else None)
    step.outcome = outcome
    record = _book_points(lc, book, order, at, outcome, step, summary)
    if outcome.codes:  # the coupon codes whose campaign applied: one use each
        record.codes = tuple((c.code, c.campaign) for c in outcome.codes
                             if c.status == "applied" and c.campaign is not None)
        step.changes.extend(CodeMove(code, cid, 1) for code, cid in record.codes)
    _book_usage(lc, book, at, outcome, record, step)
    _book_tier(lc, book, order.id, at, outcome, record, step)
    book.orders_count += 1
    step.gifts = count_order(lc, book, order, record.spend, step, start, pool, new_id,
                             outcome.trace)
    step.captured = _capture_holds(book, order.id, at, record)
    step.record = record
    if book.auto is not None and book.auto.enabled:
        step.automatic = redeem_automatically(lc, book, at, order.id, new_id, step)
    if lc.alerting:
        lc.raise_alerts(book, at, step)
    lc.note(step, records)
    return step


def _book_points(lc: Lifecycle, book: MemberBook, order: Order, at: datetime,
                 outcome: Outcome, step: Step, summary: bool) -> OrderRecord:
    order_id = order.id
    earn = outcome.earn
    bonus_rules = {b.rule for b in earn.bonuses} if earn.bonuses else ()
    parts = [("bonus" if rule in bonus_rules else "earn", rule, pts)
             for rule, pts in earn.by_rule.items()]
    lot = lc.credit(book, parts, at, "order", order_id, ORDER_SOURCE + order_id, step,
                    order_id)
    if outcome.upgrade is not None:
        _book_upgrade(lc, book, order_id, at, outcome.upgrade.rules, step)
    first = None
    for activity in outcome.activities:
        parts = [("bonus", activity.rule, activity.points)]
        first_lot = lc.credit(book, parts, at, "activity", f"order:{order_id}",
                              f"activity:order:{order_id}", step)
        lc.count_activity(book, activity.activity, at)
        if activity.activity == "first_purchase":
            first = (activity.points, first_lot)
    cashback = earn.cashback.quantize(CENT)  # as the result states it
    if cashback:
        step.changes.append(CashbackMove(cashback, "order", order_id, at))
    # the store and the simulator book the same spend: the lines' eligible amounts in
    # cents, as the result states them (the simulator keeps no lines)
    eligible = [r.eligible.quantize(CENT) for r in earn.lines]
    lines = () if summary else tuple(_as_stated(r, amount) for r, amount in zip(earn.lines, eligible))
    by_rule = tuple([item for item in earn.by_rule.items() if item[1]])
    return OrderRecord(order_id=order_id, placed_at=at, lines=lines,
                       net=outcome.subtotal or ZERO, spend=sum(eligible, ZERO), by_rule=by_rule,
                       cashback=cashback, lot=lot, first_purchase=first)


def _book_upgrade(lc: Lifecycle, book: MemberBook, order_id: str, at: datetime,
                  rules: tuple[str, ...], step: Step) -> None:
    """The upgrade bonus of each tier the order reached, once per tier, as one lot."""
    tiers = lc.model.tiers
    upgrades = []
    for rule in rules:
        tier_id = rule.split(".")[1]
        tier = tiers.get(tier_id) if tiers else None
        if tier is not None and tier.upgrade_bonus and tier_id not in book.awarded_upgrades:
            upgrades.append(("bonus", rule, tier.upgrade_bonus))
            book.awarded_upgrades.append(tier_id)
    lc.credit(book, upgrades, at, "tier", f"order:{order_id}", f"tier:{order_id}", step)


def _as_stated(r: LineResult, eligible: Decimal) -> OrderLine:
    """A line as the order's result states it (engine/evaluation/render.py `line_json`):
    its eligible amount in cents and its exact points without trailing zeros. Refunds,
    the stored record and a record rebuilt from the stored result
    (store/migrations/books/records.py) then agree on every amount."""
    return OrderLine(r.line.quantity, r.line.amount, eligible,
                     Decimal(f"{r.exact_points.normalize():f}"))


def _book_usage(lc: Lifecycle, book: MemberBook, at: datetime, outcome: Outcome,
                record: OrderRecord, step: Step) -> None:
    usage = outcome.usage
    if usage.caps:
        caps = []
        for cap in usage.caps:
            period = cap.period  # the evaluation's period of the cap, at the order's instant
            held = book.caps.get(cap.rule)
            before = held[1] if held is not None and held[0] == period else ZERO
            book.caps[cap.rule] = (period, before + cap.spend)
            caps.append((cap.rule, period, cap.spend))
        record.caps = tuple(caps)
    if outcome.campaigns:
        _book_campaigns(lc, book, outcome, record, step)
    if usage.challenges:
        _book_challenges(lc, book, at, outcome, record)


def _book_campaigns(lc: Lifecycle, book: MemberBook, outcome: Outcome, record: OrderRecord,
                    step: Step) -> None:
    campaigns, budgeted = [], []
    for c in outcome.campaigns:
        cid, pts = c.id, c.points
        used = book.campaigns.setdefault(cid, [0, 0])
        used[0] += 1
        used[1] += pts
        campaigns.append((cid, pts))
        if cid in lc.budgeted and pts:
            step.changes.append(BudgetMove(cid, pts))
            budgeted.append(cid)
    record.campaigns, record.budgeted = tuple(campaigns), tuple(budgeted)


def _book_challenges(lc: Lifecycle, book: MemberBook, at: datetime, outcome: Outcome,
                     record: OrderRecord) -> None:
    advanced = {c.id for c in outcome.campaigns if c.tier_advance}
    challenges = []
    for ch in outcome.usage.challenges:
        cid, spend = ch.id, ch.spend
        running = book.challenges.get(cid)
        if running is None or (running.ends_at is not None and at >= running.ends_at):
            days = lc.challenge_days.get(cid)
            running = book.challenges[cid] = Challenge(
                at, at + timedelta(days=days) if days else None)
        running.spend += spend
        challenges.append((cid, running.started_at, spend))
        if cid in advanced:
            del book.challenges[cid]  # met: the next order starts a new one
    record.challenges = tuple(challenges)


def _book_tier(lc: Lifecycle, book: MemberBook, order_id: str, at: datetime,
               outcome: Outcome, record: OrderRecord, step: Step) -> None:
    if lc.tiers is None:
        return
    advanced = any(c.tier_advance for c in outcome.campaigns)
    granted = outcome.tier_after if advanced else None
    lc.tiers.record_order(book, order_id, at, record.spend, granted)
    if outcome.qualified is not None:  # what the rule engine decided for these totals
        lc.tiers.known(book, at, outcome.qualifying_spend, outcome.qualifying_orders,
                       outcome.qualified)
    lc.tier_settled(book, at, "challenge" if advanced else "order", step)


def _capture_holds(book: MemberBook, order_id: str, at: datetime,
                   record: OrderRecord) -> list[RedemptionRecord]:
    captured = [h for h in book.holds if h.order_id == order_id]
    for hold in captured:
        book.holds.remove(hold)
        hold.status = "captured"
        record.payments.append(Payment(hold.id, hold.kind, hold.points, hold.draws))
    return captured
