"""How a commit writes: on PostgreSQL the member's row and the order's row go in one
statement (store/ledger/members.py `update_with_insert`), the ledger rows and the events
each in one statement of fixed text, and what is stored is what the generic statements
would have written (read back)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

import store.events.outbox as outbox
import store.ledger.books as books
from store.checkout.orders import commit
from store.db.database import Database
from store.registry.programs import ProgramCache
from store.tables.core import LedgerEntryRow, MemberRow, OrderRow
from store.tables.events import DomainEventRow
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


def _entry_rows(member_pk: int) -> list[dict[str, Any]]:
    """Ledger rows of every shape a step writes: with and without expiry, rule, lot and
    draws, text that needs escaping, instants in another zone."""
    east = timezone(timedelta(hours=-5))
    at = datetime(2026, 11, 17, 14, 30, 0, 123456, tzinfo=east)
    now = datetime(2026, 11, 17, 19, 31, tzinfo=UTC)
    base = {"member_pk": member_pk, "program": "retail", "remaining": None, "lot_id": None,
            "ruleset_version": 1, "recorded_at": now}
    return [
        {**base, "kind": "earn", "points": 120, "expires_at": at + timedelta(days=365),
         "rule": "earning.base", "source_type": "order", "source_ref": 'O-"1"\\é',
         "lot": 1, "draws": None, "occurred_at": at},
        {**base, "kind": "redeem", "points": -50, "expires_at": None, "rule": None,
         "source_type": "redemption", "source_ref": "7", "lot": None,
         "draws": [[1, 50]], "occurred_at": at},
        {**base, "kind": "bonus", "points": 0, "expires_at": None, "rule": "campaign.x",
         "source_type": "order", "source_ref": "O-1", "lot": 2, "draws": [],
         "occurred_at": now},
    ]


def test_the_ledger_insert_for_postgresql_writes_what_the_generic_one_writes(db: Database) -> None:
    """PostgreSQL inserts a step's ledger rows as one JSON array (one SQL text for any
    number of rows); read back, they equal the rows the generic multi-row insert writes,
    and the ids come back in the rows' order."""
    if db.is_sqlite:
        pytest.skip("the array insert is PostgreSQL's")
    publish_retail(db)
    commit(db, ProgramCache(), "retail", order("O-1"))
    with db.writing() as session:
        member_pk = session.scalars(select(MemberRow.id)).one()
        connection = session.connection()
        rows = _entry_rows(member_pk)
        generic = connection.execute(books._INSERT_ENTRIES, rows).scalars().all()
        arrays = connection.execute(books._INSERT_ENTRIES_PG,
                                    books._entry_rows_json(connection, rows)).scalars().all()
        assert len(generic) == len(arrays) == 3
        assert list(arrays) == sorted(arrays)
        table = LedgerEntryRow.__table__
        columns = [c for c in table.columns if c.key != "id"]

        def read(ids: Any) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in session.execute(
                select(*columns).where(table.c.id.in_(list(ids))).order_by(table.c.id))]

        assert read(arrays) == read(generic)
        assert read(arrays)[1][columns.index(table.c.draws)] == [[1, 50]]
        assert read(arrays)[0][columns.index(table.c.draws)] is None
        session.rollback()


def test_the_outbox_for_postgresql_writes_what_the_generic_one_writes(db: Database) -> None:
    """PostgreSQL moves the feed's counter and inserts the events in one statement; the
    rows (payload text included, byte for byte) equal the generic insert's, at
    consecutive positions in the order published."""
    if db.is_sqlite:
        pytest.skip("the one-statement outbox is PostgreSQL's")
    east = timezone(timedelta(hours=-5))
    payloads = [{"points": 120, "why": 'a "quoted" é', "lines": [1, 2.5, None]}, {}, {"n": 3}]

    def rows(prefix: str) -> list[dict[str, Any]]:
        return [{"event_id": f"{prefix}-{i}", "program": "retail", "type": "points.earned",
                 "member_id": "CUST-1", "at": datetime(2026, 11, 17, 9, i, tzinfo=east),
                 "ruleset_version": 1, "payload": payload,
                 "recorded_at": datetime(2026, 11, 17, 14, i, 1, 5, tzinfo=UTC)}
                for i, payload in enumerate(payloads)]

    with db.writing() as session:
        connection = session.connection()
        connection.execute(outbox._ADVANCE_AND_INSERT,
                           outbox._rows_json(connection.dialect, "retail", rows("pg")))
        connection.execute(outbox._INSERT, [{**row, "position": 100 + i}
                                            for i, row in enumerate(rows("generic"))])
    table = DomainEventRow.__table__
    columns = [c for c in table.columns if c.key not in ("id", "event_id", "position")]
    with db.reading() as session:
        def read(prefix: str) -> list[Any]:
            return list(session.execute(select(table.c.position, *columns).where(
                table.c.event_id.like(f"{prefix}-%")).order_by(table.c.event_id)))

        pg, generic = read("pg"), read("generic")
        assert [r[0] for r in pg] == [1, 2, 3]
        assert [tuple(r)[1:] for r in pg] == [tuple(r)[1:] for r in generic]
        texts = session.execute(text(
            "SELECT payload::text FROM domain_events WHERE event_id LIKE 'pg-%' "
            "ORDER BY event_id")).scalars().all()
        assert texts == [json.dumps(p) for p in payloads]
        assert outbox.last_position(session, "retail") == 3


