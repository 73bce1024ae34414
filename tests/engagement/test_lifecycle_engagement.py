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
    RedemptionRecord,
    StockMove,
    cancel,
    commit_order,
    from_json,
    refund,
    to_json,
)
from engine.lifecycle.engagement_events import engagement_events
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
           price: str = "50.00", pool: Any = None) -> Any:
    ids = count()
    request = parse({"member": {"id": book.member_id}, "order": {
        "id": f"O-{n}", "placed_at": at.isoformat(),
        "lines": [{"sku": "A", "category": category, "quantity": 1, "unit_price": price}]}})
    return commit_order(lc, book, request, pool or NoPool(), lambda: f"id-{next(ids)}")


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
    # the catalog reward is given as a redemption of 0 points: no entry, no stock (unstocked)
    assert big.gift == "issued"
    assert [(g.kind, g.status, g.points, g.draws, g.reward_id, g.quantity, g.order_id)
            for g in step.gifts] == [("gift", "completed", 0, (), "REWARD-002", 1, "O-0")]
    assert not [c for c in step.changes if isinstance(c, Entry) and c.kind == "redeem"]
    assert not [c for c in step.changes if isinstance(c, StockMove)]
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


def test_engagement_changes_map_to_catalog_events(variant: Callable[..., Program]) -> None:
    program = variant(_with_engagement)
    lc = Lifecycle(program)
    book = lc.new_book("M-6", START)
    steps = [_order(lc, book, i, START + timedelta(days=31 * i), price="250.00")
             for i in range(3)]
    events = [e for s in steps for e in engagement_events(s.changes, book, program)]
    types = [e.type for e in events]
    assert "milestone.reached" in types and "reward.affordable" in types
    reached = next(e for e in events if e.payload.get("milestone") == "third_order")
    assert reached.payload == {"milestone": "third_order", "name": "Third order",
                               "reward": {"points": 300, "badge": None, "reward_id": None,
                                          "gift": None}}
    assert {e.member_id for e in events} == {"M-6"} and all(e.id == "" for e in events)


def test_campaign_starting_is_raised_for_eligible_members_only(
        variant: Callable[..., Program]) -> None:
    def change(data: dict[str, Any]) -> None:
        data["engagement"] = {"alerts": {"campaign_starting": {"within_days": 7}}}
        data["campaigns"] = [*data.get("campaigns", []), {
            "id": "gold-week", "name": "Gold week", "type": "multiplier", "multiplier": 2,
            "schedule": {"from": "2026-03-10", "to": "2026-03-16"},
            "eligibility": {"tiers": ["gold", "platinum"]}}]
    lc = Lifecycle(variant(change))
    gold = lc.new_book("G", START, tier="gold")
    bronze = lc.new_book("B", START)
    at = datetime.fromisoformat("2026-03-05T15:00:00+00:00")
    raised = [a for a in lc.advance(gold, at).changes if isinstance(a, AlertRaised)]
    assert [(a.type, a.payload["campaign"]) for a in raised] == [
        ("campaign.starting", "gold-week")]
    assert raised[0].payload["starts_at"].startswith("2026-03-10T00:00:00")
    assert not [a for a in lc.advance(bronze, at).changes if isinstance(a, AlertRaised)]
    assert not [a for a in lc.advance(gold, at + timedelta(days=1)).changes
                if isinstance(a, AlertRaised)]


def test_an_explained_order_traces_each_milestone_decision(
        variant: Callable[..., Program]) -> None:
    lc = Lifecycle(variant(_with_engagement))
    book = lc.new_book("M-7", START)
    for i in range(3):
        request = parse({"member": {"id": "M-7"}, "explain": True, "order": {
            "id": f"O-{i}", "placed_at": (START + timedelta(days=31 * i)).isoformat(),
            "lines": [{"sku": "A", "category": "home", "quantity": 1, "unit_price": "10"}]}})
        step = commit_order(lc, book, request, NoPool(), lambda: "id")
    trace = {e["rule"]: e for e in step.outcome.trace if e["kind"] == "milestone"}
    assert trace["engagement.milestones.third_order"] == {
        "rule": "engagement.milestones.third_order", "kind": "milestone", "fired": True,
        "applied": True, "facts": {"member.orders_count": 3}}
    assert trace["engagement.milestones.big"]["fired"] is False
    assert trace["engagement.milestones.big"]["facts"] == {"member.lifetime_spend": "30.00"}


