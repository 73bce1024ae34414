"""The transactional outbox: a change and its events commit together, and the feed lists
them in commit order, so a reader paging with a cursor never skips one."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from engine.events import DomainEvent
from schemas import load_schema
from store.checkout import orders
from store.events import outbox
from store.redemptions import redeem as redemptions
from store.registry.programs import ProgramCache
from store.tables.core import MemberRow
from store.tables.events import DomainEventRow
from tests.store.helpers import order, publish_retail

VALIDATOR = Draft202012Validator(load_schema("events"))


def feed(db, program: str = "retail", cursor: int = 0) -> list[outbox.Published]:
    with db.reading() as session:
        return outbox.read_after(session, program, cursor, 10_000)


def manual(member: str, n: int) -> DomainEvent:
    return DomainEvent.new("points.expired", "retail", member, datetime.now(UTC), 1,
                           {"points": n, "balance": 0})


def test_an_order_and_a_redemption_write_their_events(db):
    publish_retail(db)
    cache = ProgramCache()
    orders.commit(db, cache, "retail", order("O-1", amount="900.00"))
    made = redemptions.redeem(db, cache, "retail", {"member_id": "CUST-1", "points": 500,
                                                    "as_of": "2026-11-20T12:00:00Z"})
    redemptions.cancel(db, cache, "retail", made.result["id"],
                       {"cancelled_at": "2026-11-21T12:00:00Z"})
    published = feed(db)
    assert [p.position for p in published] == list(range(1, len(published) + 1))
    types = [p.event.type for p in published]
    assert types[0] == "points.earned" and "tier.changed" in types
    assert types[-4:] == ["points.redeemed", "redemption.created", "points.reversed",
                          "redemption.cancelled"], types
    for p in published:
        assert list(VALIDATOR.iter_errors(p.event.to_json())) == [], p.event
        assert p.event.program == "retail" and p.event.member_id == "CUST-1"
    earned = [p.event.payload for p in published if p.event.type == "points.earned"]
    assert earned[0]["source_type"] == "order" and earned[0]["source_ref"] == "O-1"
    redeemed = next(p.event for p in published if p.event.type == "points.redeemed")
    assert redeemed.payload["points"] == 500
    gift, created = [p.event for p in published if p.event.type == "redemption.created"]
    assert created.payload == {"redemption_id": made.result["id"], "reward_id": None,
                               "quantity": 1, "points": 500, "status": "completed"}
    # the order's electronics reached `first_electronics`: its catalog reward is a gift,
    # created (0 points) after the events of the order's own step
    reached = types.index("milestone.reached")
    assert published[reached].event.payload["reward"] == {
        "points": None, "badge": None, "reward_id": "REWARD-002", "gift": "issued"}
    assert types.index("redemption.created") > reached
    assert published[types.index("redemption.created")].event is gift
    assert {k: gift.payload[k] for k in ("reward_id", "quantity", "points", "status")} == {
        "reward_id": "REWARD-002", "quantity": 1, "points": 0, "status": "completed"}
    with db.reading() as session:
        balance = session.scalar(select(MemberRow.balance))
    last_points = [p.event for p in published if "balance" in p.event.payload][-1]
    assert last_points.payload["balance"] == balance
    # each points event carries the balance right after it
    running = 0
    for p in published:
        if p.event.type.startswith("points."):
            sign = -1 if p.event.type in ("points.redeemed", "points.expired") else 1
            running += sign * p.event.payload["points"]
            assert p.event.payload["balance"] == running


def test_a_tier_change_says_which_way(db):
    publish_retail(db)
    orders.commit(db, ProgramCache(), "retail", order("O-1", amount="900.00"))
    changed = [p.event.payload for p in feed(db) if p.event.type == "tier.changed"]
    assert changed == [{"before": "bronze", "after": "silver", "cause": "challenge",
                        "direction": "up"}]


def test_a_rolled_back_change_leaves_no_event_and_no_gap(db):
    with pytest.raises(RuntimeError), db.writing() as session:
        outbox.publish(session, [manual("M-1", 1)])
        raise RuntimeError("the change fails")
    with db.writing() as session:
        with session.begin_nested() as nested:  # a savepoint rolled back takes its event
            outbox.publish(session, [manual("M-2", 2)])
            nested.rollback()
        kept = outbox.publish(session, [manual("M-3", 3)])
    published = feed(db)
    assert [(p.position, p.event.member_id) for p in published] == [(1, "M-3")]
    assert published[0].event.id == kept[0].id
    with db.reading() as session:
        assert session.scalar(select(func.count()).select_from(DomainEventRow)) == 1


def test_racing_orders_are_read_without_a_skip(db):
    """16 threads commit 160 orders while a reader pages through the feed: what the reader
    collected, cursor after cursor, is exactly the final feed."""
    publish_retail(db)
    cache = ProgramCache()
    done = threading.Event()
    seen: list[outbox.Published] = []

    def reader() -> None:
        cursor = 0
        while True:
            finished = done.is_set()
            with db.reading() as session:
                page = outbox.read_after(session, "retail", cursor, 7)
            seen.extend(page)
            if page:
                cursor = page[-1].position
            elif finished:
                return

    thread = threading.Thread(target=reader)
    thread.start()
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda i: orders.commit(db, cache, "retail", order(
            f"O-{i}", member=f"M-{i % 40}", amount=f"{50 + i}.00")), range(160)))
    done.set()
    thread.join()
    final = feed(db)
    assert len(final) >= 160
    assert [p.position for p in final] == list(range(1, len(final) + 1))
    assert [p.event.id for p in seen] == [p.event.id for p in final]


def test_positions_follow_commit_order_not_publish_order(db):
    """Eight transactions publish an event each, in one order, and commit in the reverse
    one; after each commit a reader pages on from its cursor. Each event's position is
    its commit's rank, and the reader gets every one. (PostgreSQL: SQLite lets only one
    write transaction be open at a time, so it cannot interleave them.)"""
    if db.is_sqlite:
        pytest.skip("SQLite serializes write transactions: no interleaving to order")
    n = 8
    inserted = [threading.Event() for _ in range(n)]
    turn = [threading.Event() for _ in range(n)]
    committed = [threading.Event() for _ in range(n)]
    ids: list[str] = [""] * n

    def writer(i: int) -> None:
        try:
            with db.writing() as session:
                session.execute(select(func.count()).select_from(DomainEventRow))  # begun
                ids[i] = outbox.publish(session, [manual(f"W-{i}", i + 1)])[0].id
                inserted[i].set()
                assert turn[i].wait(30)
        finally:  # a failure is raised by its future below
            inserted[i].set()
            committed[i].set()

    pool = ThreadPoolExecutor(max_workers=n)
    futures = []
    for i in range(n):
        futures.append(pool.submit(writer, i))
        assert inserted[i].wait(30)  # writer i published before writer i+1
    cursor, seen = 0, []
    for rank, i in enumerate(reversed(range(n)), start=1):
        assert feed(db, cursor=cursor) == [] or rank > 1
        turn[i].set()
        assert committed[i].wait(30)
        page = feed(db, cursor=cursor)
        assert [(p.position, p.event.id) for p in page] == [(rank, ids[i])]
        cursor = page[-1].position
        seen.extend(page)
    for future in futures:
        future.result()
    pool.shutdown()
    assert [p.event.id for p in seen] == [ids[i] for i in reversed(range(n))]
