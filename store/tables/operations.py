"""Table models of the points lifecycle beyond redemptions themselves: members'
automatic redemption settings, the delivery of rewards, external points transfers,
referrals, enrolments, and how far `loyalty import` got with a history.

Same declarative base as `store/tables/core.py`; `store.tables.redemptions` imports this module
so one metadata holds every table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.db.types import UTCDateTime
from store.tables.core import Base, BigId


class AutoRedemptionRow(Base):
    """A member's opt-in to automatic redemption: when a commit leaves the balance at or
    above `threshold`, `unit` points are redeemed (paid out by `method`), at most
    `frequency_count` times per `frequency_per` period (no limit when null)."""

    __tablename__ = "auto_redemptions"
    __table_args__ = (UniqueConstraint("member_pk", name="uq_auto_redemption_member"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(String(64))
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    threshold: Mapped[int] = mapped_column(Integer)
    unit: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(32))  # cashback statement_credit
    frequency_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    frequency_per: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FulfilmentRow(Base):
    """How a reward redemption reaches the member: `route` manual (physical goods: an
    operator works the queue and acknowledges) or webhook (virtual goods: the fulfilment
    API is called, retried with backoff). `status`: queued → acknowledged (manual);
    pending → sending → delivered | failed (webhook); cancelled with the redemption.
    `next_attempt_at` is when a pending delivery is due, or a sending one's lease ends."""

    __tablename__ = "fulfilments"
    __table_args__ = (
        UniqueConstraint("redemption_pk", name="uq_fulfilment_redemption"),
        Index("ix_fulfilments_queue", "program", "route", "status", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    redemption_pk: Mapped[int] = mapped_column(ForeignKey("redemptions.id"))
    program: Mapped[str] = mapped_column(String(64))
    route: Mapped[str] = mapped_column(String(16))  # manual webhook
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ExternalDebitRow(Base):
    """Journal of a debit on an external loyalty points API, by idempotency key.
    `status`: debiting (sent, outcome unknown) → debited → committed (the order went
    through) | compensating → compensated (credited back); rejected (the API refused)."""

    __tablename__ = "external_debits"
    __table_args__ = (UniqueConstraint("program", "idempotency_key", name="uq_external_debit"),
                      Index("ix_external_debits_status", "status", "id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(200))  # a prefix and an API id
    account: Mapped[str] = mapped_column(String(128))
    points: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ExternalTransferRow(Base):
    """Outbox of credits and debits owed to an external points API: points a member of
    an external-account program earned (or lost to a refund) in the platform's ledger,
    and points given back when a redemption is cancelled or a hold released. Written in
    the same transaction as their cause (`ledger_entry_id`, or the redemption); sent by
    the `external_points` job with `idempotency_key`, so a resend is applied once.
    `status`: pending → sending (leased until `next_attempt_at`) → done | rejected (the
    API refused it; an operator looks at it) ; a failed attempt goes back to pending
    with backoff."""

    __tablename__ = "external_transfers"
    __table_args__ = (
        UniqueConstraint("program", "idempotency_key", name="uq_external_transfer_key"),
        UniqueConstraint("ledger_entry_id", name="uq_external_transfer_entry"),
        Index("ix_external_transfers_due", "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(String(64))
    service: Mapped[str] = mapped_column(String(64))
    account: Mapped[str] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(8))  # credit debit
    points: Mapped[int] = mapped_column(BigInteger)
    idempotency_key: Mapped[str] = mapped_column(String(200))  # a prefix and an API id
    ledger_entry_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    redemption_pk: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReferralRow(Base):
    """Who referred whom in a program: one row per referred friend (a friend is referred
    once per program), written with the referral activity that paid for it. The chain of
    `referrer_id`s is what circular referrals are checked against."""

    __tablename__ = "referrals"
    __table_args__ = (UniqueConstraint("program", "friend_id", name="uq_referral_friend"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(String(64))
    friend_id: Mapped[str] = mapped_column(String(128))
    referrer_id: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EnrolmentRow(Base):
    """A member's enrolment (`POST …/members`): when they joined, with what attributes
    and tier, and the answer (account-creation bonus, referral), replayed to a retry with
    the same `event_id`. A member is enrolled once."""

    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("program", "event_id", name="uq_enrolment_event"),
                      UniqueConstraint("member_pk", name="uq_enrolment_member"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(128))
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"))
    request_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ImportRow(Base):
    """How far `loyalty import` got with a history under one key prefix: the lines done
    (`line`) and the SHA-256 of those lines (`digest`), so a re-run resumes after them
    and refuses a file whose imported part has changed."""

    __tablename__ = "imports"
    __table_args__ = (UniqueConstraint("program", "key_prefix", name="uq_import_prefix"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(String(64))
    key_prefix: Mapped[str] = mapped_column(String(64))
    line: Mapped[int] = mapped_column(Integer, default=0)
    digest: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ImportRefusalRow(Base):
    """What the service refused of an imported line (`part`: the event, or the hold or
    bonus that came with it): `outcome` declined (a redemption or an activity the rules
    refuse, counted as the simulator counts it) or rejected (the event could not be
    applied). Kept so that a re-run never tries the line again at a later state."""

    __tablename__ = "import_refusals"
    __table_args__ = (UniqueConstraint("import_pk", "line", "part", name="uq_import_refusal"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    import_pk: Mapped[int] = mapped_column(ForeignKey("imports.id"))
    line: Mapped[int] = mapped_column(Integer)
    part: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))  # declined rejected
    codes: Mapped[list[str]] = mapped_column(JSON)
    message: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SimulationRunRow(Base):
    """A simulation started from the console (store/console/simulations.py): a version
    replayed over a generated history or the store's recorded one. `status`: queued →
    exporting | generating → simulating → done | failed; `done` of `total` history lines
    replayed, written as it goes (`updated_at`: the running process's last sign of
    life); the report's totals and its HTML once done."""

    __tablename__ = "simulation_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))  # generated recorded
    members: Mapped[int | None] = mapped_column(Integer, nullable=True)
    events: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seed: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    started_by: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    done: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    totals: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    report_html: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
