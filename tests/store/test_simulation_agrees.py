"""The store and the simulator agree on a small history that exercises the points economy:
a refund after a redemption (a debt, repaid by later orders and a referral), a refused
redemption while the balance is below zero, a partial refund, refused referral and
birthday bonuses, and points lost to expiry before their order is refunded — under each
`refund_policy`. The same events are sent to the store (SQLite, or PostgreSQL with
CI=true) and replayed by `loyalty simulate`; balances, the books and the refusals match.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.program import load_program
from engine.simulation.simulate import run
from store.checkout import activities, orders, refunds
from store.db.database import Database
from store.errors import StoreError
from store.jobs import expiry
from store.redemptions import redeem as redemptions
from store.registry.programs import ProgramCache
from store.tables.core import LedgerEntryRow, MemberRow
from tests.store.helpers import economy_sources, publish_economy


def at(day: str) -> str:
    return f"{day}T12:00:00-05:00"


def order(member: str, order_id: str, unit_price: str, day: str, quantity: int = 1) -> dict:
    return {"type": "order", "member_id": member, "at": at(day),
            "order": {"id": order_id, "lines": [{"sku": "TV", "category": "electronics",
                                                 "quantity": quantity,
                                                 "unit_price": unit_price}]}}


def event(kind: str, member: str, day: str, **data: Any) -> dict:
    return {"type": kind, "member_id": member, "at": at(day), **data}


HISTORY = [
    # M3: 1,000 + 200 earned, 500 redeemed, the rest expired (July) before the refund.
    order("M3", "O-4", "500.00", "2026-01-10"),
    event("redemption", "M3", "2026-02-01", points=500),
    # M1: 1,750 earned, 1,500 redeemed, then the order is refunded.
    order("M1", "O-1", "775.00", "2026-03-03"),
    event("redemption", "M1", "2026-03-04", points=1500),
    order("M1", "O-2", "100.00", "2026-03-05"),
    event("refund", "M1", "2026-03-06", order_id="O-1"),
    event("redemption", "M1", "2026-03-07", points=500),
    order("M1", "O-3", "250.00", "2026-03-08", quantity=2),
    event("refund", "M1", "2026-03-09", order_id="O-3", amount="250.00"),   # one unit
    event("activity", "M1", "2026-03-10", activity="referral", friend_id="M2"),
    event("activity", "M2", "2026-03-11", activity="referral", friend_id="M1"),   # a circle
    event("activity", "M1", "2026-03-12", activity="birthday"),                  # unknown
    event("refund", "M3", "2026-08-01", order_id="O-4"),
]


def replay_in_store(db: Database, history: list[dict]) -> Counter:
    """Send the history's events to the store; returns the refusals by code."""
    cache, refused = ProgramCache(), Counter()
    for n, e in enumerate(history):
        member, when = e["member_id"], e["at"]
        try:
            if e["type"] == "order":
                orders.commit(db, cache, "economy", {"member": {"id": member}, "order": {
                    **e["order"], "placed_at": when}})
            elif e["type"] == "redemption":
                redemptions.redeem(db, cache, "economy", {"member_id": member, "as_of": when,
                                                          "points": e["points"]})
            elif e["type"] == "refund":
                body: dict[str, Any] = {"refund_id": f"R-{n}", "refunded_at": when}
                if "amount" in e:  # the one partial refund: one unit of a two-unit line
                    body["lines"] = [{"index": 0, "quantity": 1}]
                refunds.refund(db, cache, "economy", e["order_id"], body)
            else:
                body = {"event_id": f"E-{n}", "member_id": member, "activity": e["activity"],
                        "occurred_at": when}
                if "friend_id" in e:
                    body["friend_id"] = e["friend_id"]
                activities.record(db, cache, "economy", body)
        except StoreError as exc:
            refused[f"{e['type']}:{exc.code}"] += 1
    expiry.expire(db, "economy", datetime.fromisoformat(history[-1]["at"]))
    return refused


def store_books(db: Database) -> dict[str, Any]:
    with db.reading() as session:
        def total(*where: Any) -> int:
            return int(session.scalar(select(func.sum(LedgerEntryRow.points)).where(
                LedgerEntryRow.program == "economy", *where)) or 0)

        balances = {row.member_id: row.balance for row in session.execute(select(
            MemberRow.member_id, MemberRow.balance).where(MemberRow.program == "economy"))}
        return {"issued": total(LedgerEntryRow.points > 0,
                                LedgerEntryRow.kind.in_(("earn", "bonus"))),
                "reversed": -total(LedgerEntryRow.kind == "reverse",
                                   LedgerEntryRow.source_type == "refund"),
                "redeemed": -total(LedgerEntryRow.kind == "redeem"),
                "expired": -total(LedgerEntryRow.kind == "expire"),
                "balances": balances}


