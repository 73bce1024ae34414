"""Table models of domain events: the outbox every state change writes to in its own
transaction, the per-program counter that orders it, and webhook subscriptions with
their cursors and deliveries.

Same declarative base as `store/tables/core.py`; `store/tables/__init__.py` imports this
module so one metadata holds every table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.db.types import UTCDateTime
from store.tables.core import Base, BigId


class DomainEventRow(Base):
    """One domain event (engine/events). `position` is its place in the program's feed:
    the row is inserted just before its transaction commits, with a position taken under
    the program's `event_positions` row lock (store/events/outbox.py), so positions follow
    commit order without gaps."""

    __tablename__ = "domain_events"
    __table_args__ = (
        UniqueConstraint("program", "position", name="uq_domain_event_position"),
        Index("ix_domain_events_member", "program", "member_id", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    program: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    ruleset_version: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EventPositionRow(Base):
    """The last feed position given out in a program. A committing transaction that wrote
    events moves it with one UPDATE and holds its row lock until the commit."""

    __tablename__ = "event_positions"
    program: Mapped[str] = mapped_column(String(64), primary_key=True)
    last: Mapped[int] = mapped_column(BigInteger, default=0)


class WebhookSubscriptionRow(Base):
    """Where events are delivered: a URL, the event types (empty: all), a program filter
    (null: every program), the signing secret, and the attempts before a delivery is
    dead-lettered. Deleting a subscription marks it (`deleted_at`); its deliveries stay."""

    __tablename__ = "webhook_subscriptions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[Any]] = mapped_column(JSON)
    program: Mapped[str | None] = mapped_column(String(64), nullable=True)
    secret: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(500), default="")
    max_attempts: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookCursorRow(Base):
    """How far a subscription has read one program's feed: events up to `position` have
    their deliveries queued."""

    __tablename__ = "webhook_cursors"
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id"),
                                                 primary_key=True)
    program: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)


class WebhookDeliveryRow(Base):
    """One event to deliver to one subscription. `status`: pending (due at
    `next_attempt_at`), sending (claimed until `next_attempt_at`, the lease), delivered,
    or dead (its attempts ran out; redelivering makes it pending again)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_pk", name="uq_webhook_delivery"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_member", "subscription_id", "program", "member_id",
              "position"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    event_pk: Mapped[int] = mapped_column(ForeignKey("domain_events.id"))
    program: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str] = mapped_column(String(128))
    position: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
