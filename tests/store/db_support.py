"""Test databases: SQLite by default; PostgreSQL when LOYALTY_TEST_DATABASE_URL is set or
CI=true, through PgBouncer in transaction pooling mode when LOYALTY_TEST_PGBOUNCER=true as
well (tests/pgbouncer.py). Each test session gets a fresh PostgreSQL database, dropped at
the end, so parallel runs never collide."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.engine import make_url

from store import clock
from store.db.database import Database, normalize_url, open_database
from store.db.migrate import upgrade
from store.tables.core import Base, RegistryGenerationRow
from tests.store.helpers import ServerClock

CI_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REPO = Path(__file__).resolve().parents[2]
RETAIL = REPO / "rulesets" / "retail"


def postgres_direct_url() -> str | None:
    """The PostgreSQL server the tests use (None: SQLite)."""
    url = os.environ.get("LOYALTY_TEST_DATABASE_URL")
    if url:
        return normalize_url(url)
    if os.environ.get("CI", "").lower() == "true":
        return CI_DEFAULT
    return None


def through_pgbouncer() -> bool:
    return os.environ.get("LOYALTY_TEST_PGBOUNCER", "").lower() == "true"


def postgres_base_url() -> str | None:
    """Where the tests' PostgreSQL connections go: the server, or a PgBouncer in front of
    it (the store must then be in PgBouncer mode, `LOYALTY_PGBOUNCER=true`)."""
    url = postgres_direct_url()
    if url is None or not through_pgbouncer():
        return url
    if os.environ.get("LOYALTY_PGBOUNCER", "").lower() != "true":
        raise RuntimeError("LOYALTY_TEST_PGBOUNCER=true needs LOYALTY_PGBOUNCER=true too")
    from tests import pgbouncer

    return pgbouncer.shared(url)


def _admin(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    server = make_url(url).set(drivername="postgresql", database="postgres")
    return psycopg.connect(server.render_as_string(hide_password=False), autocommit=True)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with scratch_database(tmp_path_factory.mktemp("db"), "loyalty.db") as url:
        yield url


@pytest.fixture(scope="session")
def migrated_db(database_url: str) -> Iterator[Database]:
    db = open_database(database_url)
    upgrade(db)
    yield db
    db.dispose()


def wipe(db: Database) -> None:
    """Empty every table but the registry generation (workers compare against it)."""
    with db.writing() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != RegistryGenerationRow.__tablename__:
                session.execute(delete(table))


@pytest.fixture
def db(migrated_db: Database) -> Iterator[Database]:
    wipe(migrated_db)
    yield migrated_db


@pytest.fixture
def server_clock() -> Iterator[ServerClock]:
    """The server clock frozen at 2029-01-01T00:00:00Z (after every instant the tests
    use) until the test sets it; the API's bounds and the store's expiry follow it."""
    fixed = ServerClock(datetime(2029, 1, 1, tzinfo=UTC))
    with clock.use(fixed):
        yield fixed


@contextmanager
def scratch_database(tmp_dir: Path, sqlite_name: str = "server.db") -> Iterator[str]:
    """A separate, empty database: a SQLite file in `tmp_dir`, or on PostgreSQL a fresh
    `loyalty_test_<random>` database dropped afterwards (parallel runs never collide)."""
    base, direct = postgres_base_url(), postgres_direct_url()
    if base is None or direct is None:
        yield f"sqlite:///{tmp_dir / sqlite_name}"
        return
    name = f"loyalty_test_{secrets.token_hex(6)}"
    with _admin(direct) as conn:  # on the server itself, PgBouncer or not
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin(direct) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
