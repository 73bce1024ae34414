"""The store behind a real PgBouncer in transaction pooling mode (tests/pgbouncer.py),
with fewer server connections than client ones, so one client's transactions run on
different server connections: what works there, and why `LOYALTY_PGBOUNCER` exists.
PostgreSQL only (CI=true or LOYALTY_TEST_DATABASE_URL), with Debian's pgbouncer."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from store.checkout.orders import commit
from store.checkout.refunds import refund
from store.db.database import Database, open_database
from store.db.migrate import upgrade
from store.registry.programs import ProgramCache
from tests import pgbouncer
from tests.store.db_support import postgres_direct_url, scratch_database
from tests.store.helpers import assert_ledger_exact, order, publish_retail

pytestmark = [
    pytest.mark.skipif(postgres_direct_url() is None, reason="PostgreSQL only (CI=true)"),
    pytest.mark.skipif(pgbouncer.binary() is None, reason="pgbouncer is not installed"),
]


@pytest.fixture
def bouncer_url(tmp_path) -> Iterator[str]:
    """A fresh database behind its own PgBouncer with ONE server connection."""
    with scratch_database(tmp_path) as url:
        direct = make_url(postgres_direct_url() or "").set(
            database=make_url(url).database).render_as_string(hide_password=False)
        bouncer = pgbouncer.start(direct, pool_size=1)
        try:
            yield bouncer.url
        finally:
            bouncer.stop()


def interleave(db: Database, runs: int = 8) -> None:
    """Two client connections take turns on the one server connection, each running
    its own statement again and again, a transaction each time."""
    with db.engine.connect() as one, db.engine.connect() as two:
        for i in range(runs):
            for conn, sql in ((one, "SELECT :n + 1"), (two, "SELECT :n + 2")):
                assert conn.execute(text(sql), {"n": i}).scalar() in (i + 1, i + 2)
                conn.commit()


def test_server_side_prepared_statements_break_behind_pgbouncer(bouncer_url):
    db = open_database(bouncer_url, pool_size=2, pgbouncer=False)
    try:
        with pytest.raises(DBAPIError, match="prepared statement"):
            interleave(db)  # psycopg prepares each after 5 runs, on a server connection
    finally:  # another client already prepared under the same name
        db.dispose()


def test_pgbouncer_mode_prepares_nothing(bouncer_url):
    db = open_database(bouncer_url, pool_size=2, pgbouncer=True)
    try:
        interleave(db, runs=20)
    finally:
        db.dispose()


def test_the_store_through_one_server_connection(bouncer_url):
    """Migrations, publishing, and 8 threads of commits and refunds (row locks, idempotency,
    SET LOCAL) over one server connection: everything recorded once, ledgers exact."""
    db = open_database(bouncer_url, pool_size=8, pgbouncer=True)
    try:
        upgrade(db)
        publish_retail(db, 1)
        cache = ProgramCache(check_seconds=0)
        members = [f"PB-{i}" for i in range(4)]

        def work(n: int) -> None:
            member = members[n % len(members)]
            for k in range(6):
                oid = f"O-{n}-{k}"
                assert commit(db, cache, "retail", order(oid, member=member)).created
                assert not commit(db, cache, "retail", order(oid, member=member)).created
                if k % 3 == 0:
                    body = {"refund_id": f"R-{oid}", "refunded_at": "2026-11-18T00:00:00Z"}
                    assert refund(db, cache, "retail", oid, body).created

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(work, range(8)))
        assert_ledger_exact(db, negative=True)
        with db.reading() as session:
            counts = session.execute(text(
                "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM refunds)")).one()
        assert tuple(counts) == (48, 16)
    finally:
        db.dispose()
