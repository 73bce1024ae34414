"""Managers of one company ordering the last units and the last points at once: no
oversell (the stock row lock lets one reservation take the last unit), no overdraft (the
external API refuses the debit the balance cannot pay, and that order's reservations are
released). Runs on PostgreSQL in CI (row locks) and on SQLite locally (serialized
writers)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

import store.b2b_orders.place as placing
import store.clock as clock
import store.inventory.stock as inventory
from store.errors import StoreError
from store.registry.programs import ProgramCache
from store.tables.b2b_orders import B2BOrderRow
from tests.store.b2b_helpers import PROGRAM, make_company, publish_b2b
from tests.store.b2b_order_support import debits, items, points_api

COFFEE, GIFT = "PHYS-COFFEE-MACHINE", "VIRT-GIFT-CARD-100"
RACERS = 6


def race(db, cache, company, pairs, rounds=1):
    """RACERS managers place the same order at the same instant; (placed, refusal codes)."""
    gate = threading.Barrier(RACERS)

    def one(n):
        gate.wait()
        try:
            placing.place(db, cache, company, {"items": items(*pairs)}, f"manager:m{n}", 72)
            return "placed"
        except StoreError as exc:
            return exc.code

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(one, range(RACERS)))
    return outcomes.count("placed"), sorted(o for o in outcomes if o != "placed")


@pytest.fixture
def cache(db):
    publish_b2b(db)
    return ProgramCache()


def test_the_last_unit_goes_to_one_order(db, cache, monkeypatch):
    with points_api(monkeypatch, {"ACC-ACME": 10**9}) as points:
        with db.reading() as session:
            program = cache.resolve(session, PROGRAM, clock.now())
        inventory.adjust(db, program, COFFEE, -24, "admin:ada", "one left")
        placed, refused = race(db, cache, make_company(db), [(COFFEE, 1)])
        assert placed == 1 and set(refused) == {"OUT_OF_STOCK"}
        row = next(i for i in inventory.listing(db, program)["items"] if i["reward_id"] == COFFEE)
        assert (row["available"], row["reserved"]) == (0, 1)
        assert len(debits(points)) == 1


def test_the_last_points_pay_one_order(db, cache, monkeypatch):
    with points_api(monkeypatch, {"ACC-ACME": 10_000}) as points:
        placed, refused = race(db, cache, make_company(db), [(GIFT, 1)])
        assert placed == 1 and set(refused) == {"INSUFFICIENT_POINTS"}
        assert points.points.balances["ACC-ACME"] == 0
        assert len(debits(points)) == 1


def test_the_last_unit_and_the_last_points_at_once(db, cache, monkeypatch):
    """Each order wants the last coffee machine and a gift card; the account pays one."""
    with points_api(monkeypatch, {"ACC-ACME": 70_000}) as points:
        with db.reading() as session:
            program = cache.resolve(session, PROGRAM, clock.now())
        inventory.adjust(db, program, COFFEE, -24, "admin:ada", "one left")
        placed, refused = race(db, cache, make_company(db), [(COFFEE, 1), (GIFT, 1)])
        assert placed == 1 and set(refused) <= {"OUT_OF_STOCK", "INSUFFICIENT_POINTS"}
        assert points.points.balances["ACC-ACME"] == 0 and len(debits(points)) == 1
        row = next(i for i in inventory.listing(db, program)["items"] if i["reward_id"] == COFFEE)
        assert (row["available"], row["reserved"]) == (0, 1)
        with db.reading() as session:
            statuses = sorted(session.scalars(select(B2BOrderRow.status)))
        assert statuses.count("placed") == 1 and set(statuses) <= {"placed", "failed"}
