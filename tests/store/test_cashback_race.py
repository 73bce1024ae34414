"""Cashback payouts racing refunds and each other (on PostgreSQL with CI=true): no entry
is paid twice, every payout pays each member a positive amount, and the program's books
keep `issued - reversed = paid + balance`."""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from sqlalchemy import select

import store.checkout.orders as orders
import store.checkout.refunds as refunds
import store.ledger.cashback as cashback
from store.registry.programs import ProgramCache
from store.tables.money import CashbackEntryRow
from tests.api.test_auto_redemption import publish_card
from tests.store.helpers import assert_ledger_exact

MEMBERS = 6


def _order(n: int) -> dict[str, object]:
    return {"member": {"id": f"CARD-{n % MEMBERS}"}, "order": {
        "id": f"O-{n}", "placed_at": "2026-11-17T12:00:00-06:00", "lines": [
            {"sku": "X", "category": "home", "quantity": 1, "unit_price": "1000.00"}]}}


def test_payouts_racing_refunds_pay_every_entry_once_and_the_books_balance(db):
    publish_card(db)
    cache = ProgramCache()
    for n in range(MEMBERS * 3):
        orders.commit(db, cache, "card-rewards", _order(n))

    def work(n: int) -> object:
        if n % 3 == 0:
            return cashback.payout(db, ["card-rewards"])
        return refunds.refund(db, cache, "card-rewards", f"O-{n // 3 * 3 % (MEMBERS * 3)}",
                              {"refund_id": f"R-{n}", "amount": "100.00"})

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(work, range(36)))
    runs = [r for r in results if isinstance(r, dict)]
    final = cashback.payout(db, ["card-rewards"])
    with db.reading() as session:
        rows = list(session.scalars(select(CashbackEntryRow)))
        books = cashback.program_totals(session, "card-rewards")
    by_run: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for row in rows:
        if row.payout_ref is not None:
            by_run[(row.payout_ref, row.member_pk)] += row.amount
    assert all(amount > 0 for amount in by_run.values()), by_run
    paid = sum((Decimal(t["amount"]) for r in [*runs, final]
                for t in r["programs"].values()), Decimal(0))
    assert paid == books.paid == sum((r.amount for r in rows if r.paid_at), Decimal(0))
    assert books.issued - books.reversed == books.paid + books.outstanding
    assert books.issued == Decimal("10.00") * MEMBERS * 3
    assert books.reversed == Decimal("1.00") * 24  # 24 refunds of a tenth
    assert_ledger_exact(db)
