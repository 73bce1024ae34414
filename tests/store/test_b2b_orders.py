"""Companies' orders of several items against the external points API on loopback:
all or nothing (stock reserved for every item, one debit, released when the debit
fails), approvals (not by the requester; rejection and expiry release the stock),
cancellation (points owed back, stock returned), the manual queue's steps, and the
order's status following its items."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

import store.b2b_orders.cancel as cancelling
import store.b2b_orders.items as order_items
import store.b2b_orders.job as order_job
import store.b2b_orders.place as placing
import store.clock as clock
import store.events.outbox as outbox
import store.external.transfers as external_transfers
import store.inventory.stock as inventory
from store.errors import Conflict, Forbidden, StoreError, Unavailable
from store.registry.programs import ProgramCache
from store.tables.b2b_orders import B2BOrderRow
from store.tables.core import AuditRow
from store.tables.operations import ExternalTransferRow
from tests.store.b2b_helpers import PROGRAM, make_company, publish_b2b
from tests.store.b2b_order_support import credits, debits, items, points_api, refuse_debits

BAG, COFFEE, GIFT = "PHYS-LAPTOP-BAG", "PHYS-COFFEE-MACHINE", "VIRT-GIFT-CARD-100"


@pytest.fixture
def points(monkeypatch):
    with points_api(monkeypatch, {"ACC-ACME": 2_000_000, "ACC-POOR": 5_000}) as server:
        yield server


@pytest.fixture
def b2b(db, points):
    publish_b2b(db)
    return ProgramCache()


def program(db, cache):
    with db.reading() as session:
        return cache.resolve(session, PROGRAM, clock.now())


def stock(db, cache, reward):
    return next(i for i in inventory.listing(db, program(db, cache))["items"]
                if i["reward_id"] == reward)


def place(db, cache, company, *pairs, actor="manager:ann", key=None):
    request = {"items": items(*pairs), **({"idempotency_key": key} if key else {})}
    return placing.place(db, cache, company, request, actor, 72)


def test_an_order_reserves_every_item_and_debits_the_account_once(db, b2b, points):
    company = make_company(db, tier="enterprise")
    outcome = place(db, b2b, company, (BAG, 2), (GIFT, 1), key="K-1")
    order = outcome.result
    assert outcome.created and re.fullmatch(r"B2B-20\d\d-\d{6}", order["order_number"])
    assert order["status"] == "placed" and order["total_points"] == 2 * 4500 + 10000
    assert [(i["reward_id"], i["route"], i["status"]) for i in order["items"]] == [
        (BAG, "manual", "queued"), (GIFT, "webhook", "pending")]
    assert debits(points) == [("debit", f"b2b-order:{order['order_number']}", 19000)]
    assert points.points.balances["ACC-ACME"] == 2_000_000 - 19000
    assert stock(db, b2b, BAG) == {**stock(db, b2b, BAG), "available": 298, "reserved": 2}
    assert [h["step"] for h in order["history"]] == ["requested", "placed"]
    assert {h["actor"] for h in order["history"]} == {"manager:ann"}
    again = place(db, b2b, company, (BAG, 2), (GIFT, 1), key="K-1")
    assert not again.created and again.result["order_number"] == order["order_number"]
    assert len(debits(points)) == 1
    with pytest.raises(Conflict) as other:
        place(db, b2b, company, (BAG, 1), key="K-1")
    assert other.value.code == "order_conflict"


def test_numbers_are_unique_and_consecutive(db, b2b, points):
    company = make_company(db)
    numbers = [place(db, b2b, company, (BAG, 1)).result["order_number"] for _ in range(3)]
    tails = [int(n.rsplit("-", 1)[1]) for n in numbers]
    assert len(set(numbers)) == 3 and tails == [tails[0], tails[0] + 1, tails[0] + 2]


def test_one_item_short_of_stock_reserves_nothing_and_debits_nothing(db, b2b, points):
    company = make_company(db)
    with pytest.raises(Conflict) as short:
        place(db, b2b, company, (BAG, 3), (COFFEE, 26))
    assert short.value.code == "OUT_OF_STOCK" and short.value.pointer == "/items/1/quantity"
    assert stock(db, b2b, BAG)["available"] == 300 and stock(db, b2b, BAG)["reserved"] == 0
    assert debits(points) == []
    with db.reading() as session:
        assert session.scalars(select(B2BOrderRow)).all() == []


def test_the_engine_refuses_items_outside_the_company_tier(db, b2b, points):
    company = make_company(db, tier="standard")
    with pytest.raises(StoreError) as refused:
        place(db, b2b, company, (BAG, 1), (COFFEE, 1))
    assert refused.value.status == 422 and refused.value.code == "TIER_RESTRICTED"
    assert debits(points) == []


def test_a_debit_refused_after_the_reservations_releases_them(db, b2b, points):
    company = make_company(db)
    refuse_debits(points)  # the balance read says yes; the debit says no
    with pytest.raises(StoreError) as refused:
        place(db, b2b, company, (BAG, 2), (COFFEE, 1))
    assert refused.value.status == 409 and refused.value.code == "INSUFFICIENT_POINTS"
    for reward, left in ((BAG, 300), (COFFEE, 25)):
        assert (stock(db, b2b, reward)["available"], stock(db, b2b, reward)["reserved"]) == \
            (left, 0)
    with db.reading() as session:
        order = session.scalars(select(B2BOrderRow)).one()
        assert (order.status, order.reason, order.debited) == ("failed", "INSUFFICIENT_POINTS",
                                                               False)


def test_a_debit_without_answer_fails_the_order_and_is_credited_back_later(db, b2b, points):
    company = make_company(db)
    points.handle, api = (lambda request: (503, {}) if request.path == "/debit"
                          else points.points(request)), points.points
    with pytest.raises(Unavailable):
        place(db, b2b, company, (BAG, 1))
    assert stock(db, b2b, BAG)["available"] == 300
    points.handle = api
    external_transfers.run_job(db)  # settles the unknown debit: applied once, credited back
    assert api.balances["ACC-ACME"] == 2_000_000


def test_above_the_threshold_an_approver_other_than_the_requester_approves(db, b2b, points):
    company = make_company(db, threshold=10_000)
    order = place(db, b2b, company, (BAG, 3)).result
    number = order["order_number"]
    assert order["status"] == "pending_approval" and debits(points) == []
    assert {i["status"] for i in order["items"]} == {"awaiting_approval"}
    assert stock(db, b2b, BAG)["reserved"] == 3
    with pytest.raises(Forbidden) as own:
        placing.approve(db, PROGRAM, "ACME", number, "manager:ann")
    assert own.value.code == "approver_is_requester"
    with pytest.raises(StoreError) as elsewhere:
        placing.approve(db, PROGRAM, "OTHER", number, "manager:bob")
    assert elsewhere.value.status == 404
    approved = placing.approve(db, PROGRAM, "ACME", number, "manager:bob")
    assert approved["status"] == "placed" and approved["approved_by"] == "manager:bob"
    assert debits(points) == [("debit", f"b2b-order:{number}", 13500)]
    with pytest.raises(Conflict):
        placing.approve(db, PROGRAM, "ACME", number, "manager:bob")
    assert [(h["step"], h["actor"]) for h in approved["history"]] == [
        ("requested", "manager:ann"), ("awaiting_approval", "manager:ann"),
        ("approved", "manager:bob"), ("placed", "manager:bob")]


def test_rejection_and_expiry_release_the_stock(db, b2b, points, server_clock):
    company = make_company(db, threshold=0)
    first = place(db, b2b, company, (BAG, 5)).result["order_number"]
    second = place(db, b2b, company, (BAG, 7)).result["order_number"]
    assert stock(db, b2b, BAG)["reserved"] == 12
    rejected = placing.reject(db, PROGRAM, "ACME", first, "manager:bob", "not this quarter")
    assert (rejected["status"], rejected["reason"]) == ("cancelled", "rejected")
    assert stock(db, b2b, BAG)["reserved"] == 7
    server_clock.now += timedelta(hours=73)
    assert order_job.run(db)["expired"] == 1
    with db.reading() as session:
        order = session.scalar(select(B2BOrderRow).where(B2BOrderRow.number == second))
        assert (order.status, order.reason) == ("cancelled", "expired")
    assert (stock(db, b2b, BAG)["available"], stock(db, b2b, BAG)["reserved"]) == (300, 0)
    assert debits(points) == []


def test_cancelling_items_not_yet_shipped_credits_them_and_returns_stock(db, b2b, points):
    company = make_company(db)
    order = place(db, b2b, company, (BAG, 2), (COFFEE, 1), (GIFT, 1)).result
    number = order["order_number"]
    order_items.advance(db, PROGRAM, number, 1, "shipped", "operator:olga", carrier="DHL",
                        tracking="JD0001")
    assert (stock(db, b2b, BAG)["available"], stock(db, b2b, BAG)["reserved"]) == (298, 0)
    with pytest.raises(Conflict) as shipped:
        cancelling.cancel(db, PROGRAM, "ACME", number, [1], "manager:ann")
    assert shipped.value.code == "item_not_cancellable"
    outcome = cancelling.cancel(db, PROGRAM, "ACME", number, [2], "manager:ann", "too big")
    assert outcome.result["status"] == "placed" and outcome.result["points_credited"] == 60000
    assert stock(db, b2b, COFFEE) == {**stock(db, b2b, COFFEE), "available": 25, "reserved": 0}
    whole = cancelling.cancel(db, PROGRAM, "ACME", number, None, "manager:ann").result
    assert [i["status"] for i in whole["items"]] == ["shipped", "cancelled", "cancelled"]
    assert whole["points_credited"] == 70000
    with db.reading() as session:
        owed = session.scalars(select(ExternalTransferRow.idempotency_key)).all()
    assert sorted(owed) == [f"b2b-order:{number}:cancel:2", f"b2b-order:{number}:cancel:3"]
    external_transfers.run_job(db)
    external_transfers.run_job(db)
    assert sorted(p for _, _, p in credits(points)) == [10000, 60000]
    assert points.points.balances["ACC-ACME"] == 2_000_000 - 9000


def test_manual_steps_move_the_item_and_the_order_follows(db, b2b, points):
    company = make_company(db)
    number = place(db, b2b, company, (BAG, 1), (COFFEE, 1)).result["order_number"]
    step = order_items.advance
    assert step(db, PROGRAM, number, 1, "acknowledged", "operator:olga")[1]
    assert not step(db, PROGRAM, number, 1, "acknowledged", "operator:olga")[1]
    with pytest.raises(Conflict) as early:
        step(db, PROGRAM, number, 1, "delivered", "operator:olga")
    assert early.value.code == "invalid_transition"
    step(db, PROGRAM, number, 1, "shipped", "operator:olga", carrier="UPS", tracking="1Z")
    order, _ = step(db, PROGRAM, number, 1, "delivered", "operator:olga")
    assert order["status"] == "partially_fulfilled"
    assert order["items"][0] | {"carrier": "UPS", "tracking": "1Z"} == order["items"][0]
    step(db, PROGRAM, number, 2, "shipped", "operator:olga", carrier="UPS", tracking="2Z")
    order, _ = step(db, PROGRAM, number, 2, "delivered", "operator:olga")
    assert order["status"] == "fulfilled"
    queue = order_items.queue(db, PROGRAM, "delivered", "manual", None, 10)
    assert [i["line"] for i in queue["items"]] == [1, 2]


def test_restock_adjust_and_low_stock_are_audited(db, b2b, points):
    prog = program(db, b2b)
    inventory.set_low_stock(db, prog, COFFEE, 20, "admin:ada")
    inventory.adjust(db, prog, COFFEE, -4, "admin:ada", "two broken, two missing")
    company = make_company(db)
    place(db, b2b, company, (COFFEE, 2))  # 21 → 19: crosses the threshold
    place(db, b2b, company, (COFFEE, 1))  # stays below: no second event
    inventory.restock(db, prog, COFFEE, 10, "admin:ada", "delivery 42")
    assert (stock(db, b2b, COFFEE)["available"], stock(db, b2b, COFFEE)["reserved"]) == (28, 3)
    kinds = [c["kind"] for c in inventory.changes(db, PROGRAM, COFFEE, None, 50)["changes"]]
    assert kinds == ["restock", "reserve", "reserve", "adjust", "threshold", "seed"]
    with db.reading() as session:
        actions = [(a.action, a.detail.get("available")) for a in session.scalars(
            select(AuditRow).where(AuditRow.program == PROGRAM).order_by(AuditRow.id))]
    assert ("inventory.low_stock", 19) in actions
    assert [a for a, _ in actions if a.startswith("inventory.")] == [
        "inventory.threshold", "inventory.adjust", "inventory.low_stock", "inventory.restock"]
    with db.reading() as session:  # and one domain event, for the feed and webhooks
        low = [p.event for p in outbox.read_after(session, PROGRAM, 0, 500)
               if p.event.type == "inventory.low_stock"]
    assert [(e.member_id, e.ruleset_version, e.payload["reward_id"], e.payload["available"],
             e.payload["threshold"]) for e in low] == [("", 0, COFFEE, 19, 20)]
    assert low[0].payload["order_number"] and low[0].payload["actor"].startswith("manager:")
    with pytest.raises(Conflict) as below:
        inventory.adjust(db, prog, COFFEE, -29, "admin:ada", "count")
    assert below.value.code == "stock_below_zero"
    with pytest.raises(Conflict) as unlimited:
        inventory.restock(db, prog, GIFT, 5, "admin:ada")
    assert unlimited.value.code == "reward_not_stocked"


class WorkerDied(BaseException):
    """Stands for the process ending between the debit and the order's own record."""


