"""The `notifications` job: plan the domain events no dispatcher has planned yet, then
send the messages that are due.

**Planning.** For each program with events, the dispatcher locks its cursor row
(`notify_cursors`; `SELECT … FOR UPDATE` on PostgreSQL, the write transaction's database
lock on SQLite), reads the events after it in commit order (store/events/outbox.py
`read_after`), plans and records their messages (store/notify/planning.py) under the
ruleset version each event was written with, and moves the cursor — all in one
transaction. So several dispatchers (every API worker, `loyalty jobs run`) never plan an
event twice, and one killed halfway leaves nothing planned: the next run plans the same
events again. The instant of planning is the server clock: quiet hours are those of when
the message would go, not of when the event happened.

**Sending.** Then the due messages are claimed a hundred at a time with a lease and sent
(store/notify/sending.py): a dispatcher killed after sending and before recording sends
that message again when its lease has passed — at least once, with the same
`Message-ID` / `webhook-id`, so receivers can tell the repeat.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

import store.clock as clock
import store.events.outbox as outbox
import store.notify.sending as sending
import store.registry.versions as registry
from engine import load_program
from engine.language.model import Ruleset
from store.db.database import Database
from store.db.upsert import insert_ignore
from store.notify.planning import Reads, notifies, plan_event
from store.notify.unsubscribe import Unsubscriber
from store.settings import Settings
from store.tables.core import RulesetVersionRow
from store.tables.events import EventPositionRow
from store.tables.notify import NotifyCursorRow

BATCH = 200   # events planned per transaction
ROUNDS = 50   # batches per program and run; the next run goes on from the cursor

# Versions are immutable: each is loaded once per process, known by its digest (a database
# emptied and published again, in tests, gets no stale version).
_RULESETS: dict[tuple[str, int, str], Ruleset] = {}


def _ruleset(session: Session, program: str, version: int) -> Ruleset:
    digest = session.scalar(select(RulesetVersionRow.digest).where(
        RulesetVersionRow.program == program, RulesetVersionRow.version == version))
    key = (program, version, str(digest))
    found = _RULESETS.get(key)
    if found is None:
        found = _RULESETS[key] = load_program(registry.sources_of(session, program,
                                                                  version)).model
    return found


def _locked_cursor(session: Session, program: str, now: datetime) -> int:
    insert_ignore(session, NotifyCursorRow.__table__,
                  {"program": program, "position": 0, "updated_at": now}, ["program"])
    return int(session.scalar(select(NotifyCursorRow.position)
                              .where(NotifyCursorRow.program == program)
                              .with_for_update()) or 0)


def plan_program(db: Database, settings: Settings, program: str, now: datetime,
                 unsubscriber: Unsubscriber) -> dict[str, int]:
    """Plan the program's events after its cursor: {status: messages recorded}."""
    counted: dict[str, int] = {}
    for _ in range(ROUNDS):
        with db.writing() as session:
            cursor = _locked_cursor(session, program, now)
            batch = outbox.read_after(session, program, cursor, BATCH)
            rulesets: dict[int, Ruleset] = {}
            for version in {item.event.ruleset_version for item in batch}:
                rulesets[version] = _ruleset(session, program, version)
            wanted = [item.event for item in batch
                      if notifies(rulesets[item.event.ruleset_version], item.event.type)]
            reads = Reads(session, program, {event.member_id for event in wanted}, now)
            for event in wanted:
                for planned in plan_event(session, event, rulesets[event.ruleset_version],
                                          now, unsubscriber, settings.public_url, reads):
                    counted[planned.status] = counted.get(planned.status, 0) + 1
            reads.record(session)
            if batch:
                session.execute(update(NotifyCursorRow)
                                .where(NotifyCursorRow.program == program)
                                .values(position=batch[-1].position, updated_at=now))
        if len(batch) < BATCH:
            break
    return counted


def run(db: Database, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """Plan every program's new events, then send what is due (the job's summary)."""
    at = now or clock.now()
    with db.reading() as session:
        programs = list(session.scalars(select(EventPositionRow.program)
                                        .order_by(EventPositionRow.program)))
    unsubscriber = Unsubscriber.of(settings, db)
    planned = {program: plan_program(db, settings, program, at, unsubscriber)
               for program in programs}
    return {"planned": {program: counts for program, counts in planned.items() if counts},
            "sent": sending.deliver_due(db, settings, now)}
