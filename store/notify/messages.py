"""The record of every message planned for a member: one row per (domain event,
notification, channel), with what became of it and why.

Statuses: `pending` (to be sent), `sending` (claimed by a dispatcher, see `claim`),
`sent`, `deferred` (quiet hours: to be sent at `next_attempt_at`), `suppressed` (never to
be sent; `reason`: `marketing_opt_out`, `channel_not_chosen`, `no_address`,
`frequency_cap`, `member_erased`) and `failed` (`reason`: `channel_unconfigured`, `rejected`,
`undeliverable`, `render_failed`, with `error`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

import store.clock as clock
import store.ledger.members as members
from store.db.database import Database
from store.db.pages import newest_first
from store.db.upsert import insert_ignore
from store.tables.notify import MessageRow

STATUSES = ("pending", "sending", "sent", "deferred", "suppressed", "failed")
LEASE = timedelta(minutes=5)   # a claimed message is another dispatcher's again after this
MAX_ATTEMPTS = 5               # transient failures are retried this many times in all
BACKOFF = timedelta(minutes=1)  # doubled after every failed attempt
CLAIM_LIMIT = 100  # messages one claim takes at most
_TABLE = cast(Table, MessageRow.__table__)  # for Core statements (typed as a FromClause)


@dataclass(frozen=True)
class Planned:
    """A message as planned for one event and channel, before it is recorded."""

    program: str
    member_id: str
    event_id: str
    event_type: str
    occurred_at: datetime
    channel: str
    template: str
    locale: str | None
    marketing: bool
    status: str  # pending, deferred or suppressed
    reason: str | None = None
    send_at: datetime | None = None  # pending or deferred: when it is due
    content: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # failed: what went wrong


def _row(planned: Planned, now: datetime) -> dict[str, Any]:
    return {
        "program": planned.program, "member_id": planned.member_id,
        "event_id": planned.event_id, "event_type": planned.event_type,
        "channel": planned.channel, "template": planned.template, "locale": planned.locale,
        "marketing": planned.marketing, "status": planned.status, "reason": planned.reason,
        "error": planned.error, "attempts": 0, "content": planned.content,
        "occurred_at": planned.occurred_at, "planned_at": now,
        "next_attempt_at": (planned.send_at or now) if planned.status in ("pending", "deferred")
        else None,
        "sent_at": None}


def record(session: Session, planned: Planned) -> None:
    """Record a planned message; a second record of the same event, notification and
    channel is ignored, so planning an event twice (two dispatchers, a retry) sends
    nothing twice."""
    record_many(session, [planned])


def record_many(session: Session, planned: list[Planned]) -> None:
    """`record` of several messages, in one statement (executed for each, in order)."""
    if planned:
        now = clock.now()
        insert_ignore(session, MessageRow.__table__, [_row(p, now) for p in planned],
                      ["event_id", "template", "channel"])


def claim(db: Database, now: datetime, limit: int = CLAIM_LIMIT) -> list[MessageRow]:
    """Messages due now (pending, deferred until before now, or claimed by a dispatcher
    whose lease ran out), in id order, moved to `sending` with a lease in one
    transaction. On PostgreSQL the due rows are locked in id order, skipping those another
    transaction holds (`FOR UPDATE SKIP LOCKED`: a claim never waits, so it deadlocks
    with nothing); on SQLite the write transaction holds the database. The UPDATE checks
    the condition again, so two dispatchers never send one message at once."""
    due = (MessageRow.status.in_(("pending", "deferred", "sending")),
           MessageRow.next_attempt_at <= now)
    with db.writing() as session:
        ids = list(session.scalars(select(MessageRow.id).where(*due).order_by(MessageRow.id)
                                   .limit(limit).with_for_update(skip_locked=True)))
        if not ids:
            return []
        taken = list(session.scalars(
            update(_TABLE).where(MessageRow.id.in_(ids), *due)
            .values(status="sending", next_attempt_at=now + LEASE,
                    attempts=MessageRow.attempts + 1)
            .returning(MessageRow.id)))
        if not taken:
            return []
        return list(session.scalars(select(MessageRow).where(MessageRow.id.in_(taken))
                                    .order_by(MessageRow.id)))


def _finished(message: MessageRow, status: str, reason: str | None, error: str | None,
              retry: bool, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {"status": status, "reason": reason, "error": error,
                              "next_attempt_at": None}
    if status == "sent":
        values["sent_at"] = now
    elif retry and message.attempts < MAX_ATTEMPTS:
        values.update(status="pending",
                      next_attempt_at=now + BACKOFF * 2 ** (message.attempts - 1))
    return values


def finish(db: Database, message: MessageRow, status: str, reason: str | None = None,
           error: str | None = None, retry: bool = False, now: datetime | None = None) -> str:
    """What became of a claimed message: `sent`, or `failed` with the reason; a transient
    failure (`retry`) goes back to pending with a backoff until MAX_ATTEMPTS. Answers the
    status recorded. `now`: the dispatcher's instant (default: the server clock)."""
    values = _finished(message, status, reason, error, retry, now or clock.now())
    with db.writing() as session:
        session.execute(update(MessageRow).where(MessageRow.id == message.id,
                                                 MessageRow.status == "sending")
                        .values(**values))
    return str(values["status"])


