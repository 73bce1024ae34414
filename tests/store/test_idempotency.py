"""Idempotent.run's race path, on the real tables: a write that lost the race
for its key (the unique constraint refused its row) answers as a retry of the winner."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from store.checkout.orders import commit
from store.errors import Conflict
from store.idempotency import Idempotent, Outcome
from store.ledger.books import find_order
from store.registry.programs import ProgramCache
from store.tables.core import OrderRow
from tests.store.helpers import order, publish_retail


@pytest.fixture
def winner(db):
    """O-1 committed: the row a racing commit of O-1 collides with."""
    publish_retail(db, 1)
    outcome = commit(db, ProgramCache(), "retail", order("O-1"))
    with db.reading() as session:
        row = find_order(session, "retail", "O-1")
        assert row is not None
        return outcome, row


def once_for(order_id: str, digest: str) -> Idempotent[OrderRow]:
    return Idempotent(lambda session: find_order(session, "retail", order_id), digest,
                      "order_conflict", f"order {order_id!r} clashes", "/order/id")


def losing_write(db, row: OrderRow):
    """A commit that checked for O-1 before the winner's row landed: it inserts O-1 too."""
    def write() -> Outcome:
        columns = {c.key: getattr(row, c.key) for c in OrderRow.__table__.columns
                   if c.key != "id"}
        with db.writing() as session:
            session.add(OrderRow(**columns))
            session.flush()
        raise AssertionError("the unique (program, order_id) constraint let a second O-1 in")
    return write


def test_the_loser_of_a_race_with_the_same_body_replays_the_winner(db, winner):
    first, row = winner
    outcome = once_for("O-1", row.request_hash).run(db, losing_write(db, row))
    assert outcome == Outcome(first.result, created=False)


def test_the_loser_of_a_race_with_another_body_is_a_conflict_at_the_key(db, winner):
    _, row = winner
    with pytest.raises(Conflict) as err:
        once_for("O-1", "another body").run(db, losing_write(db, row))
    assert (err.value.code, err.value.pointer) == ("order_conflict", "/order/id")


def test_an_integrity_error_of_no_earlier_request_is_raised_as_it_came(db, winner):
    _, row = winner
    with pytest.raises(IntegrityError):
        once_for("O-404", row.request_hash).run(db, losing_write(db, row))
