"""Hypothesis stateful test of the ledger: commits, redemptions, cancels, refunds and
expiry in any order keep every balance equal to the sum of its ledger and never below
zero, and the lots' remaining points equal the balance."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from store import expiry, orders, redemptions, refunds
from store.errors import StoreError
from store.programs import ProgramCache
from tests.store.db_support import wipe
from tests.store.helpers import assert_ledger_exact, order, publish_retail

START = datetime.fromisoformat("2026-11-17T10:00:00-05:00")
MEMBERS = st.sampled_from(["A", "B"])


def test_ledger_invariants_hold_in_any_order(db):
    class Ledger(RuleBasedStateMachine):
        placed = Bundle("orders")
        redeemed = Bundle("redemptions")

        def __init__(self) -> None:
            super().__init__()
            wipe(db)
            publish_retail(db, 1)
            self.cache = ProgramCache()
            self.now = START
            self.n = 0

        def tick(self, days: int = 1) -> str:
            self.now += timedelta(days=days)
            return self.now.isoformat()

        @rule(target=placed, member=MEMBERS, amount=st.integers(1, 2000))
        def earn(self, member: str, amount: int) -> str:
            self.n += 1
            order_id = f"O-{self.n}"
            orders.commit(db, self.cache, "retail",
                          order(order_id, member=member, amount=f"{amount}.00",
                                placed_at=self.tick()))
            return order_id

        @rule(target=redeemed, member=MEMBERS, points=st.integers(400, 4000),
              reward=st.booleans())
        def redeem(self, member: str, points: int, reward: bool) -> str:
            body = {"member_id": member, "as_of": self.tick(0)}
            body.update({"reward_id": "REWARD-101"} if reward else {"points": points})
            try:
                return redemptions.redeem(db, self.cache, "retail", body).result["id"]
            except StoreError:
                return "0"

        @rule(redemption=redeemed)
        def cancel(self, redemption: str) -> None:
            try:
                redemptions.cancel(db, "retail", redemption, {"cancelled_at": self.tick(0)})
            except StoreError:
                pass

        @rule(order_id=placed)
        def refund(self, order_id: str) -> None:
            self.n += 1
            try:
                refunds.refund(db, self.cache, "retail", order_id,
                               {"refund_id": f"R-{self.n}", "refunded_at": self.tick(0)})
            except StoreError:
                pass

        @rule(days=st.integers(1, 900))
        def expire(self, days: int) -> None:
            expiry.expire(db, "retail", datetime.fromisoformat(self.tick(days)), batch_size=1)

        @invariant()
        def balances_are_the_ledger(self) -> None:
            assert_ledger_exact(db)

    run_state_machine_as_test(Ledger, settings=settings(
        max_examples=25, stateful_step_count=12, deadline=None,
        suppress_health_check=list(HealthCheck), phases=[Phase.generate]))
