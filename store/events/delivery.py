"""Delivering domain events to webhook subscriptions, at least once, in order per member.

The `webhooks` job (store/jobs/scheduler.py) runs `run` in every worker that runs jobs;
several at once are safe:

1. **Queue.** For each subscription and program, the job reads the feed after the
   subscription's cursor (store/events/outbox.py `read_after`, commit order, so no event
   is skipped) and inserts one delivery per matching event, moving the cursor in the same
   transaction. The cursor row is taken with `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite
   serializes writers): one worker queues a cursor at a time, and a delivery is unique per
   subscription and event.
2. **Claim.** Due deliveries (`pending` whose time has come, or `sending` whose lease ran
   out: a worker died mid-send) are claimed with `FOR UPDATE SKIP LOCKED` and moved to
   `sending` with a lease, one attempt counted. A delivery is due only when no earlier
   event of the same member for the same subscription is still `pending` or `sending`:
   a member's events go out in feed order, an undelivered one holding back the later ones.
   A dead-lettered delivery no longer holds them back.
3. **Send.** Each claimed delivery is POSTed, signed per Standard Webhooks
   (store/events/signing.py), `webhook-id` being the event's id on every attempt, so a
   receiver deduplicates on it. A 2xx answer makes it `delivered`; anything else (or no
   answer) makes it `pending` again after an exponential backoff, or `dead` once it has
   had the subscription's `max_attempts`. A redeliver call makes it `pending` again.

A worker killed mid-send leaves its deliveries `sending`; another claims them when the
lease has passed and sends them again (the receiver may see one twice, same id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, aliased

from store.db.database import Database
from store.db.upsert import insert_ignore
from store.events.addresses import refused
from store.events.outbox import read_after
from store.events.signing import signed_headers
from store.tables.events import (
    DomainEventRow,
    EventPositionRow,
    WebhookCursorRow,
    WebhookDeliveryRow,
    WebhookSubscriptionRow,
)

QUEUE_BATCH = 500   # events read per cursor per transaction
ROUNDS = 50         # claim rounds per run


class WebhookSettings(BaseSettings):
    """Delivery knobs, from `LOYALTY_WEBHOOK_*` environment variables (kept beside the
    code that uses them, like the fulfilment webhook's)."""

    model_config = SettingsConfigDict(env_prefix="LOYALTY_WEBHOOK_", extra="ignore")

    timeout_seconds: float = Field(5.0, gt=0, description="per attempt (connect, read, write)")
    backoff_seconds: float = Field(5.0, ge=0, description="delay before the second attempt; "
                                   "doubles after each failed one")
    max_backoff_seconds: float = Field(3600.0, ge=0, description="the longest delay")
    lease_seconds: float = Field(60.0, gt=0, description="how long a worker owns a delivery "
                                 "it is sending; a killed worker's are sent again after it")
    batch: int = Field(50, ge=1, le=1000, description="deliveries claimed at once")
    allow_private: bool = Field(False, description="deliver to loopback, private and "
                                "link-local addresses too (store/events/addresses.py)")


@dataclass
class Claimed:
    delivery: int
    url: str
    secret: str
    event_id: str
    body: str
    attempts: int
    max_attempts: int


# ---------------------------------------------------------------- queue

def _cursors(session: Session) -> list[tuple[int, str]]:
    """(subscription, program) pairs to read: a filtered subscription's program, or every
    program with a feed."""
    subs = session.execute(select(WebhookSubscriptionRow.id, WebhookSubscriptionRow.program)
                           .where(WebhookSubscriptionRow.deleted_at.is_(None))).all()
    programs = list(session.scalars(select(EventPositionRow.program)))
    return [(sid, program) for sid, only in subs
            for program in ([only] if only is not None else programs)]


def queue(db: Database) -> int:
    """Queue deliveries for the events committed since each cursor; returns how many.
    Cursors already at their feed's end are left alone (no write transaction)."""
    with db.reading() as session:
        pairs = _cursors(session)
        last = dict(session.execute(select(EventPositionRow.program, EventPositionRow.last)).all())
        at = {(sid, program): position for sid, program, position in session.execute(
            select(WebhookCursorRow.subscription_id, WebhookCursorRow.program,
                   WebhookCursorRow.position))}
    queued = 0
    for sid, program in pairs:
        if at.get((sid, program), -1) >= last.get(program, 0):
            continue
        while True:
            added, more = _queue_one(db, sid, program)
            queued += added
            if not more:
                break
    return queued


def _queue_one(db: Database, sid: int, program: str) -> tuple[int, bool]:
    now = datetime.now(UTC)
    with db.writing() as session:
        insert_ignore(session, WebhookCursorRow.__table__,
                      {"subscription_id": sid, "program": program, "position": 0},
                      ["subscription_id", "program"])
        cursor = session.scalar(select(WebhookCursorRow).where(
            WebhookCursorRow.subscription_id == sid, WebhookCursorRow.program == program)
            .with_for_update(skip_locked=True))
        sub = session.get(WebhookSubscriptionRow, sid)
        if cursor is None or sub is None or sub.deleted_at is not None:
            return 0, False  # another worker is queuing it, or it was deleted
        published = read_after(session, program, cursor.position, QUEUE_BATCH)
        wanted = set(sub.event_types)
        added = 0
        for p in published:
            if wanted and p.event.type not in wanted:
                continue
            insert_ignore(session, WebhookDeliveryRow.__table__, {
                "subscription_id": sid, "event_pk": p.pk, "program": program,
                "member_id": p.event.member_id, "position": p.position, "status": "pending",
                "attempts": 0, "next_attempt_at": now, "created_at": now, "updated_at": now},
                ["subscription_id", "event_pk"])
            added += 1
        if published:
            cursor.position = published[-1].position
        return added, len(published) == QUEUE_BATCH


# ---------------------------------------------------------------- claim

_EARLIER = aliased(WebhookDeliveryRow)


def claim(db: Database, settings: WebhookSettings) -> list[Claimed]:
    """Claim due deliveries (one per member and subscription at most: the earliest)."""
    now = datetime.now(UTC)
    d = WebhookDeliveryRow
    blocked = exists().where(and_(
        _EARLIER.subscription_id == d.subscription_id, _EARLIER.program == d.program,
        _EARLIER.member_id == d.member_id, _EARLIER.position < d.position,
        _EARLIER.status.in_(("pending", "sending"))))
    query = (select(d).where(d.status.in_(("pending", "sending")), d.next_attempt_at <= now,
                             ~blocked)
             .order_by(d.next_attempt_at, d.id).limit(settings.batch)
             .with_for_update(skip_locked=True, of=d))
    claimed: list[Claimed] = []
    with db.reading() as session:  # nothing due: no write transaction
        if session.scalar(select(d.id).where(d.status.in_(("pending", "sending")),
                                             d.next_attempt_at <= now).limit(1)) is None:
            return claimed
    with db.writing() as session:
        for row in session.scalars(query):
            sub = session.get(WebhookSubscriptionRow, row.subscription_id)
            event = session.get(DomainEventRow, row.event_pk)
            assert sub is not None and event is not None
            row.status, row.attempts = "sending", row.attempts + 1
            row.next_attempt_at = now + timedelta(seconds=settings.lease_seconds)
            row.updated_at = now
            claimed.append(Claimed(row.id, sub.url, sub.secret, event.event_id,
                                   _body(event), row.attempts, sub.max_attempts))
    return claimed


def _body(row: DomainEventRow) -> str:
    """The event as the webhook's body: the feed's JSON (schemas/events.schema.json)."""
    return orjson.dumps({"id": row.event_id, "type": row.type, "program": row.program,
                         "member_id": row.member_id, "at": row.at.astimezone(UTC).isoformat(),
                         "ruleset_version": row.ruleset_version,
                         "payload": row.payload}).decode()


# ---------------------------------------------------------------- send

def send(client: httpx.Client, item: Claimed, allow_private: bool = False
         ) -> tuple[bool, int | None, str | None]:
    """(delivered, HTTP status, what went wrong)."""
    if not allow_private and (why := refused(item.url)) is not None:
        return False, None, f"refused: {why}"[:500]
    headers = signed_headers(item.secret, item.event_id, item.body)
    try:
        response = client.post(item.url, content=item.body.encode(), headers=headers)
    except httpx.HTTPError as exc:
        return False, None, f"{type(exc).__name__}: {exc}"[:500]
    if response.is_success:
        return True, response.status_code, None
    return False, response.status_code, f"HTTP {response.status_code}"


def backoff(settings: WebhookSettings, attempts: int) -> float:
    """Seconds to wait after the `attempts`-th failed attempt."""
    return float(min(settings.max_backoff_seconds,
                     settings.backoff_seconds * 2 ** max(0, attempts - 1)))


def record(db: Database, settings: WebhookSettings, item: Claimed, delivered: bool,
           status: int | None, error: str | None) -> str:
    """Write what an attempt did. A delivery no longer `sending` (deleted subscription,
    or delivered by another worker after this one's lease ran out) is left as it is."""
    now = datetime.now(UTC)
    if delivered:
        values: dict[str, Any] = {"status": "delivered", "delivered_at": now,
                                  "last_status": status, "last_error": None}
    elif item.attempts >= item.max_attempts:
        values = {"status": "dead", "last_status": status, "last_error": error}
    else:
        values = {"status": "pending", "last_status": status, "last_error": error,
                  "next_attempt_at": now + timedelta(seconds=backoff(settings, item.attempts))}
    # A success counts even when the lease ran out and the delivery went back to pending.
    current = ("sending", "pending") if delivered else ("sending",)
    with db.writing() as session:
        session.execute(update(WebhookDeliveryRow).where(
            WebhookDeliveryRow.id == item.delivery, WebhookDeliveryRow.status.in_(current))
            .values(updated_at=now, **values))
    return str(values["status"])


def run(db: Database, settings: WebhookSettings | None = None) -> dict[str, Any]:
    """Queue what is new, then deliver what is due, round after round."""
    settings = settings or WebhookSettings()
    outcome: dict[str, int] = {"queued": queue(db)}
    with httpx.Client(timeout=settings.timeout_seconds) as client:
        for _ in range(ROUNDS):
            claimed = claim(db, settings)
            if not claimed:
                break
            for item in claimed:
                status = record(db, settings, item,
                                *send(client, item, settings.allow_private))
                outcome[status] = outcome.get(status, 0) + 1
    return outcome
