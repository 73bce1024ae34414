"""1,000 redemption attempts racing over 10 members and a reward with 5 units of stock.

Every success costs exactly 500 points (pay with points, or the mug repriced to 500 with
a stock of 5), so the outcome is fixed whatever the interleaving: each member ends below
500 points, successes = Σ floor(balance / 500), exactly 5 mugs, nothing negative and
every balance equal to the sum of its ledger. Runs on PostgreSQL in CI (row locks) and
on SQLite locally (serialized writers).
"""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from engine import load_program
from engine.lifecycle import from_json
from store.checkout import orders
from store.errors import StoreError
from store.ledger import entries as ledger
from store.redemptions import redeem as redemptions
from store.registry import versions as registry
from store.registry.programs import ProgramCache
from store.tables.core import MemberRow, RewardStockRow
from tests.store.helpers import order, retail_version

AS_OF = "2026-11-20T12:00:00Z"
MEMBERS = [f"M-{i}" for i in range(10)]


def publish_scarce_mug(db) -> None:
    sources = retail_version(1)
    sources["redemption.yaml"] = sources["redemption.yaml"].replace(
        "      points: 1000\n      stock: 500", "      points: 500\n      stock: 5")
    assert "stock: 5\n" in sources["redemption.yaml"]
    with db.writing() as session:
        registry.publish(session, load_program(sources), "tests", "scarce mug")
        registry.activate(session, "retail", 1, "tests", at_declared=True)


def attempt(db, cache, body):
    try:
        redemptions.redeem(db, cache, "retail", {"as_of": AS_OF, **body})
        return "ok:" + ("reward" if "reward_id" in body else "points")
    except StoreError as exc:
        return exc.code


def test_a_thousand_racing_redemptions(db):
    publish_scarce_mug(db)
    cache = ProgramCache()
    rng = random.Random(5)
    for i, member in enumerate(MEMBERS):
        orders.commit(db, cache, "retail", order(f"O-{i}", member=member,
                                                 amount=f"{600 + 250 * i}.00"))
    with db.reading() as session:
        start = {m.member_id: m.balance for m in session.scalars(select(MemberRow))}
    allowed = sum(balance // 500 for balance in start.values())
    mugs = [{"member_id": m, "reward_id": "REWARD-101"} for m in MEMBERS for _ in range(10)]
    points = [{"member_id": m, "points": 500, "order_total": "5000.00"}
              for m in MEMBERS for _ in range(90)]
    rng.shuffle(mugs)
    rng.shuffle(points)
    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = Counter(pool.map(lambda body: attempt(db, cache, body), mugs + points))
    successes = outcomes["ok:reward"] + outcomes["ok:points"]
    assert sum(outcomes.values()) == 1000
    assert successes == allowed, outcomes
    assert outcomes["ok:reward"] == 5, outcomes
    assert set(outcomes) <= {"ok:reward", "ok:points", "INSUFFICIENT_POINTS", "OUT_OF_STOCK"}
    with db.reading() as session:
        stock = session.scalar(select(RewardStockRow.issued).where(
            RewardStockRow.reward_id == "REWARD-101"))
        assert stock == 5
        for member in session.scalars(select(MemberRow)):
            assert member.balance == ledger.balance_from_entries(session, member.id)
            assert 0 <= member.balance < 500
            assert member.balance == start[member.member_id] % 500
            book = from_json(member.book)
            assert sum(lot.left for lot in book.lots) - book.debt == member.balance