@pytest.mark.parametrize("policy", ["clawback", "forfeit_remaining"])
def test_store_and_simulation_agree(db, tmp_path: Path, policy: str) -> None:
    publish_economy(db, policy)
    refused = replay_in_store(db, HISTORY)
    store = store_books(db)

    path = tmp_path / "history.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in HISTORY))
    part = run(load_program(economy_sources(policy)), path)
    sim = part.stats
    assert sim.rejected == 0, sim.errors
    assert (store["issued"], store["reversed"], store["redeemed"], store["expired"]) == (
        sim.issued, sim.reversed, sim.redeemed, sim.expired)
    assert store["balances"] == {m: o[2] for m, o in part.outcomes.items()}

    declined = {k.removeprefix("declined:"): v for k, v in sim.redemptions.items()
                if k.startswith("declined:")}
    assert {k.removeprefix("redemption:"): v for k, v in refused.items()
            if k.startswith("redemption:")} == declined
    assert refused["activity:circular_referral"] == sim.activities["referral:circular_referral"] == 1
    assert refused["activity:birthday_unknown"] == sim.activities["birthday:birthday_unknown"] == 1

    if policy == "clawback":  # M1: 1,750 + 200 + 1,000 + 500 earned, 1,500 spent, ...
        assert store["balances"]["M1"] == 1750 + 200 + 1000 + 500 - 1500 - 1750 - 500 == -300
        assert store["balances"]["M3"] == -500 and declined == {"NEGATIVE_BALANCE": 1}
    else:
        assert min(store["balances"].values()) >= 0


TWO_REFERRAL_CAMPAIGNS = """\
campaigns:
  - {id: spring-referrals, type: referral, points: 800, friend_bonus: 300,
     schedule: {from: "2026-03-01", to: "2026-03-31"}}
  - {id: standing-referrals, type: referral, points: 600, friend_bonus: 250}
"""


def test_the_referral_campaign_is_the_first_running_one_in_both(db, tmp_path: Path) -> None:
    """Two referral campaigns run in March: the first in campaign order sets the terms,
    under its rule id, in the store and in simulation; in April only the other runs."""
    publish_economy(db, extra=TWO_REFERRAL_CAMPAIGNS)
    history = [event("activity", "A", "2026-03-10", activity="referral", friend_id="F"),
               event("activity", "A", "2026-04-10", activity="referral", friend_id="G")]
    cache = ProgramCache()
    paid = [activities.record(db, cache, "economy", {
        "event_id": f"E-{n}", "member_id": "A", "activity": "referral",
        "friend_id": e["friend_id"], "occurred_at": e["at"]}).result for n, e in enumerate(history)]
    assert [(p["rule"], p["points"], p["friend"]["points"]) for p in paid] == [
        ("campaigns.spring-referrals", 800, 300), ("campaigns.standing-referrals", 600, 250)]

    path = tmp_path / "history.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in history))
    by_rule = run(load_program(economy_sources(extra=TWO_REFERRAL_CAMPAIGNS)), path).stats.by_rule
    assert dict(by_rule) == {"campaigns.spring-referrals": 800,
                             "campaigns.spring-referrals.friend_bonus": 300,
                             "campaigns.standing-referrals": 600,
                             "campaigns.standing-referrals.friend_bonus": 250}


PLATINUM_SATURDAY_REFERRALS = """\
tiers:
  window: calendar_year
  levels:
    - {id: bronze, qualification: {min_spend: "0.00", min_orders: 0}}
    - {id: platinum, qualification: {min_spend: "100.00", min_orders: 1}}
campaigns:
  - {id: platinum-saturdays, type: referral, points: 900, friend_bonus: 400,
     schedule: {days_of_week: [saturday]}, eligibility: {tiers: [platinum]}}
"""


def test_a_referral_campaign_pays_only_whom_its_conditions_name_in_both(db, tmp_path: Path) -> None:
    """A referral campaign for platinum members on Saturdays: a bronze member referring
    on a Tuesday (or a Saturday), and a platinum member on a Tuesday, earn the activity's
    own 500 + 200; only the platinum member on a Saturday earns the campaign's 900 + 400
    — in the store and in simulation alike (both ask the campaign's compiled rule)."""
    publish_economy(db, extra=PLATINUM_SATURDAY_REFERRALS)
    history = [order("P", "O-P", "100.00", "2026-03-02"),   # P qualifies for platinum
               event("activity", "B", "2026-03-10", activity="referral", friend_id="F1"),
               event("activity", "B", "2026-03-14", activity="referral", friend_id="F2"),
               event("activity", "P", "2026-03-10", activity="referral", friend_id="F3"),
               event("activity", "P", "2026-03-14", activity="referral", friend_id="F4")]
    assert replay_in_store(db, history) == Counter()
    with db.reading() as session:
        paid = [(row.rule, row.points) for row in session.scalars(
            select(LedgerEntryRow).where(LedgerEntryRow.program == "economy",
                                         LedgerEntryRow.source_type == "activity")
            .order_by(LedgerEntryRow.id)) if row.rule != "earning.activities.first_purchase"]
    activity, campaign = "earning.activities.referral", "campaigns.platinum-saturdays"
    assert paid == [(activity, 500), (f"{activity}.friend_bonus", 200)] * 3 + [
        (campaign, 900), (f"{campaign}.friend_bonus", 400)]

    path = tmp_path / "history.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in history))
    by_rule = run(load_program(economy_sources(extra=PLATINUM_SATURDAY_REFERRALS)),
                  path).stats.by_rule
    assert {rule: points for rule, points in by_rule.items() if "referral" in rule
            or "saturdays" in rule} == {activity: 1500, f"{activity}.friend_bonus": 600,
                                        campaign: 900, f"{campaign}.friend_bonus": 400}
