"""Notifications: members' preferences and the record of every message planned for them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.db.types import UTCDateTime
from store.tables.core import Base, BigId


class MemberPreferenceRow(Base):
    """A member's choices, per program: the channels they accept, their locale (null: the
    program's default), their email address and whether they refused marketing messages
    (transactional messages are sent all the same). No row: the defaults."""

    __tablename__ = "member_preferences"
    __table_args__ = (UniqueConstraint("program", "member_id", name="uq_member_preferences"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str] = mapped_column(String(128))
    channels: Mapped[list[Any]] = mapped_column(JSON)
    locale: Mapped[str | None] = mapped_column(String(35), nullable=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    marketing_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    # how the opt-out was last set: `api` (PUT preferences) or `unsubscribe` (the link)
    opt_out_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MessageRow(Base):
    """One message planned for a member for one domain event: one notification of the
    ruleset's `engagement:` (`template`, its id) on one channel; and what became of it: `pending` (to send), `sending` (claimed by a dispatcher until
    `next_attempt_at`), `sent`, `deferred` (quiet hours: sent at `next_attempt_at`),
    `suppressed` (never sent: `reason` says why) or `failed` (`reason` and `error`).
    One row per (event, notification, channel): planning an event twice adds nothing."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("event_id", "template", "channel", name="uq_message_event"),
        Index("ix_messages_member", "program", "member_id", "id"),
        Index("ix_messages_due", "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))  # email webhook
    template: Mapped[str] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(35), nullable=True)
    marketing: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # what is sent: subject, text and html (email) or the JSON body (webhook)
    content: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the event's instant
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class NotifyCursorRow(Base):
    """How far the notification dispatcher has planned a program's domain events: the feed
    position (store/events/outbox.py) of the last event planned. A dispatcher locks the row
    while it plans the events after it, so two never plan the same events."""

    __tablename__ = "notify_cursors"
    program: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
