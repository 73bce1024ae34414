"""A hypothesis state machine over companies' orders: placing, approving, rejecting,
expiring, cancelling (whole or by line), shipping and delivering, restocking and
adjusting, and sending what is owed, in any order. After every step:

- stock adds up, per reward: available = initial + restocked + adjusted − reserved −
  shipped, where `reserved` is what items still hold and `shipped` what left; nothing is
  ever below zero;
- points add up: the account's balance plus the credits still owed to it = its opening
  balance − what debited orders cost + what their cancelled items credit back; the
  balance is never negative; every debited order was debited exactly once;
- an open order's status is what its items' statuses say.

Runs against the points API on loopback, on SQLite and on PostgreSQL (CI). No shrinking
phase: a failure prints its whole sequence of steps at once (shrinking one took minutes)."""

from __future__ import annotations

from datetime import timedelta

import hypothesis.strategies as st
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

import store.b2b_orders.cancel as cancelling
import store.b2b_orders.items as order_items
import store.b2b_orders.place as placing
import store.clock as clock
import store.external.transfers as external_transfers
import store.inventory.stock as inventory
from store.b2b_orders.model import OPEN_ORDERS, rollup
from store.errors import StoreError
from store.registry.programs import ProgramCache
from store.tables.b2b_orders import B2BOrderItemRow, B2BOrderRow
from store.tables.operations import ExternalTransferRow
from tests.store.b2b_helpers import PROGRAM, make_company, publish_b2b
from tests.store.b2b_order_support import debits, points_api
from tests.store.db_support import wipe

BAG, COFFEE, GIFT = "PHYS-LAPTOP-BAG", "PHYS-COFFEE-MACHINE", "VIRT-GIFT-CARD-100"
INITIAL = {BAG: 300, COFFEE: 25}
OPENING = 400_000
SETTINGS = settings(max_examples=30, stateful_step_count=30, phases=[Phase.explicit, Phase.reuse, Phase.generate], deadline=None,
                    suppress_health_check=list(HealthCheck), database=None)
PICKS = st.lists(st.tuples(st.sampled_from([BAG, COFFEE, GIFT]), st.integers(1, 6)),
                 min_size=1, max_size=3, unique_by=lambda pick: pick[0])


