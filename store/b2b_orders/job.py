"""The `b2b_orders` job: orders past their approval time are cancelled (stock
released), due virtual items are sent to the fulfilment API, and orders left in
`placing` by a worker that died between the debit and the order's own record are
settled from the debit's journal. Safe in several workers at once: every order is moved
under its row lock from the status it was seen in; items are claimed with a lease."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

import store.b2b_orders.items as items
import store.b2b_orders.place as place
import store.clock as clock
from store.db.database import Database
from store.errors import StoreError
from store.redemptions.fulfilment import FulfilmentSettings
from store.tables.b2b_orders import B2BOrderRow
from store.tables.operations import ExternalDebitRow

SETTLE_AFTER_SECONDS = 300.0  # longer than a debit's own retries take


def settle_placing(db: Database, older_than: float = SETTLE_AFTER_SECONDS) -> dict[str, int]:
    """Orders stuck in `placing`: placed when their debit went through (the journal says
    debited or committed), failed with their stock released when it did not (rejected,
    compensated, never journaled); left alone while the journal's own reconciliation
    is still settling the debit."""
    cutoff = clock.now() - timedelta(seconds=older_than)
    with db.reading() as session:
        stuck = session.execute(select(B2BOrderRow.id, B2BOrderRow.program, B2BOrderRow.number)
                                .where(B2BOrderRow.status == "placing",
                                       B2BOrderRow.updated_at <= cutoff)).all()
    done = {"placed": 0, "failed": 0}
    for order_pk, program, number in stuck:
        key = place.DEBIT_PREFIX + number
        with db.reading() as session:
            journal = session.scalar(select(ExternalDebitRow.status).where(
                ExternalDebitRow.program == program, ExternalDebitRow.idempotency_key == key))
        if journal in ("debited", "committed"):
            try:
                place.confirm(db, order_pk, "jobs")
            except StoreError:  # moved meanwhile
                continue
            with db.writing() as session:
                session.execute(update(ExternalDebitRow).where(
                    ExternalDebitRow.program == program, ExternalDebitRow.idempotency_key == key,
                    ExternalDebitRow.status == "debited").values(status="committed"))
            done["placed"] += 1
        elif journal in (None, "rejected", "compensated"):
            place.fail(db, order_pk, "jobs", "placing_interrupted")
            done["failed"] += 1
    return done


def run(db: Database) -> dict[str, Any]:
    return {"expired": place.expire_due(db), "settled": settle_placing(db),
            "fulfilment": items.dispatch(db, FulfilmentSettings())}  # type: ignore[call-arg]
