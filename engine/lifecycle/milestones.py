"""Milestones of the `engagement:` section, reached by orders.

After an order is booked, the member's lifetime counts move (`Progress`: qualifying
spend, points credited, the run of consecutive program-local months with an order) and
the rule engine decides which milestones they reach (engine/rules/milestones.py). Each
milestone is reached once per member: the book keeps the ids reached. Its reward is
booked here: points as a lot of their own (an `Entry` of kind `bonus`, source_type
`milestone`, rule `engagement.milestones.<id>`), a badge kept in the book, or a catalog
reward named in the `MilestoneReached` change (the store's fulfilment issues it).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from engine.evaluation.request import Order
from engine.lifecycle.book import MemberBook, Progress
from engine.lifecycle.changes import Entry, MilestoneReached
from engine.lifecycle.context import Lifecycle, Step
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


def count_order(lc: Lifecycle, book: MemberBook, order: Order, spend: Decimal,
                step: Step, start: int, trace: list[dict[str, Any]] | None = None) -> None:
    """Count the booked order (`step.changes[start:]` are its changes) and book the
    milestones it reaches; `trace` (the order's explain trace, when asked for) gets each
    milestone's decision. Nothing happens when the program declares no milestones."""
    group = lc.program.milestones
    if group is None:
        return
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
        return
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
        step.changes.append(MilestoneReached(
            m.id, m.name, at, reward.points, reward.badge, reward.reward_id, order.id,
            m.rule_id, facts))
        if reward.points:
            lc.credit(book, [("bonus", m.rule_id, reward.points)], at, "milestone", order.id,
                      f"milestone:{m.id}", step)
            progress.points += reward.points
