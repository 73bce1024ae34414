"""The quote's compact member read (store/ledger/members.py `snapshot`) and, on
PostgreSQL, pooled connections that the server dropped between transactions
(store/db/database.py `dropped`: no `SELECT 1` before each transaction)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from store.db.database import Database, open_database
from store.ledger import members
from store.tables.core import MemberRow
from tests import pgbouncer
from tests.store.db_support import postgres_direct_url


def _add(db: Database, member_id: str, **values: object) -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    row = {"program": "retail", "member_id": member_id, "tier": None, "attributes": {},
           "balance": 0, "orders_count": 0, "created_at": now, "updated_at": now, **values}
    with db.writing() as session:
        session.execute(insert(MemberRow.__table__).values(**row))


def test_the_snapshot_reads_what_the_row_holds(db: Database) -> None:
    book = {"member_id": "M-1", "lots": [{"points": 12, "at": "2026-01-02T00:00:00Z"}],
            "share": 0.25, "nested": {"x": [1, "ü", None]}}
    _add(db, "M-1", tier="gold", attributes={"country": "DE", "vip": True}, book=book)
    _add(db, "M-2")  # no book yet, empty attributes
    for _ in range(7):  # beyond psycopg's prepare threshold (behind PgBouncer: none)
        with db.read_connection() as conn:
            one = members.snapshot(conn, "retail", "M-1")
            two = members.snapshot(conn, "retail", "M-2")
            assert members.snapshot(conn, "retail", "M-3") is None
            assert members.snapshot(conn, "other", "M-1") is None
            rows = [members.find(conn, "retail", m) for m in ("M-1", "M-2")]
    assert one == members.Snapshot("M-1", "gold", {"country": "DE", "vip": True}, book)
    assert two == members.Snapshot("M-2", None, {}, None)
    for snap, row in zip((one, two), rows, strict=True):
        assert row is not None
        assert (snap.member_id, snap.tier, snap.attributes, snap.book) == \
            (row.member_id, row.tier, row.attributes, row.book)


postgres_only = pytest.mark.skipif(postgres_direct_url() is None,
                                   reason="PostgreSQL only (CI=true)")


def _terminate(pids: set[int]) -> None:
    """End these sessions from a connection outside the pool, as a server restart would,
    and give the server's goodbye time to reach their sockets."""
    url = make_url(postgres_direct_url() or "").set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as admin:
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    time.sleep(0.3)


def _direct(db: Database) -> str:
    """The database's URL on the server itself, not through a PgBouncer the tests may run
    behind (PgBouncer hides a server session's end from its clients)."""
    return make_url(postgres_direct_url() or "").set(database=make_url(db.url).database) \
        .render_as_string(hide_password=False)


def _pooled_pids(db: Database) -> set[int]:
    with db.engine.connect() as a, db.engine.connect() as b:  # two pooled connections
        return {int(c.execute(text("SELECT pg_backend_pid()")).scalar() or 0) for c in (a, b)}


@postgres_only
def test_connections_dropped_by_the_server_are_replaced_without_an_error(
        migrated_db: Database) -> None:
    db = open_database(_direct(migrated_db), pool_size=3, pgbouncer=False)
    try:
        pids = _pooled_pids(db)
        assert len(pids) == 2
        _terminate(pids)  # the pool still holds both
        for _ in range(4):  # every pooled connection is taken again: none fails
            with db.engine.connect() as conn:
                pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
                assert pid not in pids
        with db.writing() as session:
            assert session.execute(text("SELECT 1")).scalar() == 1
    finally:
        db.dispose()


@postgres_only
@pytest.mark.skipif(pgbouncer.binary() is None, reason="pgbouncer is not installed")
def test_a_restarted_pgbouncer_costs_a_reconnect_not_an_error(migrated_db: Database) -> None:
    first = pgbouncer.start(_direct(migrated_db), pool_size=2)
    db = open_database(first.url, pool_size=3, pgbouncer=True)
    try:
        with db.engine.connect() as a, db.engine.connect() as b:  # two pooled connections
            for conn in (a, b):
                assert conn.execute(text("SELECT 1")).scalar() == 1
        first.stop()
        time.sleep(0.3)
        again = pgbouncer.start(_direct(migrated_db), pool_size=2,
                                port=make_url(first.url).port)
        try:
            for _ in range(4):  # both pooled connections were closed by the old one
                with db.writing() as session:
                    assert session.execute(text("SELECT 2")).scalar() == 2
        finally:
            db.dispose()
            again.stop()
    finally:
        first.stop()


@postgres_only
def test_without_the_check_a_dropped_connection_fails_the_next_transaction(
        migrated_db: Database) -> None:
    """What the check prevents (and `pool_pre_ping` prevented with a round trip)."""
    engine = create_engine(_direct(migrated_db), pool_size=2)
    try:
        with engine.connect() as a, engine.connect() as b:
            pids = {int(c.execute(text("SELECT pg_backend_pid()")).scalar() or 0)
                    for c in (a, b)}
        _terminate(pids)
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()


@postgres_only
def test_a_pooled_connection_is_checked_without_a_statement(migrated_db: Database) -> None:
    db = open_database(_direct(migrated_db), pool_size=1, pgbouncer=False)
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        pings: list[int] = []
        original = db.engine.dialect.do_ping
        db.engine.dialect.do_ping = lambda c: pings.append(1) or original(c)  # type: ignore[method-assign]
        for _ in range(5):
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        assert pings == []
    finally:
        db.dispose()


@postgres_only
def test_plain_reads_run_in_autocommit(db: Database) -> None:
    """A quote's connection opens no transaction (no BEGIN before its statements, no
    ROLLBACK when it goes back to the pool), and the pooled connection a write then
    takes runs its statements in a transaction again."""
    _add(db, "M-1")
    with db.read_connection() as conn:
        assert members.snapshot(conn, "retail", "M-1") is not None
        raw = conn.connection.dbapi_connection
        assert raw is not None and raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with db.writing() as session:
        session.execute(text("SELECT 1"))
        raw = session.connection().connection.dbapi_connection
        assert raw is not None
        assert raw.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
