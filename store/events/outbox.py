"""The transactional outbox: domain events written in the transaction of the change they
tell, and read back per program in commit order.

**Commit order.** An event row is inserted with no feed position. Just before its
transaction commits (SQLAlchemy's `before_commit`), the positions of the events it wrote
are taken from the program's `event_positions` row with one `UPDATE … RETURNING`, whose
row lock is held until the commit ends. A second transaction that wrote events of the
same program waits at that UPDATE until the first has committed (or rolled back, giving
the numbers back), so:

* positions are handed out in commit order, without gaps (a rollback undoes its UPDATE);
* when a reader sees position n, every position below n is committed and visible too
  (PostgreSQL makes a transaction visible before it releases its locks), so a reader
  paging with `position > cursor` never skips an event that commits later.

The lock is the last one a writing transaction takes and it is held only for the commit
itself, so writers of one program queue for their commit only, and two transactions can
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
from typing import Any

from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.orm import Session

from engine.events import DomainEvent
from store.db.upsert import insert_ignore
from store.tables.events import DomainEventRow, EventPositionRow

__all__ = ["Published", "last_position", "publish", "read_after", "read_member"]

_PENDING = "loyalty.outbox.pending"  # session.info key: ids of rows awaiting a position


@dataclass(frozen=True, slots=True)
class Published:
    """An event as the feed holds it: its position in the program's feed, and its row."""

    position: int
    pk: int
    event: DomainEvent


def publish(session: Session, events: Iterable[DomainEvent]) -> list[DomainEvent]:
    """Write `events` in the session's transaction, each with a new id (set on the event
    too). They get their feed positions when the transaction commits."""
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    written: list[DomainEvent] = []
    for ev in events:
        ev.id = str(uuid.uuid4())
        rows.append({"event_id": ev.id, "program": ev.program, "position": None,
                     "type": ev.type, "member_id": ev.member_id, "at": ev.at,
                     "ruleset_version": ev.ruleset_version, "payload": ev.payload,
                     "recorded_at": now})
        written.append(ev)
    if not rows:
        return written
    ids = session.execute(insert(DomainEventRow).returning(
        DomainEventRow.id, sort_by_parameter_order=True), rows).scalars().all()
    session.info.setdefault(_PENDING, []).extend(ids)
    return written


_POSITION = (update(DomainEventRow).where(DomainEventRow.id == bindparam("pk"))
             .values(position=bindparam("pos")))


@event.listens_for(Session, "before_commit")
def _assign_positions(session: Session) -> None:
    pending: list[int] = session.info.pop(_PENDING, [])
    if not pending:
        return
    # Rows a rolled-back savepoint took with it are gone: number the ones still here.
    by_program: dict[str, list[int]] = defaultdict(list)
    for pk, program in session.execute(
            select(DomainEventRow.id, DomainEventRow.program)
            .where(DomainEventRow.id.in_(pending)).order_by(DomainEventRow.id)):
        by_program[program].append(pk)
    for program in sorted(by_program):
        pks = by_program[program]
        insert_ignore(session, EventPositionRow.__table__, {"program": program, "last": 0},
                      ["program"])
        last = session.execute(
            update(EventPositionRow).where(EventPositionRow.program == program)
            .values(last=EventPositionRow.last + len(pks))
            .returning(EventPositionRow.last)).scalar_one()
        first = last - len(pks) + 1
        session.connection().execute(_POSITION, [
            {"pk": pk, "pos": first + i} for i, pk in enumerate(pks)])


@event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _published(row: DomainEventRow) -> Published:
    assert row.position is not None
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
                                         DomainEventRow.member_id == member_id,
                                         DomainEventRow.position.is_not(None))
    wanted = list(types)
    if wanted:
        query = query.where(DomainEventRow.type.in_(wanted))
    return [_published(row) for row in session.scalars(query.order_by(DomainEventRow.position))]


def last_position(session: Session, program: str) -> int:
    """The position of the program's latest committed event (0 when it has none)."""
    last = session.scalar(select(EventPositionRow.last)
                          .where(EventPositionRow.program == program))
    return int(last or 0)