@dataclass(frozen=True)
class Unsent:
    """A claimed message's end without a delivery: `suppressed` or `failed` (`retry`: a
    transient failure, pending again with a backoff until MAX_ATTEMPTS)."""

    message: MessageRow
    status: str
    reason: str
    error: str | None = None
    retry: bool = False


_FINISH_UNSENT = (update(_TABLE)
                  .where(MessageRow.id == bindparam("message_id"),
                         MessageRow.status == "sending")
                  .values({column: bindparam(f"new_{column}", type_=_TABLE.c[column].type)
                           for column in ("status", "reason", "error", "next_attempt_at")}))


def finish_unsent(db: Database, ends: list[Unsent], now: datetime) -> list[str]:
    """`finish` of several messages in one transaction, for ends decided without
    contacting anyone (a dispatcher killed before it leaves them to be claimed again once
    their lease has passed, and nobody received anything). Answers the statuses
    recorded, in order."""
    rows = []
    for end in ends:
        values = _finished(end.message, end.status, end.reason, end.error, end.retry, now)
        assert "sent_at" not in values, "a delivered message is finished on its own"
        rows.append({"message_id": end.message.id, **{f"new_{k}": v for k, v in values.items()}})
    if rows:
        with db.writing() as session:
            session.execute(_FINISH_UNSENT, rows)
    return [row["new_status"] for row in rows]


def release(db: Database, claimed: list[MessageRow], now: datetime) -> None:
    """Give back claimed messages this dispatcher will not send in this round: pending
    again, due at `now`, and the claim's attempt not counted."""
    if claimed:
        with db.writing() as session:
            session.execute(update(_TABLE)
                            .where(MessageRow.id.in_([m.id for m in claimed]),
                                   MessageRow.status == "sending")
                            .values(status="pending", next_attempt_at=now,
                                    attempts=MessageRow.attempts - 1))


def erase(session: Session, program: str, member_id: str) -> None:
    """A member's erasure: what their messages said is forgotten (the records stay, with
    their status), and the messages still waiting are suppressed (`member_erased`)."""
    mine = (MessageRow.program == program, MessageRow.member_id == member_id)
    session.execute(update(MessageRow).where(*mine, MessageRow.status.in_(
        ("pending", "sending", "deferred"))).values(status="suppressed", reason="member_erased",
                                                    next_attempt_at=None))
    session.execute(update(MessageRow).where(*mine).values(content={}))


def _json(row: MessageRow) -> dict[str, Any]:
    def instant(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {"id": str(row.id), "event_id": row.event_id, "event_type": row.event_type,
            "channel": row.channel, "template": row.template, "locale": row.locale,
            "marketing": row.marketing, "status": row.status, "reason": row.reason,
            "error": row.error, "attempts": row.attempts,
            "subject": row.content.get("subject"),
            "occurred_at": instant(row.occurred_at), "planned_at": instant(row.planned_at),
            "next_attempt_at": instant(row.next_attempt_at) if row.status in (
                "pending", "deferred") else None,
            "sent_at": instant(row.sent_at)}


def member_page(db: Database, program: str, member_id: str, cursor: int | None, limit: int,
                since: datetime | None = None, until: datetime | None = None,
                status: str | None = None, channel: str | None = None) -> dict[str, Any]:
    """The member's messages, newest first (`since`/`until` on the event's instant)."""
    with db.reading() as session:
        members.get(session, program, member_id)
        query = select(MessageRow).where(MessageRow.program == program,
                                         MessageRow.member_id == member_id)
        rows, next_cursor = newest_first(session, MessageRow, query, cursor, limit, since,
                                         until, status=status, channel=channel)
        return {"program": program, "member_id": member_id,
                "messages": [_json(row) for row in rows],
                "next_cursor": str(next_cursor) if next_cursor is not None else None}
