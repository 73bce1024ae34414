"""The points economy in simulation, as the store has it (tests/store/test_economy.py):
refunds after redemption under each `refund_policy`, debts in the books, the
first-purchase bonus of a refunded order, referrals (also split across workers),
birthdays, redemptions in time. Program: tests/store/helpers.py's `economy`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.program import load_program
from engine.simulation.simulate import simulate
from tests.store.helpers import economy_sources


def at(day: str, hour: int = 12) -> str:
    return f"{day}T{hour:02d}:00:00-05:00"


def order(order_id: str, amount: str, day: str, member: str = "M1", quantity: int = 1) -> dict:
    return {"type": "order", "member_id": member, "at": at(day),
            "order": {"id": order_id, "lines": [{"sku": "TV", "category": "electronics",
                                                 "quantity": quantity, "unit_price": amount}]}}


def event(kind: str, day: str, member: str = "M1", **data: Any) -> dict:
    return {"type": kind, "member_id": member, "at": at(day), **data}


def run(tmp_path: Path, events: list[dict], policy: str = "clawback", **kw: Any) -> dict:
    path = tmp_path / "history.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return simulate(load_program(economy_sources(policy)), path, **kw)


def books_balance(doc: dict) -> None:
    t = doc["totals"]
    assert t["points_issued"] - t["points_reversed"] - t["points_redeemed"] \
        - t["points_expired"] == t["points_outstanding"] == t["sum_of_member_balances"]
    assert t["books_balance"]


SPENT_THEN_REFUNDED = [
    order("O-1", "775.00", "2026-03-03"),                  # 1,550 + 200 first purchase
    event("redemption", "2026-03-04", points=1500),
    event("refund", "2026-03-05", order_id="O-1"),
    event("redemption", "2026-03-06", points=500),         # refused: the balance is -1,500
    order("O-2", "400.00", "2026-03-10"),                  # 800 repay the debt
]


def test_clawback_in_the_books(tmp_path):
    doc = run(tmp_path, SPENT_THEN_REFUNDED)
    t = doc["totals"]
    assert (t["points_issued"], t["points_reversed"], t["points_redeemed"]) == (2550, 1750, 1500)
    assert t["points_outstanding"] == -700 and (t["points_owed"], t["members_owing"]) == (700, 1)
    assert doc["redemptions"] == {"accepted": 1, "declined:NEGATIVE_BALANCE": 1}
    books_balance(doc)
    # Later earnings repay the rest; points that repaid the debt never expire again.
    later = run(tmp_path, [*SPENT_THEN_REFUNDED, order("O-3", "500.00", "2027-01-05")])
    assert later["totals"]["points_outstanding"] == 300 and later["totals"]["points_owed"] == 0
    assert later["totals"]["points_expired"] == 0
    books_balance(later)


def test_forfeit_remaining_in_the_books(tmp_path):
    doc = run(tmp_path, SPENT_THEN_REFUNDED, policy="forfeit_remaining")
    t = doc["totals"]
    assert t["points_reversed"] == 250 and t["points_outstanding"] == 800
    assert t["points_owed"] == 0
    assert doc["redemptions"] == {"accepted": 1, "declined:INSUFFICIENT_POINTS": 1}
    books_balance(doc)


@pytest.mark.parametrize("policy, reversed_, left", [("clawback", 500, -500),
                                                     ("forfeit_remaining", 0, 0)])
def test_points_lost_to_expiry_are_not_taken_back(tmp_path, policy, reversed_, left):
    doc = run(tmp_path, [order("O-1", "500.00", "2026-01-10"),
                         event("redemption", "2026-02-01", points=500),
                         event("refund", "2026-08-01", order_id="O-1")], policy=policy)
    assert doc["totals"]["points_expired"] == 700
    assert (doc["totals"]["points_reversed"], doc["totals"]["points_outstanding"]) \
        == (reversed_, left)
    books_balance(doc)


def test_the_first_purchase_bonus_leaves_with_the_whole_order(tmp_path):
    half = run(tmp_path, [order("O-1", "387.50", "2026-03-03", quantity=2),
                          event("refund", "2026-03-04", order_id="O-1", amount="387.50")])
    assert half["totals"]["points_reversed"] == 774  # half of each rule, rounded down
    whole = run(tmp_path, [order("O-1", "387.50", "2026-03-03", quantity=2),
                           event("refund", "2026-03-04", order_id="O-1", amount="387.50"),
                           event("refund", "2026-03-05", order_id="O-1")])
    assert whole["totals"]["points_reversed"] == 1750
    assert whole["totals"]["points_outstanding"] == 0


REFERRALS = [
    event("activity", "2026-03-01", "A", activity="referral", friend_id="F"),   # accepted
    event("activity", "2026-03-02", "B", activity="referral", friend_id="F"),   # already
    event("activity", "2026-03-03", "A", activity="referral", friend_id="F"),   # already
    event("activity", "2026-03-04", "F", activity="referral", friend_id="A"),   # circle
    event("activity", "2026-03-05", "F", activity="referral", friend_id="G"),   # accepted
    event("activity", "2026-03-06", "G", activity="referral", friend_id="A"),   # circle
    event("enroll", "2026-03-07", "X", referred_by="A"),                         # accepted
    event("activity", "2026-03-08", "A", activity="referral", friend_id="A"),   # self
    event("activity", "2026-03-09", "A", activity="referral"),                  # no friend
    event("enroll", "2026-03-10", "Y", referred_by="X"),                         # accepted
]


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_referrals_once_per_friend_never_in_a_circle(tmp_path, workers):
    doc = run(tmp_path, REFERRALS, workers=workers)
    assert doc["activities"] == {
        "referral": 4, "referral:already_referred": 2, "referral:circular_referral": 2,
        "referral:self_referral": 1, "referral:friend_required": 1,
        "account_creation:no_points": 2}  # X and Y enrolled: the program pays nothing for it
    assert doc["by_rule"] == {"earning.activities.referral": 2000,
                              "earning.activities.referral.friend_bonus": 800}
    assert doc["events"]["rejected"] == 0 and doc["members"] == 6
    books_balance(doc)


def test_a_birthday_bonus_needs_a_birthday_on_record(tmp_path):
    doc = run(tmp_path, [
        event("activity", "2026-03-03", "M1", activity="birthday"),
        event("enroll", "2026-03-01", "M2", attributes={"birthday": "1990-07-14"}),
        event("activity", "2026-03-03", "M2", activity="birthday"),
        event("activity", "2026-07-03", "M2", activity="birthday")])
    assert doc["activities"] == {"birthday": 1, "birthday:birthday_unknown": 1,
                                 "birthday:not_birthday_month": 1, "account_creation:no_points": 1}


def test_a_redemption_spends_only_points_that_existed_then(tmp_path):
    """A member's events are in time order: a redemption cannot reach back to points
    earned after it (an order dated before it is refused as going back in time)."""
    doc = run(tmp_path, [event("redemption", "2026-03-05", points=500),
                         order("O-1", "775.00", "2026-03-03"),
                         order("O-2", "775.00", "2026-03-06"),
                         event("redemption", "2026-03-07", points=500)])
    assert doc["redemptions"] == {"declined:INSUFFICIENT_POINTS": 1, "accepted": 1}
    assert doc["events"]["rejected"] == 1
    assert "earlier than member M1's previous event" in doc["events"]["errors"][0]["message"]
