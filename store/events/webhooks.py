"""Webhook subscriptions (create, list, delete) and their deliveries (list, redeliver).
What is delivered and when is store/events/delivery.py's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from engine.events import EVENT_TYPES
from store.db.database import Database
from store.errors import Conflict, NotFound, Unprocessable
from store.events.signing import check_secret, new_secret
from store.registry.versions import require_program
from store.tables.events import (
    DomainEventRow,
    EventPositionRow,
    WebhookCursorRow,
    WebhookDeliveryRow,
    WebhookSubscriptionRow,
)

DEFAULT_ATTEMPTS = 8
DELIVERY_STATUSES = ("pending", "sending", "delivered", "dead")


@dataclass(frozen=True)
class NewSubscription:
    url: str
    event_types: tuple[str, ...] = ()
    program: str | None = None
    secret: str | None = None
    description: str = ""
    max_attempts: int = DEFAULT_ATTEMPTS


def _view(row: WebhookSubscriptionRow, secret: bool = False) -> dict[str, Any]:
    view = {"id": str(row.id), "url": row.url, "event_types": list(row.event_types),
            "program": row.program, "description": row.description,
            "max_attempts": row.max_attempts, "created_by": row.created_by,
            "created_at": row.created_at.isoformat(),
            "secret_hint": row.secret[:10] + "…"}
    if secret:
        view["secret"] = row.secret
    return view


def create(db: Database, new: NewSubscription, actor: str) -> dict[str, Any]:
    """A subscription; it receives the events committed from now on. The answer is the
    only one that shows the secret."""
    unknown = [t for t in new.event_types if t not in EVENT_TYPES]
    if unknown:
        raise Unprocessable("unknown_event_type", f"unknown event type {unknown[0]!r}; known: "
                            f"{', '.join(EVENT_TYPES)}", "/event_types")
    if new.secret is not None and (why := check_secret(new.secret)):
        raise Unprocessable("invalid_secret", why, "/secret")
    now = datetime.now(UTC)
    with db.writing() as session:
        if new.program is not None:
            require_program(session, new.program)
        row = WebhookSubscriptionRow(
            url=new.url, event_types=sorted(set(new.event_types)), program=new.program,
            secret=new.secret or new_secret(), description=new.description,
            max_attempts=new.max_attempts, created_by=actor, created_at=now)
        session.add(row)
        session.flush()
        # Start at the feeds' ends: only events committed from now on are delivered.
        # (A program whose feed starts later is read from its beginning.)
        positions = select(EventPositionRow.program, EventPositionRow.last)
        if new.program is not None:
            positions = positions.where(EventPositionRow.program == new.program)
        for program, last in session.execute(positions):
            session.add(WebhookCursorRow(subscription_id=row.id, program=program, position=last))
        return _view(row, secret=True)


def _find(session: Any, subscription_id: str) -> WebhookSubscriptionRow:
    row = session.get(WebhookSubscriptionRow, int(subscription_id)) \
        if subscription_id.isdigit() else None
    if row is None or row.deleted_at is not None:
        raise NotFound("unknown_webhook", f"no webhook subscription {subscription_id}")
    return row


def listing(db: Database) -> dict[str, Any]:
    with db.reading() as session:
        rows = session.scalars(select(WebhookSubscriptionRow).where(
            WebhookSubscriptionRow.deleted_at.is_(None)).order_by(WebhookSubscriptionRow.id))
        return {"webhooks": [_view(row) for row in rows]}


def get(db: Database, subscription_id: str) -> dict[str, Any]:
    with db.reading() as session:
        return _view(_find(session, subscription_id))


def delete(db: Database, subscription_id: str) -> dict[str, Any]:
    """Stop delivering to a subscription; deliveries not yet made are dropped (dead), its
    delivery history stays."""
    now = datetime.now(UTC)
    with db.writing() as session:
        row = _find(session, subscription_id)
        row.deleted_at = now
        session.execute(update(WebhookDeliveryRow).where(
            WebhookDeliveryRow.subscription_id == row.id,
            WebhookDeliveryRow.status.in_(("pending", "sending")))
            .values(status="dead", last_error="subscription deleted", updated_at=now))
        return {**_view(row), "deleted_at": now.isoformat()}


def _delivery_view(row: WebhookDeliveryRow, event_id: str, event_type: str) -> dict[str, Any]:
    def iso(at: datetime | None) -> str | None:
        return at.isoformat() if at else None

    return {"id": str(row.id), "webhook_id": str(row.subscription_id), "event_id": event_id,
            "event_type": event_type, "program": row.program, "member_id": row.member_id,
            "status": row.status, "attempts": row.attempts,
            "next_attempt_at": iso(row.next_attempt_at) if row.status == "pending" else None,
            "last_status": row.last_status, "last_error": row.last_error,
            "delivered_at": iso(row.delivered_at), "created_at": iso(row.created_at)}


def deliveries(db: Database, subscription_id: str, status: str | None, after: int | None,
               limit: int) -> dict[str, Any]:
    """A subscription's deliveries, oldest first, after cursor `after`."""
    with db.reading() as session:
        sub = _find(session, subscription_id)
        query = (select(WebhookDeliveryRow, DomainEventRow.event_id, DomainEventRow.type)
                 .join(DomainEventRow, DomainEventRow.id == WebhookDeliveryRow.event_pk)
                 .where(WebhookDeliveryRow.subscription_id == sub.id)
                 .order_by(WebhookDeliveryRow.id).limit(limit + 1))
        if status is not None:
            query = query.where(WebhookDeliveryRow.status == status)
        if after is not None:
            query = query.where(WebhookDeliveryRow.id > after)
        rows = session.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"webhook_id": subscription_id,
            "deliveries": [_delivery_view(r, eid, etype) for r, eid, etype in rows],
            "next_cursor": str(rows[-1][0].id) if more else None}


def redeliver(db: Database, subscription_id: str, delivery_id: str) -> dict[str, Any]:
    """Send a delivery again as soon as the job runs (a dead one, or one delivered): its
    attempts start over. One being sent now is a conflict."""
    now = datetime.now(UTC)
    with db.writing() as session:
        sub = _find(session, subscription_id)
        row = session.get(WebhookDeliveryRow, int(delivery_id), with_for_update=True) \
            if delivery_id.isdigit() else None
        if row is None or row.subscription_id != sub.id:
            raise NotFound("unknown_delivery", f"no delivery {delivery_id} of webhook "
                           f"{subscription_id}")
        if row.status == "sending" and row.next_attempt_at and row.next_attempt_at > now:
            raise Conflict("delivery_in_flight", f"delivery {delivery_id} is being sent now")
        row.status, row.attempts, row.next_attempt_at = "pending", 0, now
        row.last_error, row.updated_at = None, now
        event = session.get(DomainEventRow, row.event_pk)
        assert event is not None
        return _delivery_view(row, event.event_id, event.type)
