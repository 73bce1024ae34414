"""Database engines and sessions.

SQLite (the embedded default) serializes writers: write transactions start with
``BEGIN IMMEDIATE`` so two commits never interleave, and WAL mode lets readers proceed.
PostgreSQL writers lock the member row (``SELECT … FOR UPDATE``) instead.
"""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and route them through psycopg 3."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode != "NONE":  # reads run in autocommit: each statement sees a committed state
            conn.exec_driver_sql(f"BEGIN {mode}")


# A pooled PostgreSQL connection older than this is closed at its next checkout and
# replaced: idle connections that a firewall, a proxy or the server's own timeouts
# dropped silently (no packet to read) are not kept for longer than this.
POOL_RECYCLE_SECONDS = 1800


def dropped(dbapi_conn: Any) -> bool:
    """Whether an idle PostgreSQL connection was closed by the other end, without a round
    trip: between transactions the server sends nothing unless it is ending the session
    (a restart, `pg_terminate_backend`, PgBouncer restarting or closing its clients send
    an error and close the socket), so anything to read, or the end of the stream, means
    the connection is gone. One `poll` of the socket, no statement."""
    if dbapi_conn.closed:
        return True
    poller = select.poll()
    poller.register(dbapi_conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def _configure_postgres(engine: Engine) -> None:
    """Instead of `pool_pre_ping` (a `SELECT 1` round trip before every transaction), a
    connection taken from the pool is checked with `dropped`: one it finds closed is
    discarded and the pool hands out another (SQLAlchemy retries the checkout on
    DisconnectionError), so a restarted server or PgBouncer costs a reconnect, not an
    error."""
    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn, _record, _proxy):  # type: ignore[no-untyped-def]
        if dropped(dbapi_conn):
            raise DisconnectionError("the server closed this pooled connection")


@dataclass
class Database:
    """One engine per process, with a read session factory and a write session factory."""

    url: str
    engine: Engine
    read: sessionmaker[Session]
    write: sessionmaker[Session]
    read_engine: Engine  # `read_connection`'s: autocommit
    pgbouncer: bool = False  # behind PgBouncer in transaction pooling mode

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self.read() as session:
            yield session

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A plain connection for hot read paths (cheaper than a Session; Core statements).
        Its statements run in autocommit (on PostgreSQL no BEGIN before them and no
        ROLLBACK when the connection goes back to the pool: two round trips fewer for a
        quote); each sees the latest committed state, as each statement of a READ
        COMMITTED transaction does."""
        with self.read_engine.connect() as conn:
            yield conn

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any exception
        (`session.info["writing"]` is set: a write always reads the current registry)."""
        with self.write() as session, session.begin():
            session.info["writing"] = True
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


SETUP_LOCK = 0x6C6F79616C7479  # "loyalty": migrations and the first start's bootstrap


def setup_lock(conn: Connection | Session) -> None:
    """Serialize the setup of a database (migrating, installing the shipped programs)
    between processes starting at once, e.g. several servers on a fresh database: on
    PostgreSQL a transaction-scoped advisory lock, released at commit (so it holds behind
    PgBouncer in transaction pooling mode too); on SQLite the writer's BEGIN IMMEDIATE
    serializes them already."""
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    if bind.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SETUP_LOCK})


def open_database(url: str, pool_size: int = 10, pgbouncer: bool | None = None) -> Database:
    """`pgbouncer`: the URL points at PgBouncer in transaction pooling mode, where one
    session's statements may run on different server connections, so nothing may be
    prepared on the server (None: the `LOYALTY_PGBOUNCER` setting). The store keeps no
    other session state: no session-level advisory locks, no LISTEN, `SET LOCAL` only."""
    url = normalize_url(url)
    parsed = make_url(url)
    # Keep as many pooled connections as handler threads: connections opened beyond the
    # pool are closed on return, and reconnecting under load costs more than the query.
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30}, pool_size=pool_size,
                               max_overflow=pool_size)
        _configure_sqlite(engine)
        read_engine: Engine = engine.execution_options(sqlite_begin="NONE")
        session_engine = read_engine
        write_engine: Engine = engine.execution_options(sqlite_begin="IMMEDIATE")
    else:
        if pgbouncer is None:
            from store.settings import get_settings

            pgbouncer = get_settings().pgbouncer
        # psycopg prepares a statement on the server after its 5th run by default; behind
        # PgBouncer (transaction pooling) the next run may land on another server connection
        # that never saw it.
        connect_args = {"prepare_threshold": None} if pgbouncer else {}
        engine = create_engine(url, pool_size=pool_size, max_overflow=4,
                               pool_recycle=POOL_RECYCLE_SECONDS, connect_args=connect_args)
        _configure_postgres(engine)
        session_engine = write_engine = engine
        read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    return Database(
        url=url,
        engine=engine,
        read=sessionmaker(session_engine, expire_on_commit=False),
        write=sessionmaker(write_engine, expire_on_commit=False),
        read_engine=read_engine,
        pgbouncer=bool(pgbouncer),
    )
