"""Table models of reward inventory: stock per (program, reward) kept apart from ruleset
versions (restocking needs no new version), and the audit trail of every change.

Same declarative base as `store/tables/core.py`; registered by `store/tables/__init__.py`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from store.db.types import UTCDateTime
from store.tables.core import Base, BigId


class InventoryRow(Base):
    """A reward's stock in a program: `available` may be ordered or redeemed, `reserved`
    is held by orders not yet shipped (or awaiting approval). `low_stock`: when a change
    leaves `available` at or below it, a `low_stock` event is recorded (null: never)."""

    __tablename__ = "inventory"
    program: Mapped[str] = mapped_column(String(64), primary_key=True)
    reward_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    available: Mapped[int] = mapped_column(BigInteger)
    reserved: Mapped[int] = mapped_column(BigInteger, default=0)
    low_stock: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InventoryChangeRow(Base):
    """One change of a reward's stock, never updated: `kind` restock | adjust | seed |
    reserve | release | ship | redeem | threshold; the deltas, the quantities after it,
    who did it and why (an order number where an order caused it)."""

    __tablename__ = "inventory_changes"
    __table_args__ = (Index("ix_inventory_changes_reward", "program", "reward_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(String(64))
    reward_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    available_delta: Mapped[int] = mapped_column(BigInteger)
    reserved_delta: Mapped[int] = mapped_column(BigInteger)
    available_after: Mapped[int] = mapped_column(BigInteger)
    reserved_after: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    order_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
