"""Milestones and alerts in the lifecycle core: decided by the rule engine once per member,
their points booked as a bonus lot, alerts raised once per occasion, and the book's
progress surviving the JSON round trip (books without it still load)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import count
from typing import Any

from engine import parse
from engine.lifecycle import (
    AlertRaised,
    Entry,
    Lifecycle,
    MilestoneReached,
    NoPool,
    commit_order,
    from_json,
    to_json,
)
from engine.program import Program

START = datetime.fromisoformat("2026-01-05T15:00:00+00:00")

SECTION: dict[str, Any] = {
    "milestones": [
        {"id": "third_order", "name": "Third order", "when": {"orders": 3},
         "reward": {"points": 300}},
        {"id": "streak", "when": {"streak_months": 3}, "reward": {"badge": "regular"}},
        {"id": "big", "when": {"spend": "250.00"}, "reward": {"reward": "REWARD-002"}},
        {"id": "first_tv", "when": {"first_in_category": "electronics"},
         "reward": {"points": 50}},
        {"id": "thousand_points", "when": {"points": 1000}, "reward": {"badge": "k"}},
    ],
    "alerts": {"points_expiring": {"within_days": 30}, "reward_affordable": True,
               "tier_within_reach": {"spend": "100.00"}},
}


def _with_engagement(data: dict[str, Any]) -> None:
    data["engagement"] = SECTION


def _order(lc: Lifecycle, book: Any, n: int, at: datetime, category: str = "home",
           price: str = "50.00") -> Any:
    ids = count()
    request = parse({"member": {"id": book.member_id}, "order": {
        "id": f"O-{n}", "placed_at": at.isoformat(),
        "lines": [{"sku": "A", "category": category, "quantity": 1, "unit_price": price}]}})
    return commit_order(lc, book, request, NoPool(), lambda: f"id-{next(ids)}")


def _reached(step: Any) -> list[str]:
    return [c.milestone for c in step.changes if isinstance(c, MilestoneReached)]


def test_milestones_are_reached_once_with_their_reward_and_trace(
        variant: Callable[..., Program]) -> None:
    lc = Lifecycle(variant(_with_engagement))
    book = lc.new_book("M-1", START)
    months = [START + timedelta(days=31 * i) for i in range(5)]
    reached = [_reached(_order(lc, book, i, at)) for i, at in enumerate(months[:2])]
    assert reached == [[], []]
    third = _order(lc, book, 2, months[2])
    assert _reached(third) == ["third_order", "streak"]
    milestone = next(c for c in third.changes if isinstance(c, MilestoneReached))
    assert (milestone.rule, milestone.facts, milestone.points, milestone.source_ref) == (
        "engagement.milestones.third_order", (("member.orders_count", 3),), 300, "O-2")
    bonus = [c for c in third.changes if isinstance(c, Entry) and c.source_type == "milestone"]
    assert [(b.kind, b.points, b.rule, b.source_ref) for b in bonus] == [
        ("bonus", 300, "engagement.milestones.third_order", "O-2")]
    assert book.progress.badges == ["regular"] and book.progress.streak == 3
    # reached once: the fourth order (still ≥ 3 orders, a 4-month streak) reaches nothing again
    assert "third_order" not in _reached(_order(lc, book, 3, months[3]))
    tv = _order(lc, book, 4, months[4], category="electronics")
    assert "first_tv" in _reached(tv)
    assert "first_tv" not in _reached(_order(lc, book, 5, months[4], category="electronics"))


def test_a_month_without_an_order_breaks_the_streak(variant: Callable[..., Program]) -> None:
    lc = Lifecycle(variant(_with_engagement))
    book = lc.new_book("M-2", START)
    for i, days in enumerate((0, 31, 93, 124)):  # January, February, April, May
        _order(lc, book, i, START + timedelta(days=days))
    assert book.progress.streak == 2 and "streak" not in book.progress.milestones


def test_spend_points_and_catalog_reward_milestones(variant: Callable[..., Program]) -> None:
    lc = Lifecycle(variant(_with_engagement))
    book = lc.new_book("M-3", START)
    step = _order(lc, book, 0, START, price="300.00")
    big = next(c for c in step.changes if isinstance(c, MilestoneReached) and c.milestone == "big")
    assert (big.reward_id, big.facts) == ("REWARD-002", (("member.lifetime_spend", "300.00"),))
    step = _order(lc, book, 1, START + timedelta(hours=1), price="700.00")
    assert "thousand_points" in _reached(step)


def test_progress_round_trips_and_old_books_load(variant: Callable[..., Program]) -> None:
    lc = Lifecycle(variant(_with_engagement))
    book = lc.new_book("M-4", START)
    for i in range(3):
        _order(lc, book, i, START + timedelta(days=31 * i))
    data = to_json(book)
    again = from_json(data)
    assert again.progress == book.progress and to_json(again) == data
    old = {k: v for k, v in data.items() if k != "progress"}
    assert from_json(old).progress is None
    # a book without progress goes on counting from where it is
    _order(lc, from_json(old), 9, START + timedelta(days=100))


def test_alerts_are_raised_once_per_occasion(variant: Callable[..., Program]) -> None:
    lc = Lifecycle(variant(_with_engagement))
    book = lc.new_book("M-5", START)
    step = _order(lc, book, 0, START, price="250.00")  # 500 points: covers REWARD-001 and 002
    alerts = [(a.type, a.payload.get("reward_id")) for a in step.changes
              if isinstance(a, AlertRaised)]
    assert ("reward.affordable", "REWARD-001") in alerts
    assert ("reward.affordable", "REWARD-002") in alerts
    step = _order(lc, book, 1, START + timedelta(hours=2))
    assert not [a for a in step.changes if isinstance(a, AlertRaised)
                and a.type == "reward.affordable" and a.payload["reward_id"] == "REWARD-001"]
    # points earned now expire 24 months later: 30 days before, one alert for the batch
    late = START + timedelta(days=700)
    first = lc.advance(book, late)
    expiring = [a for a in first.changes if isinstance(a, AlertRaised)
                and a.type == "points.expiring"]
    assert len(expiring) == 1 and expiring[0].payload["days_left"] <= 30
    assert expiring[0].payload["points"] == book.balance
    assert not [a for a in lc.advance(book, late + timedelta(days=1)).changes
                if isinstance(a, AlertRaised) and a.type == "points.expiring"]
