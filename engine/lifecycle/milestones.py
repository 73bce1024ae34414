"""Milestones of the `engagement:` section, reached by orders.

After an order is booked, the member's lifetime counts move (`Progress`: qualifying
spend, points credited, the run of consecutive program-local months with an order) and
the rule engine decides which milestones they reach (engine/rules/milestones.py). Each
milestone is reached once per member: the book keeps the ids reached. Its reward is
booked here: points as a lot of their own (an `Entry` of kind `bonus`, source_type
`milestone`, rule `engagement.milestones.<id>`), a badge kept in the book, or a catalog
reward given as a redemption of 0 points (a `RedemptionRecord` of kind `gift`, with a
`StockMove` when the reward is stocked; the store fulfils it like any reward). When the
pool has no unit of the reward left, the milestone is reached but the gift is not given:
the `MilestoneReached` change says `out_of_stock`.

A refund of the order that reached a milestone takes nothing of it back: a milestone is
reached once and stays reached, with its points, badge and gift.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from engine.evaluation.request import Order
from engine.lifecycle.book import MemberBook, Progress
from engine.lifecycle.changes import Entry, MilestoneReached, StockMove
from engine.lifecycle.context import IdFactory, Lifecycle, Pool, Step
from engine.lifecycle.records import RedemptionRecord
from engine.rules.milestones import CATEGORIES, FIELDS, ORDERS, POINTS, SPEND, STREAK

__all__ = ["count_order", "months_between"]


def months_between(before: str, after: str) -> int:
    """Calendar months from month key `before` ("2026-01") to `after`."""
    y0, m0 = (int(x) for x in before.split("-"))
    y1, m1 = (int(x) for x in after.split("-"))
    return (y1 - y0) * 12 + (m1 - m0)


def _count(lc: Lifecycle, progress: Progress, at: datetime, spend: Decimal,
           credited: int) -> None:
    progress.spend += spend
    progress.points += credited
    month = lc.period("month", at)
    if progress.month != month:
        gap = months_between(progress.month, month) if progress.month else 0
        progress.streak = progress.streak + 1 if gap == 1 else 1
        progress.month = month


def _gift(lc: Lifecycle, reward_id: str, at: datetime, order_id: str, pool: Pool,
          new_id: IdFactory, step: Step) -> RedemptionRecord | None:
    """The catalog reward `reward_id` given as a redemption of 0 points, or None when it
    is stocked and no unit is left (counting the units this step took already)."""
    if reward_id in lc.stocked:
        left = pool.stock_left(reward_id)
        if left is not None:
            left -= sum(c.quantity for c in step.changes
                        if type(c) is StockMove and c.reward == reward_id)
            if left < 1:
                return None
        step.changes.append(StockMove(reward_id, 1))
    return RedemptionRecord(id=new_id(), kind="gift", status="completed", points=0,
                            draws=(), at=at, order_id=order_id, reward_id=reward_id)


def count_order(lc: Lifecycle, book: MemberBook, order: Order, spend: Decimal,
                step: Step, start: int, pool: Pool, new_id: IdFactory,
                trace: list[dict[str, Any]] | None = None) -> list[RedemptionRecord]:
    """Count the booked order (`step.changes[start:]` are its changes) and book the
    milestones it reaches; returns the gifts (catalog rewards) they gave. `trace` (the
    order's explain trace, when asked for) gets each milestone's decision. Nothing
    happens when the program declares no milestones."""
    group = lc.program.milestones
    gifts: list[RedemptionRecord] = []
    if group is None:
        return gifts
    progress = book.progress if book.progress is not None else Progress()
    book.progress = progress
    credited = sum(c.points for c in step.changes[start:]
                   if type(c) is Entry and c.kind in ("earn", "bonus") and c.points > 0)
    at = order.placed_at
    _count(lc, progress, at, spend, credited)
    fact = {ORDERS: book.orders_count, SPEND: progress.spend, POINTS: progress.points,
            STREAK: progress.streak,
            CATEGORIES: sorted({line.category for line in order.lines})}
    fired = group.decide(fact)
    if not fired and trace is None:
        return gifts
    for m in lc.model.engagement.milestones:
        field = CATEGORIES if m.measure == "first_in_category" else FIELDS[m.measure]
        value = fact[field]
        facts = ((field, str(value) if isinstance(value, Decimal) else value),)
        hit, before = m.rule_id in fired, m.id in progress.milestones
        if trace is not None:  # the explain trace records the decision as it is taken
            trace.append({"rule": m.rule_id, "kind": "milestone", "fired": hit,
                          **({"applied": not before} if hit else {}),
                          **({"reason": "reached before"} if hit and before else {}),
                          "facts": dict(facts)})
        if not hit or before:
            continue
        progress.milestones.append(m.id)
        reward = m.reward
        if reward.badge is not None and reward.badge not in progress.badges:
            progress.badges.append(reward.badge)
        reached = MilestoneReached(m.id, m.name, at, reward.points, reward.badge,
                                   reward.reward_id, order.id, m.rule_id, facts)
        step.changes.append(reached)
        if reward.points:
            lc.credit(book, [("bonus", m.rule_id, reward.points)], at, "milestone", order.id,
                      f"milestone:{m.id}", step)
            progress.points += reward.points
        if reward.reward_id is not None:
            gift = _gift(lc, reward.reward_id, at, order.id, pool, new_id, step)
            reached.gift = "issued" if gift is not None else "out_of_stock"
            if gift is not None:
                gifts.append(gift)
    return gifts
