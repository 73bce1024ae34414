"""Race windows of companies' orders beyond the last units and points: cancelling one
order twice at once, approving while cancelling, a delivery step while cancelling the
item, and the expiry job while approving. Whatever wins, the points and the stock add up
and nothing is credited twice. On PostgreSQL in CI (row locks), on SQLite locally
(serialized writers)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

import store.b2b.companies as companies
import store.b2b_orders.cancel as cancelling
import store.b2b_orders.items as order_items
import store.b2b_orders.place as placing
import store.clock as clock
import store.external.transfers as external_transfers
import store.inventory.stock as inventory
from store.errors import Conflict, StoreError
from store.registry.programs import ProgramCache
from store.tables.operations import ExternalTransferRow
from tests.store.b2b_helpers import PROGRAM, make_company, publish_b2b
from tests.store.b2b_order_support import credits, debits, items, points_api

BAG, COFFEE = "PHYS-LAPTOP-BAG", "PHYS-COFFEE-MACHINE"
START = 2_000_000


@pytest.fixture
def points(monkeypatch):
    with points_api(monkeypatch, {"ACC-ACME": START}) as server:
        yield server


@pytest.fixture
def cache(db, points):
    publish_b2b(db)
    return ProgramCache()


def at_once(*actions: Callable[[], Any]) -> list[Any]:
    """Run every action at the same instant; each answers its result or its error code."""
    gate = threading.Barrier(len(actions))

    def one(action: Callable[[], Any]) -> Any:
        gate.wait()
        try:
            return action()
        except StoreError as exc:
            return exc.code

    with ThreadPoolExecutor(len(actions)) as pool:
        return list(pool.map(one, actions))


def stock(db, cache, reward):
    with db.reading() as session:
        program = cache.resolve(session, PROGRAM, clock.now())
    found = next(i for i in inventory.listing(db, program)["items"] if i["reward_id"] == reward)
    return found["available"], found["reserved"]


def place(db, cache, company, *pairs, actor="manager:ann"):
    return placing.place(db, cache, company, {"items": items(*pairs)}, actor, 72).result


def owed(db) -> list[tuple[str, int]]:
    with db.reading() as session:
        rows = session.execute(select(ExternalTransferRow.idempotency_key,
                                      ExternalTransferRow.points)).all()
    return sorted((key, points) for key, points in rows)


def balance(points) -> int:
    return points.points.balances["ACC-ACME"]


def test_one_order_cancelled_four_times_at_once_is_credited_once(db, cache, points):
    company = make_company(db)
    before = stock(db, cache, BAG)
    number = place(db, cache, company, (BAG, 2), (COFFEE, 1))["order_number"]

    def cancel() -> str:
        outcome = cancelling.cancel(db, PROGRAM, "ACME", number, None, "manager:ann")
        return "created" if outcome.created else "replayed"

    assert sorted(at_once(*[cancel] * 4)) == ["created"] + ["replayed"] * 3
    assert owed(db) == [(f"b2b-order:{number}:cancel:1", 9000),
                        (f"b2b-order:{number}:cancel:2", 60000)]
    external_transfers.run_job(db)
    external_transfers.run_job(db)
    assert sorted(p for _, _, p in credits(points)) == [9000, 60000]
    assert balance(points) == START and stock(db, cache, BAG) == before


def test_the_same_line_cancelled_at_once_is_credited_once(db, cache, points):
    company = make_company(db)
    number = place(db, cache, company, (BAG, 1), (COFFEE, 1))["order_number"]

    def cancel() -> str:
        return cancelling.cancel(db, PROGRAM, "ACME", number, [2], "manager:ann"
                                 ).result["status"]

    assert sorted(at_once(*[cancel] * 3)) == ["item_not_cancellable"] * 2 + ["placed"]
    assert owed(db) == [(f"b2b-order:{number}:cancel:2", 60000)]


def test_approving_while_cancelling_either_debits_or_releases(db, cache, points):
    company = make_company(db, threshold=0)
    for _ in range(3):
        before = stock(db, cache, COFFEE)
        number = place(db, cache, company, (COFFEE, 1))["order_number"]
        approve, cancel = at_once(
            lambda n=number: placing.approve(db, PROGRAM, "ACME", n, "manager:bob")["status"],
            lambda n=number: cancelling.cancel(db, PROGRAM, "ACME", n, None, "manager:ann"
                                               ).result["status"])
        # the cancel comes while the approval is placing the order (debiting the account):
        # refused; or once it is placed: cancelled and credited; or first: the approval
        # finds nothing pending
        assert (approve, cancel) in (("placed", "order_not_cancellable"),
                                     ("placed", "cancelled"),
                                     ("order_not_pending", "cancelled"))
        if approve == "placed":  # then the order may still be cancelled, and credited
            cancelling.cancel(db, PROGRAM, "ACME", number, None, "manager:ann")
        assert stock(db, cache, COFFEE) == before
    external_transfers.run_job(db)
    assert balance(points) == START
    assert sum(p for _, _, p in debits(points)) == sum(p for _, _, p in credits(points))


def test_a_delivery_step_while_cancelling_the_item_is_one_or_the_other(db, cache, points):
    company = make_company(db)
    number = place(db, cache, company, (BAG, 1), (COFFEE, 1))["order_number"]
    before = stock(db, cache, COFFEE)
    ship, cancel = at_once(
        lambda: order_items.advance(db, PROGRAM, number, 2, "shipped", "callback:x",
                                    carrier="DHL", tracking="T1")[0]["status"],
        lambda: cancelling.cancel(db, PROGRAM, "ACME", number, [2], "manager:ann"
                                  ).result["status"])
    assert (ship, cancel) in (("placed", "item_not_cancellable"),
                              ("invalid_transition", "placed"))
    if ship == "placed":  # shipped: its reservation was used, nothing is owed back
        assert owed(db) == [] and stock(db, cache, COFFEE) == (before[0], before[1] - 1)
    else:  # cancelled: its points owed back once, its unit available again
        assert owed(db) == [(f"b2b-order:{number}:cancel:2", 60000)]
        assert stock(db, cache, COFFEE) == (before[0] + 1, before[1] - 1)


def test_the_expiry_job_while_approving_never_debits_an_expired_order(
        db, cache, points, server_clock):
    company = make_company(db, threshold=0)
    before = stock(db, cache, COFFEE)
    number = place(db, cache, company, (COFFEE, 1))["order_number"]
    server_clock.now += timedelta(hours=73)
    approve, expired = at_once(
        lambda: placing.approve(db, PROGRAM, "ACME", number, "manager:bob")["status"],
        lambda: placing.expire_due(db))
    assert (approve, expired) in (("order_expired", 0), ("order_not_pending", 1))
    assert debits(points) == [] and stock(db, cache, COFFEE) == before


def test_an_order_of_a_company_deactivated_meanwhile_is_not_approved(db, cache, points):
    """A worker may still hold an approver's verified key for a few seconds after the
    company was deactivated: the approval itself checks the company."""
    company = make_company(db, threshold=0)
    number = place(db, cache, company, (COFFEE, 1))["order_number"]
    with db.writing() as session:
        companies.deactivate(session, PROGRAM, "ACME", actor="tests")
    with pytest.raises(Conflict) as refused:
        placing.approve(db, PROGRAM, "ACME", number, "manager:bob")
    assert refused.value.code == "company_inactive" and debits(points) == []
