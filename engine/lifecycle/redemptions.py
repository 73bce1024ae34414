"""Redemptions against a book: paying with points, catalog rewards, checkout holds,
automatic redemption, and putting points back (cancel, release).

Eligibility is the engine's (`engine.evaluation.redeem.assess`: minimum, balance, share of the
order, stock, tier, and a negative balance); this module draws the points from the lots
spendable at the redemption's instant, soonest expiry first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import engine.lifecycle.points as points
from engine.evaluation.outcome import Assessment
from engine.evaluation.redeem import assess
from engine.evaluation.request import Redeem
from engine.lifecycle.book import AutoSettings, MemberBook
from engine.lifecycle.changes import Change, Entry, StockMove
from engine.lifecycle.context import IdFactory, Lifecycle, Pool, Step
from engine.lifecycle.records import OrderRecord, RedemptionRecord
from engine.lifecycle.refunds import take_owed
from engine.lifecycle.status import check_active, forfeit_left

HOLD_MINUTES = 30


@dataclass
class RedeemStep(Step):
    assessed: Assessment | None = None
    record: RedemptionRecord | None = None

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, changes: list[Change] | None = None,
                 released: list[RedemptionRecord] | None = None, noted: int = 0,
                 assessed: Assessment | None = None,
                 record: RedemptionRecord | None = None) -> None:
        self.changes = [] if changes is None else changes
        self.released = [] if released is None else released
        self.noted = noted
        self.assessed = assessed
        self.record = record


@dataclass(frozen=True)
class Ask:
    """A redemption request: points or a reward (× quantity), optionally a checkout
    hold for `order_id` (with the order's total for the share limit)."""

    points: int | None = None
    reward_id: str | None = None
    quantity: int = 1
    order_id: str | None = None
    order_total: Decimal | None = None
    hold_minutes: int | None = None


def redeem(lc: Lifecycle, book: MemberBook, ask: Ask, at: datetime, pool: Pool,
           redemption_id: str, external_balance: int | None = None,
           records: Mapping[str, OrderRecord] | None = None) -> RedeemStep:
    """Assess and, when eligible, record a redemption. With `external_balance` (a
    program whose balances live in an external points API), the points are assessed
    against that balance and no lot is touched."""
    check_active(book)  # a suspended or closed member redeems nothing
    step = RedeemStep()
    lc.advance(book, at, step)
    lc.note(step, records)
    stock = {r: left for r in lc.stocked if (left := pool.stock_left(r)) is not None}
    balance = external_balance if external_balance is not None else points.spendable(book, at)
    wanted = Redeem(points=ask.points, reward_id=ask.reward_id, quantity=ask.quantity)
    assessed = assess(lc.model.redemption, wanted, balance=balance, tier=book.tier,
                      order_total=ask.order_total, stock=stock, denials=[])
    step.assessed = assessed
    if not assessed.eligible:
        return step
    reward = lc.model.redemption.reward(ask.reward_id) if ask.reward_id else None  # type: ignore[union-attr]
    amount = assessed.points
    draws = points.take_fifo(book, amount, at) if amount and external_balance is None else ()
    held = ask.order_id is not None
    record = RedemptionRecord(
        id=redemption_id, kind="reward" if reward else "points",
        status="held" if held else "completed", points=amount, draws=draws, at=at,
        order_id=ask.order_id, reward_id=reward.id if reward else None,
        quantity=ask.quantity if reward else 1,
        hold_expires_at=at + timedelta(minutes=ask.hold_minutes or HOLD_MINUTES)
        if held else None)
    if draws:
        step.changes.append(Entry("redeem", -amount, reward.rule_id if reward else "redemption",
                                  "redemption", redemption_id, at, draws=draws))
    if reward is not None and reward.id in lc.stocked:
        step.changes.append(StockMove(reward.id, ask.quantity))
    if held:
        book.holds.append(record)
    step.record = record
    return step


def redeem_automatically(lc: Lifecycle, book: MemberBook, at: datetime, order_id: str,
                         new_id: IdFactory, step: Step) -> list[RedemptionRecord]:
    """After an order: redeem the member's `unit` while the spendable balance stays at
    or above their threshold and the frequency limit allows."""
    settings = book.auto
    offer = lc.model.redemption.automatic if lc.model.redemption else None
    if settings is None or not settings.enabled or offer is None:
        return []
    period = lc.period(settings.frequency_per, at) \
        if settings.frequency_count is not None and settings.frequency_per else "lifetime"
    used = book.auto_used[1] if book.auto_used[0] == period else 0
    done = []
    while points.spendable(book, at) >= settings.threshold:
        if settings.frequency_count is not None and used >= settings.frequency_count:
            break
        rid = new_id()
        draws = points.take_fifo(book, settings.unit, at)
        step.changes.append(Entry("redeem", -settings.unit, "redemption.automatic",
                                  "redemption", rid, at, draws=draws))
        used += 1
        done.append(RedemptionRecord(
            id=rid, kind="automatic", status="completed", points=settings.unit, draws=draws,
            at=at, order_id=order_id,
            counted_in=period if settings.frequency_count is not None else None))
    book.auto_used = (period, used)
    return done


def configure_automatic(lc: Lifecycle, book: MemberBook, settings: dict[str, Any]) -> None:
    """Store a member's automatic-redemption settings (checked by
    `engine.evaluation.redeem.auto_settings` against the program's offer)."""
    frequency = settings.get("frequency")
    book.auto = AutoSettings(bool(settings["enabled"]), int(settings["threshold"]),
                             int(settings["unit"]), str(settings["method"]),
                             frequency["count"] if frequency else None,
                             frequency["per"] if frequency else None)


def cancel(lc: Lifecycle, book: MemberBook, record: RedemptionRecord, at: datetime,
           records: Mapping[str, OrderRecord] | None = None) -> Step:
    """Cancel a completed redemption or release a hold: its points go back to the lots
    they came from (expired at once if their date has passed), its stock back."""
    step = Step()
    held = record.status == "held"
    lc.advance(book, at, step)
    hold = next((h for h in book.holds if h.id == record.id), None)
    if not held or hold is not None:  # else its time ran out first: advance released it
        lc.release(book, hold or record, at, "released" if held else "cancelled", step)
        lc.note(step, records)  # points of the lots that expired meanwhile are lost
        take_owed(lc, book, (hold or record).draws, at, records, step)
        forfeited = forfeit_left(book, at, record.id)  # a closed member keeps nothing
        if forfeited is not None:
            step.changes.append(forfeited)
    lc.note(step, records)
    return step
