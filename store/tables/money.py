"""Cashback: money owed to members, one entry per move the lifecycle core decided."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.db.types import Money, UTCDateTime
from store.tables.core import Base, BigId


class CashbackEntryRow(Base):
    """Append-only but for the payout columns: an order's cashback (`issue`, positive) or
    a refund's reversal of it (`reverse`, negative). A payout (the `cashback.payout` job)
    marks a member's unpaid entries paid at once (`paid_at`, `payout_ref`)."""

    __tablename__ = "cashback_entries"
    __table_args__ = (
        Index("ix_cashback_member_id", "member_pk", "id"),
        Index("ix_cashback_unpaid", "program", "paid_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"))
    program: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # issue reverse
    amount: Mapped[Decimal] = mapped_column(Money())
    source_type: Mapped[str] = mapped_column(String(16))  # order refund
    source_ref: Mapped[str] = mapped_column(String(300))
    ruleset_version: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    payout_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
