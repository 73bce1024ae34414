"""A member's insights from the store (SQLite, or PostgreSQL with CI=true): spend and
points by category and month add up to the member's orders and ledger, caps show what
is used and left, the trend compares with the period before, the tier's progress is the
member summary's, expiring points are the book's lots by month, and the rewards are the
best value affordable and the nearest out of reach."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

import store.ledger.accounts as accounts
from engine.program import load_program
from store.checkout import orders, refunds
from store.db.database import Database
from store.errors import NotFound, Unprocessable
from store.registry import versions as registry
from store.registry.programs import ProgramCache
from store.reports.insights import insights
from store.tables.core import LedgerEntryRow
from tests.store.helpers import order, publish_retail

CARD = Path(__file__).resolve().parents[2] / "rulesets" / "card-rewards"
OCT, DEC = datetime(2026, 10, 1, 4, tzinfo=UTC), datetime(2026, 12, 1, 5, tzinfo=UTC)


def buy(db: Database, cache: ProgramCache, order_id: str, day: str, amount: str,
        category: str, program: str = "retail", member: str = "M1") -> None:
    orders.commit(db, cache, program, order(order_id, member=member, amount=amount,
                                            category=category,
                                            placed_at=f"{day}T12:00:00-05:00"))


@pytest.fixture
def retail(db: Database) -> Database:
    publish_retail(db, 1)
    return db


def test_spend_and_points_by_category_and_month_add_up(retail: Database) -> None:
    cache = ProgramCache()
    buy(retail, cache, "O-1", "2026-09-15", "40.00", "home")            # the period before
    buy(retail, cache, "O-2", "2026-10-05", "100.00", "electronics")
    buy(retail, cache, "O-3", "2026-10-20", "50.00", "fashion")
    buy(retail, cache, "O-4", "2026-11-03", "80.00", "electronics")
    buy(retail, cache, "O-5", "2026-12-02", "999.00", "electronics")    # after the period
    buy(retail, cache, "X-1", "2026-10-06", "300.00", "electronics", member="M2")
    doc = insights(retail, cache, "retail", "M1", OCT, DEC, DEC)
    assert doc["period"]["months"] == ["2026-10", "2026-11"]
    categories = {row["category"]: row for row in doc["by_category"]}
    assert set(categories) == {"electronics", "fashion"}
    assert categories["electronics"]["spend"] == "180.00"
    assert categories["fashion"]["spend"] == "50.00"
    october, november = doc["by_month"]
    assert (october["orders"], october["spend"], november["orders"], november["spend"]) == \
        (2, "150.00", 1, "80.00")
    assert november["by_category"] == {"electronics": {"spend": "80.00", "points": 160}}
    assert set(october["by_category"]) == {"electronics", "fashion"}
    # the lines' points are the order points; the ledger adds the first-purchase bonus
    with retail.reading() as session:
        earned = session.scalar(select(func.sum(LedgerEntryRow.points)).where(
            LedgerEntryRow.source_type == "order",
            LedgerEntryRow.source_ref.in_(("O-2", "O-3", "O-4"))))
    assert sum(row["points"] for row in doc["by_category"]) == earned
    assert october["points_issued"] + november["points_issued"] == earned
    trend = doc["trend"]
    assert trend["orders"] == {"current": 3, "previous": 1, "change": 2,
                               "change_percent": "200.0"}
    assert trend["spend"]["current"] == "230.00" and trend["spend"]["previous"] == "40.00"


def test_tier_expiry_and_rewards_come_from_the_member_book(retail: Database) -> None:
    cache = ProgramCache()
    buy(retail, cache, "O-1", "2026-10-05", "150.00", "electronics")
    buy(retail, cache, "O-2", "2026-11-09", "50.00", "fashion")
    doc = insights(retail, cache, "retail", "M1", OCT, DEC, DEC)
    summary = accounts.summary(retail, cache, "retail", "M1", DEC)
    assert doc["balance"] == summary["balance"] > 0
    tier = doc["tier"]
    assert tier["tier"] == summary["tier"] == "bronze"
    assert {**tier["progress"], "qualifying_spend": tier["qualifying_spend"],
            "qualifying_orders": tier["qualifying_orders"]} == summary["progress"]
    assert tier["keep"]["tier"] == "bronze" and tier["keep"]["spend_needed"] == "0.00"
    # retail points expire 24 months after they were earned
    assert doc["expiring"] == [{"month": "2028-10", "points": doc["expiring"][0]["points"]},
                               {"month": "2028-11", "points": doc["expiring"][1]["points"]}]
    assert sum(row["points"] for row in doc["expiring"]) == doc["balance"]
    rewards = doc["rewards"]
    best, nearest = rewards["best_affordable"], rewards["nearest_out_of_reach"]
    assert 500 <= doc["balance"] < 1000
    assert best["id"] == "REWARD-001" and best["value_per_point"] == "0.0100"
    assert nearest["id"] == "REWARD-101"
    assert nearest["points_needed"] == 1000 - doc["balance"]


def test_a_member_too_poor_for_any_reward_is_told_what_is_nearest(retail: Database) -> None:
    cache = ProgramCache()
    buy(retail, cache, "O-1", "2026-11-05", "10.00", "home")
    refunds.refund(retail, cache, "retail", "O-1", {"refund_id": "R-1",
                                                     "refunded_at": "2026-11-06T12:00:00Z"})
    doc = insights(retail, cache, "retail", "M1", OCT, DEC, DEC)
    assert doc["rewards"]["best_affordable"] is None
    assert doc["rewards"]["nearest_out_of_reach"]["id"] == "REWARD-002"  # 200 points
    assert doc["rewards"]["nearest_out_of_reach"]["points_needed"] == 200 - doc["balance"]
    assert doc["by_month"][1]["points_reversed"] > 0
    assert doc["by_month"][1]["spend"] == "0.00"  # refunded in full


def test_seasonal_caps_show_what_is_used_and_left(db: Database) -> None:
    program = load_program(CARD)
    with db.writing() as session:
        registry.publish(session, program, "tests", "v1")
        registry.activate(session, "card-rewards", 1, "tests", at_declared=True)
    cache = ProgramCache()
    buy(db, cache, "C-1", "2026-02-10", "1000.00", "groceries", "card-rewards")
    buy(db, cache, "C-2", "2026-03-10", "800.00", "streaming", "card-rewards")
    buy(db, cache, "C-3", "2026-04-10", "200.00", "gas_stations", "card-rewards")
    start, end = datetime(2026, 1, 1, 6, tzinfo=UTC), datetime(2026, 5, 1, 5, tzinfo=UTC)
    doc = insights(db, cache, "card-rewards", "M1", start, end, end)
    caps = {cap["rule"]: cap for cap in doc["caps"]}
    q1, q2 = caps["seasonal_categories.2026-q1"], caps["seasonal_categories.2026-q2"]
    assert (q1["cap"], q1["spend"], q1["remaining"]) == ("1500.00", "1500.00", "0.00")
    assert (q2["cap"], q2["spend"], q2["remaining"]) == ("1500.00", "200.00", "1300.00")
    assert "seasonal_categories.2026-q3" not in caps  # after the period


def test_a_monthly_cap_is_shown_month_by_month(db: Database) -> None:
    sources = {p.name: p.read_text() for p in CARD.glob("*.yaml")}
    sources["seasonal_categories.yaml"] = sources["seasonal_categories.yaml"].replace(
        'cap: {spend: "1500.00", period: rotation}', 'cap: {spend: "500.00", period: month}', 1)
    with db.writing() as session:
        registry.publish(session, load_program(sources), "tests", "v1")
        registry.activate(session, "card-rewards", 1, "tests", at_declared=True)
    cache = ProgramCache()
    buy(db, cache, "C-1", "2026-01-10", "300.00", "groceries", "card-rewards")
    buy(db, cache, "C-2", "2026-02-10", "700.00", "groceries", "card-rewards")
    buy(db, cache, "C-3", "2026-02-11", "90.00", "dining", "card-rewards")  # not a bonus one
    start, end = datetime(2026, 1, 1, 6, tzinfo=UTC), datetime(2026, 3, 1, 6, tzinfo=UTC)
    doc = insights(db, cache, "card-rewards", "M1", start, end, end)
    q1 = [(c["period"], c["spend"], c["remaining"]) for c in doc["caps"]
          if c["rule"] == "seasonal_categories.2026-q1"]
    assert q1 == [("2026-01", "300.00", "200.00"), ("2026-02", "500.00", "0.00")]


def test_unknown_members_and_bad_periods_are_refused(retail: Database) -> None:
    cache = ProgramCache()
    buy(retail, cache, "O-1", "2026-10-05", "100.00", "electronics")
    with pytest.raises(NotFound) as unknown:
        insights(retail, cache, "retail", "NOPE", OCT, DEC, DEC)
    assert unknown.value.code == "unknown_member"
    with pytest.raises(Unprocessable) as reversed_period:
        insights(retail, cache, "retail", "M1", DEC, OCT, DEC)
    assert reversed_period.value.code == "invalid_period"
