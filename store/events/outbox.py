"""The transactional outbox: domain events written in the transaction of the change they
tell, and read back per program in commit order.

**Commit order.** `publish` keeps the events with the session. Just before its
transaction commits (SQLAlchemy's `before_commit`), their feed positions are taken from
the program's `event_positions` row with one upsert `… RETURNING`, whose row lock is held
until the commit ends, and the rows are inserted with them (on PostgreSQL the upsert and
the insert are one statement, the rows passed as one JSON array). A second
transaction that wrote events of the same program waits at that upsert until the first
has committed (or rolled back, giving the numbers back), so:

* positions are handed out in commit order, without gaps (a rollback undoes its upsert);
* when a reader sees position n, every position below n is committed and visible too
  (PostgreSQL makes a transaction visible before it releases its locks), so a reader
  paging with `position > cursor` never skips an event that commits later.

The lock is the last one a writing transaction takes and it is held only for the events'
insert and the commit itself, so writers of one program queue for their commit only, and two transactions can
never wait on each other through it (nothing waits for anything while holding it).
Programs are locked in name order when one transaction wrote events of several. SQLite
serializes writing transactions already; the same code runs there.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, event, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine.events import DomainEvent
from store.db.types import json_text, utc_naive
from store.tables.events import DomainEventRow, EventPositionRow

__all__ = ["Published", "last_position", "publish", "read_after", "read_member"]

_PENDING = "loyalty.outbox.pending"  # session.info key: (transaction, rows) not yet written


@dataclass(frozen=True, slots=True)
class Published:
    """An event as the feed holds it: its position in the program's feed, and its row."""

    position: int
    pk: int
    event: DomainEvent


def publish(session: Session, events: Iterable[DomainEvent]) -> list[DomainEvent]:
    """Write `events` in the session's transaction, each with a new id (set on the event
    too). The rows are inserted, with their feed positions, when the transaction commits;
    events published inside a savepoint that rolls back are dropped with it."""
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    written: list[DomainEvent] = []
    for ev in events:
        ev.id = str(uuid.uuid4())
        rows.append({"event_id": ev.id, "program": ev.program, "type": ev.type,
                     "member_id": ev.member_id, "at": ev.at,
                     "ruleset_version": ev.ruleset_version, "payload": ev.payload,
                     "recorded_at": now})
        written.append(ev)
    if rows:
        where = session.get_nested_transaction() or session.get_transaction()
        session.info.setdefault(_PENDING, []).append((where, rows))
    return written


_ADVANCE: dict[str, Any] = {}  # the counter's upsert, built once per dialect
_INSERT = insert(cast(Table, DomainEventRow.__table__))


def _advance(session: Session, program: str, count: int) -> int:
    """Move the program's counter by `count` (creating it) and return its new value; the
    row stays locked until the commit."""
    dialect = session.get_bind().dialect.name
    stmt = _ADVANCE.get(dialect)
    if stmt is None:
        table = cast(Table, EventPositionRow.__table__)
        upsert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).values(
            program=bindparam("program"), last=bindparam("count"))
        stmt = _ADVANCE[dialect] = upsert.on_conflict_do_update(
            index_elements=["program"], set_={"last": table.c.last + upsert.excluded.last}
        ).returning(table.c.last)
    return int(session.execute(stmt, {"program": program, "count": count}).scalar_one())


# PostgreSQL: the counter's upsert and the rows' insert in one statement (one round
# trip, the same SQL text whatever the number of events: the rows go as one JSON array).
_ADVANCE_AND_INSERT = text("""
WITH advanced AS (
    INSERT INTO event_positions (program, last) VALUES (:program, :count)
    ON CONFLICT (program) DO UPDATE SET last = event_positions.last + excluded.last
    RETURNING last)
INSERT INTO domain_events (event_id, program, position, type, member_id, at,
                           ruleset_version, payload, recorded_at)
SELECT e.row->>'event_id', :program, advanced.last - :count + e.n, e.row->>'type',
       e.row->>'member_id', CAST(e.row->>'at' AS timestamp),
       CAST(e.row->>'ruleset_version' AS integer), e.row->'payload',
       CAST(e.row->>'recorded_at' AS timestamp)
FROM advanced, json_array_elements(CAST(:rows AS json)) WITH ORDINALITY AS e(row, n)
ORDER BY e.n""")


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending: list[tuple[Any, list[dict[str, Any]]]] = session.info.pop(_PENDING, [])
    by_program: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, rows in pending:
        for row in rows:
            by_program[row["program"]].append(row)
    if not by_program:
        return
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    for program in sorted(by_program):
        rows = by_program[program]
        if postgres:
            connection.execute(_ADVANCE_AND_INSERT, _rows_json(connection.dialect, program, rows))
            continue
        first = _advance(session, program, len(rows)) - len(rows) + 1
        connection.execute(_INSERT, [{**row, "position": first + i} for i, row in enumerate(rows)])


def _rows_json(dialect: Any, program: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`_ADVANCE_AND_INSERT`'s parameters, written as the table's column types write them
    (instants as naive UTC; the payload's JSON text as the column's type writes it: the
    JSON operator `->` hands back a value's text as it is in the array)."""
    return {"program": program, "count": len(rows), "rows": json_text(dialect, [
        {"event_id": r["event_id"], "type": r["type"], "member_id": r["member_id"],
         "at": utc_naive(r["at"]).isoformat(), "ruleset_version": r["ruleset_version"],
         "payload": r["payload"], "recorded_at": utc_naive(r["recorded_at"]).isoformat()}
        for r in rows])}


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: Any) -> None:
    """Forget the events published inside the transaction (or savepoint) rolled back."""
    pending = session.info.get(_PENDING)
    if not pending:
        return

    def inside(where: Any) -> bool:
        while where is not None:
            if where is previous_transaction:
                return True
            where = where.parent
        return False

    session.info[_PENDING] = [(where, rows) for where, rows in pending if not inside(where)]


def _published(row: DomainEventRow) -> Published:
    return Published(row.position, row.id, DomainEvent(
        row.event_id, row.type, row.program, row.member_id, row.at, row.ruleset_version,
        row.payload))


def read_after(session: Session, program: str, cursor: int, limit: int) -> list[Published]:
    """Up to `limit` events of `program` after feed position `cursor` (0: from the
    first), in commit order."""
    rows = session.scalars(
        select(DomainEventRow).where(DomainEventRow.program == program,
                                     DomainEventRow.position > cursor)
        .order_by(DomainEventRow.position).limit(limit))
    return [_published(row) for row in rows]


def read_member(session: Session, program: str, member_id: str,
                types: Iterable[str] = ()) -> list[Published]:
    """Every committed event of one member, in commit order (optionally of some types)."""
    query = select(DomainEventRow).where(DomainEventRow.program == program,
                                         DomainEventRow.member_id == member_id)
    wanted = list(types)
    if wanted:
        query = query.where(DomainEventRow.type.in_(wanted))
    return [_published(row) for row in session.scalars(query.order_by(DomainEventRow.position))]


def last_position(session: Session, program: str) -> int:
    """The position of the program's latest committed event (0 when it has none)."""
    last = session.scalar(select(EventPositionRow.last)
                          .where(EventPositionRow.program == program))
    return int(last or 0)