def test_orders_a_dead_worker_left_placing_are_settled_from_the_journal(
        db, b2b, points, server_clock, monkeypatch):
    company = make_company(db)
    monkeypatch.setattr(placing, "confirm", lambda *args: (_ for _ in ()).throw(WorkerDied()))
    with pytest.raises(WorkerDied):
        place(db, b2b, company, (BAG, 1))  # debited, then the worker died
    monkeypatch.setattr(placing, "debit", lambda *args: (_ for _ in ()).throw(WorkerDied()))
    with pytest.raises(WorkerDied):
        place(db, b2b, company, (COFFEE, 1))  # reserved, died before the debit
    monkeypatch.undo()
    assert order_job.settle_placing(db) == {"placed": 0, "failed": 0}  # too recent
    server_clock.now += timedelta(minutes=10)
    assert order_job.run(db)["settled"] == {"placed": 1, "failed": 1}
    with db.reading() as session:
        orders = {o.total_points: (o.status, o.debited) for o in session.scalars(
            select(B2BOrderRow))}
    assert orders == {4500: ("placed", True), 60000: ("failed", False)}
    assert stock(db, b2b, COFFEE)["reserved"] == 0 and stock(db, b2b, BAG)["reserved"] == 1
    assert [p for _, _, p in debits(points)] == [4500]


def test_two_approvers_at_once_debit_once(db, b2b, points):
    company = make_company(db, threshold=0)
    number = place(db, b2b, company, (BAG, 1)).result["order_number"]
    gate = threading.Barrier(4)

    def approve(n):
        gate.wait()
        try:
            return placing.approve(db, PROGRAM, "ACME", number, f"manager:a{n}")["status"]
        except StoreError as exc:
            return exc.code

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(approve, range(4)))
    assert outcomes == ["order_not_pending"] * 3 + ["placed"]
    assert len(debits(points)) == 1
