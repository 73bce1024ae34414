"""How a commit writes: on PostgreSQL the member's row and the order's row go in one
statement (store/ledger/members.py `update_with_insert`), and what is stored is what the
ORM would have written (the member row and the order read back)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select

from store.checkout.orders import commit
from store.db.database import Database
from store.registry.programs import ProgramCache
from store.tables.core import MemberRow, OrderRow
from tests.store.helpers import assert_ledger_exact, order, publish_retail


def _statements(db: Database, run: Any) -> list[str]:
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


def test_a_commit_stores_the_member_and_the_order(db: Database) -> None:
    publish_retail(db)
    cache = ProgramCache()
    commit(db, cache, "retail", order("O-1", amount="80.00"))
    seen = _statements(db, lambda: commit(db, cache, "retail", order("O-2", amount="40.00")))
    writes = [s for s in seen if s.startswith(("INSERT", "UPDATE", "WITH"))]
    if db.is_sqlite:
        assert any(s.startswith("UPDATE members") for s in writes)
        assert any(s.startswith("INSERT INTO orders") for s in writes)
    else:  # one statement writes both
        both = [s for s in writes if s.startswith("WITH touched AS (UPDATE members")]
        assert len(both) == 1 and "INSERT INTO orders" in both[0]
        assert not any(s.startswith(("UPDATE members", "INSERT INTO orders")) for s in writes)
    with db.reading() as session:
        member = session.scalars(select(MemberRow)).one()
        orders = session.scalars(select(OrderRow).order_by(OrderRow.id)).all()
        assert [o.order_id for o in orders] == ["O-1", "O-2"]
        assert all(o.member_pk == member.id for o in orders)
        assert member.orders_count == 2 and member.balance > 0
        assert member.book is not None
        assert orders[1].result["commit"]["balance"] == member.balance
    assert_ledger_exact(db)
    # a retry of the same order answers the first result and writes nothing new
    again = commit(db, cache, "retail", order("O-2", amount="40.00"))
    assert again.created is False