def test_a_commit_by_a_known_member_makes_four_statements_of_fixed_text(db: Database) -> None:
    """On PostgreSQL: the locking read (with the registry's generation), the ledger rows,
    the member and the order, the events; the same four SQL texts whatever the number of
    ledger rows and events (so the driver parses each once)."""
    if db.is_sqlite:
        pytest.skip("statement shapes are PostgreSQL's")
    publish_retail(db)
    cache = ProgramCache()
    commit(db, cache, "retail", order("O-1"))
    positions = [_last_position(db)]
    small = _statements(db, lambda: commit(db, cache, "retail", order("O-2", amount="20.00")))
    positions.append(_last_position(db))
    large = _statements(db, lambda: commit(db, cache, "retail", {
        **order("O-3", amount="300.00"),
        "order": {**order("O-3")["order"], "lines": [
            {"sku": f"S-{i}", "category": category, "quantity": 2, "unit_price": "45.00",
             "discount": "0.00"} for i, category in enumerate(
                 ["electronics", "fashion", "home", "gift_cards"])]}}))
    positions.append(_last_position(db))
    assert len(small) == 4 and small[0].startswith("SELECT members.id")
    assert "registry_generation" in small[0]
    assert small == large
    with db.reading() as session:
        def entries(order_id: str) -> int:
            return int(session.scalar(select(func.count()).where(
                LedgerEntryRow.source_ref == order_id)) or 0)

        assert 0 < entries("O-2") < entries("O-3")
    assert 0 < positions[1] - positions[0] < positions[2] - positions[1]


def _last_position(db: Database) -> int:
    with db.reading() as session:
        return outbox.last_position(session, "retail")


def test_a_new_members_first_order_creates_the_row_in_one_statement(db: Database) -> None:
    """A member with no row: the locking read finds nothing, one read takes the registry's
    generation and an earlier commit of the order id, the row is inserted and read back
    in one statement (`RETURNING`), and the gift's redemption row is not read back."""
    if db.is_sqlite:
        pytest.skip("statement shapes are PostgreSQL's")
    publish_retail(db)
    cache = ProgramCache()
    commit(db, cache, "retail", order("O-1", member="OLD"))
    seen = _statements(db, lambda: commit(db, cache, "retail", order("O-2", member="NEW")))
    assert seen[0].startswith("SELECT members.id") and "FOR UPDATE" in seen[0]
    assert "registry_generation" in seen[1] and "orders" in seen[1]
    assert seen[2].startswith("INSERT INTO members") and "RETURNING" in seen[2]
    assert sum(s.startswith("SELECT") for s in seen) == 2
    assert_ledger_exact(db)


def test_first_orders_of_one_new_member_racing_are_all_recorded(db: Database) -> None:
    """Eight first orders of a member with no row, from eight threads at once: one creates
    the row, the others wait for it (the insert of a racing writer's key waits for its
    transaction) and find it; every order is recorded once and the books balance. And
    one order id sent by two threads at once is recorded once, the other answered as
    its retry."""
    publish_retail(db)
    cache = ProgramCache()
    commit(db, cache, "retail", order("O-0", member="WARM"))
    bodies = [order(f"R-{i}", member="RACER", amount=f"{10 + i}.00") for i in range(8)]
    bodies += [order("R-SAME", member="TWIN")] * 2
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        outcomes = list(pool.map(lambda body: commit(db, cache, "retail", body), bodies))
    assert sum(o.created for o in outcomes) == 9
    assert outcomes[-1].result == outcomes[-2].result
    with db.reading() as session:
        racer = session.scalars(select(MemberRow).where(MemberRow.member_id == "RACER")).one()
        assert racer.orders_count == 8
        assert session.scalar(select(func.count()).select_from(OrderRow)) == 10
    assert_ledger_exact(db)