def machine(db, points, server_clock) -> type[RuleBasedStateMachine]:
    class Orders(RuleBasedStateMachine):
        placed = Bundle("orders")

        def __init__(self) -> None:
            super().__init__()
            wipe(db)
            publish_b2b(db)
            api = points.points
            api.balances, api.applied, api.log = {"ACC-ACME": OPENING}, {}, []
            self.cache = ProgramCache()
            self.company = make_company(db, threshold=60_000)
            self.added = {BAG: 0, COFFEE: 0}

        def program(self):  # type: ignore[no-untyped-def]
            with db.reading() as session:
                return self.cache.resolve(session, PROGRAM, clock.now())

        def attempt(self, work) -> None:  # type: ignore[no-untyped-def]
            try:
                work()
            except StoreError:
                pass  # refusals are part of the game; the invariants say whether they lied

        @rule(target=placed, picks=PICKS, requester=st.sampled_from(["ann", "cat"]))
        def place(self, picks, requester):  # type: ignore[no-untyped-def]
            request = {"items": [{"reward_id": r, "quantity": q} for r, q in picks]}
            try:
                order = placing.place(db, self.cache, self.company, request,
                                      f"manager:{requester}", 72).result
            except StoreError:
                return multiple()
            return order["order_number"]

        @rule(number=placed, approver=st.sampled_from(["ann", "bob"]))
        def approve(self, number, approver):  # type: ignore[no-untyped-def]
            self.attempt(lambda: placing.approve(db, PROGRAM, "ACME", number,
                                                 f"manager:{approver}"))

        @rule(number=placed)
        def reject(self, number):  # type: ignore[no-untyped-def]
            self.attempt(lambda: placing.reject(db, PROGRAM, "ACME", number, "manager:bob"))

        @rule(number=placed, line=st.one_of(st.none(), st.integers(1, 3)))
        def cancel(self, number, line):  # type: ignore[no-untyped-def]
            self.attempt(lambda: cancelling.cancel(db, PROGRAM, "ACME", number,
                                                   None if line is None else [line],
                                                   "manager:ann"))

        @rule(number=placed, line=st.integers(1, 3),
              step=st.sampled_from(["acknowledged", "shipped", "delivered"]))
        def fulfil(self, number, line, step):  # type: ignore[no-untyped-def]
            detail = {"carrier": "DHL", "tracking": "T1"} if step == "shipped" else {}
            self.attempt(lambda: order_items.advance(db, PROGRAM, number, line, step,
                                                     "operator:olga", **detail))

        @rule(reward=st.sampled_from([BAG, COFFEE]), quantity=st.integers(1, 5))
        def restock(self, reward, quantity):  # type: ignore[no-untyped-def]
            inventory.restock(db, self.program(), reward, quantity, "admin:ada")
            self.added[reward] += quantity

        @rule(reward=st.sampled_from([BAG, COFFEE]),
              delta=st.integers(-30, 5).filter(bool))
        def adjust(self, reward, delta):  # type: ignore[no-untyped-def]
            try:
                inventory.adjust(db, self.program(), reward, delta, "admin:ada", "count")
            except StoreError as refused:
                assert refused.code == "stock_below_zero"
                return
            self.added[reward] += delta

        @rule()
        def time_passes(self) -> None:
            server_clock.now += timedelta(hours=80)
            placing.expire_due(db)

        @rule()
        def send_owed(self) -> None:
            external_transfers.run_job(db)

        @invariant()
        def stock_adds_up(self) -> None:
            listed = {i["reward_id"]: i for i in inventory.listing(db, self.program())["items"]}
            with db.reading() as session:
                lines = session.execute(select(B2BOrderItemRow.reward_id,
                                               B2BOrderItemRow.quantity,
                                               B2BOrderItemRow.stocked,
                                               B2BOrderItemRow.status)).all()
            for reward, start in INITIAL.items():
                held = sum(q for r, q, stocked, _ in lines if r == reward and stocked)
                gone = sum(q for r, q, stocked, status in lines
                           if r == reward and not stocked and status in ("shipped", "delivered"))
                row = listed[reward]
                assert row["available"] >= 0 and row["reserved"] == held, (reward, row, held)
                assert row["available"] == start + self.added[reward] - held - gone, (
                    reward, row, self.added, held, gone)

        @invariant()
        def points_add_up(self) -> None:
            with db.reading() as session:
                orders = list(session.scalars(select(B2BOrderRow)))
                owed = sum(session.scalars(select(ExternalTransferRow.points).where(
                    ExternalTransferRow.status.in_(("pending", "sending")))))
                for order in orders:
                    statuses = [i.status for i in session.scalars(select(B2BOrderItemRow)
                                .where(B2BOrderItemRow.order_pk == order.id))]
                    if order.status in OPEN_ORDERS:
                        assert order.status == rollup(statuses), (order.number, statuses)
            balance = points.points.balances["ACC-ACME"]
            debited = sum(o.total_points for o in orders if o.debited)
            credited = sum(o.points_credited for o in orders)
            assert balance >= 0
            assert balance + owed == OPENING - debited + credited
            keys = [key for _, key, _ in debits(points)]
            assert sorted(keys) == sorted(f"b2b-order:{o.number}" for o in orders if o.debited)

    return Orders


def test_orders_stock_and_points_add_up_in_any_order(db, monkeypatch, server_clock):
    with points_api(monkeypatch, {"ACC-ACME": OPENING}) as points:
        run_state_machine_as_test(machine(db, points, server_clock), settings=SETTINGS)
