"""Table models of the redemption side: redemptions and their status history.

Kept apart from `store/tables/core.py` (same declarative base) so the checkout tables and the
redemption tables can evolve separately; `store.tables.core` imports this module so one
metadata holds every table.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.db.types import Money, UTCDateTime
from store.tables.core import Base, BigId


class RedemptionRow(Base):
    """One redemption: points against an order or a catalog reward.

    `status`: completed | held (checkout hold, not yet captured) | captured | released |
    cancelled. The points left the ledger in entry `ledger_entry_id` (lots in
    `lot_allocations`); a cancel writes `reversal_entry_id`."""

    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("program", "idempotency_key", name="uq_redemption_key"),
        Index("ix_redemptions_member", "member_pk", "id"),
        Index("ix_redemptions_order", "program", "order_id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(String(64))
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(16))  # points reward
    reward_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    points: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[Decimal] = mapped_column(Money())
    status: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    order_total: Mapped[Decimal | None] = mapped_column(Money(), nullable=True)
    reward_code: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    ruleset_version: Mapped[int] = mapped_column(Integer)
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"),
                                                        nullable=True)
    reversal_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"),
                                                          nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Programs whose balances live in an external points API: the API and the account
    # debited (null: the platform's own ledger paid it).
    external_service: Mapped[str | None] = mapped_column(String(64), nullable=True)
    external_account: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # The first answers, replayed byte for byte: to the redemption (a retry with its
    # idempotency key) and to its cancel (cancelling again).
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    cancel_result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # What the lifecycle core needs to put the points back (engine.lifecycle RedemptionRecord).
    record: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class RedemptionEventRow(Base):
    """Status history of a redemption (created, cancelled, captured, fulfilment steps)."""

    __tablename__ = "redemption_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    redemption_pk: Mapped[int] = mapped_column(ForeignKey("redemptions.id"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