def test_the_next_alert_time_is_when_a_batch_comes_within_the_window(
        variant: Callable[..., Program]) -> None:
    lc = Lifecycle(variant(_with_engagement))
    book = lc.new_book("M-8", START)
    _order(lc, book, 0, START)
    due = lc.alert_due(book)
    expiry = book.lots[0].expires_at
    assert due is not None and timedelta(days=29) < expiry - due <= timedelta(days=31)
    raised = [a for a in lc.advance(book, due).changes
              if isinstance(a, AlertRaised) and a.type == "points.expiring"]
    assert len(raised) == 1
    assert lc.alert_due(book) is None  # that batch's alert is raised: nothing else is coming


class _Stock:
    """A pool holding the units left of each stocked reward, as the store's and the
    simulator's do (NoPool's budgets and codes otherwise)."""

    def __init__(self, left: dict[str, int]) -> None:
        self.left = left

    def budget_used(self, campaign: str) -> int:
        return 0

    def stock_left(self, reward: str) -> int | None:
        return self.left.get(reward)

    def codes(self, presented: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
        return NoPool().codes(presented)

    def apply(self, step: Any) -> None:
        for c in step.changes:
            if isinstance(c, StockMove):
                self.left[c.reward] -= c.quantity


def _with_mug(data: dict[str, Any]) -> None:
    data["engagement"] = {"milestones": [
        {"id": "mug", "name": "First order", "when": {"orders": 1},
         "reward": {"reward": "REWARD-101"}}]}


def test_a_stocked_gift_takes_a_unit_and_none_left_reaches_the_milestone_without_it(
        variant: Callable[..., Program]) -> None:
    program = variant(_with_mug)
    lc = Lifecycle(program)
    pool = _Stock({"REWARD-101": 1})
    first = lc.new_book("M-7", START)
    step = _order(lc, first, 0, START, pool=pool)
    pool.apply(step)
    reached = next(c for c in step.changes if isinstance(c, MilestoneReached))
    assert reached.gift == "issued" and pool.left == {"REWARD-101": 0}
    assert [c for c in step.changes if isinstance(c, StockMove)] == [StockMove("REWARD-101", 1)]
    (gift,) = step.gifts
    # the next member reaches the milestone, but no unit is left: no gift, no stock taken
    second = lc.new_book("M-8", START)
    step = _order(lc, second, 0, START + timedelta(hours=1), pool=pool)
    reached = next(c for c in step.changes if isinstance(c, MilestoneReached))
    assert (reached.milestone, reached.gift) == ("mug", "out_of_stock")
    assert step.gifts == [] and not [c for c in step.changes if isinstance(c, StockMove)]
    assert second.progress.milestones == ["mug"]  # reached all the same, once
    (event,) = engagement_events(step.changes, second, program)
    assert event.payload["reward"] == {"points": None, "badge": None,
                                       "reward_id": "REWARD-101", "gift": "out_of_stock"}
    # cancelling the first member's gift puts its unit back; its milestone stays reached
    back = cancel(lc, first, gift, START + timedelta(days=1))
    assert [c for c in back.changes if isinstance(c, StockMove)] == [StockMove("REWARD-101", -1)]
    assert gift.status == "cancelled" and first.progress.milestones == ["mug"]


def test_a_refund_keeps_the_milestone_its_points_and_its_gift(
        variant: Callable[..., Program]) -> None:
    lc = Lifecycle(variant(_with_engagement))
    book = lc.new_book("M-9", START)
    step = _order(lc, book, 0, START, price="300.00")  # reaches `big` (a gift)
    assert [g.reward_id for g in step.gifts] == ["REWARD-002"]
    record = step.record
    back = refund(lc, book, record, START + timedelta(days=1), "R-1")
    assert not [c for c in back.changes if isinstance(c, (StockMove, MilestoneReached))]
    assert "big" in book.progress.milestones and step.gifts[0].status == "completed"
    # nor is it reached again by a later order
    again = _order(lc, book, 1, START + timedelta(days=2), price="300.00")
    assert "big" not in _reached(again) and again.gifts == []
    assert isinstance(step.gifts[0], RedemptionRecord)
