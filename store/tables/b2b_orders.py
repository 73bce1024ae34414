"""Table models of B2B redemption orders: orders of several items placed for a company,
their items (each with its own fulfilment), who did each step, the order number
sequence, and the signed fulfilment callbacks received.

Same declarative base as `store/tables/core.py`; registered by `store/tables/__init__.py`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.db.types import UTCDateTime
from store.tables.core import Base, BigId


class OrderNumberRow(Base):
    """The last order number given out in a year (`B2B-<year>-<6 digits>`)."""

    __tablename__ = "b2b_order_numbers"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(BigInteger, default=0)


class B2BOrderRow(Base):
    """An order of a company. `status`: placing (being debited) | pending_approval |
    placed | partially_fulfilled | fulfilled | cancelled | failed. `reason` says why an
    order was cancelled (cancelled, rejected, expired) or failed."""

    __tablename__ = "b2b_orders"
    __table_args__ = (
        UniqueConstraint("number", name="uq_b2b_order_number"),
        UniqueConstraint("program", "company_id", "idempotency_key", name="uq_b2b_order_key"),
        Index("ix_b2b_orders_company", "program", "company_id", "id"),
        Index("ix_b2b_orders_status", "status", "created_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(32))
    program: Mapped[str] = mapped_column(String(64))
    company_id: Mapped[str] = mapped_column(String(128))
    account: Mapped[str] = mapped_column(String(128))
    service: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    total_points: Mapped[int] = mapped_column(BigInteger)
    points_credited: Mapped[int] = mapped_column(BigInteger, default=0)
    debited: Mapped[bool] = mapped_column(default=False)
    approval_threshold: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    requested_by: Mapped[str] = mapped_column(String(200))
    approved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), nullable=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    ruleset_version: Mapped[int] = mapped_column(Integer)
    approval_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class B2BOrderItemRow(Base):
    """One line of an order: `quantity` units of `reward_id` at `points` each. `route`:
    manual (physical goods: acknowledge → ship → deliver) or webhook (virtual goods:
    sent to the fulfilment API, delivered on its callback). `status`: awaiting_approval |
    queued | acknowledged | shipped | pending | sending | sent | delivered | failed |
    cancelled (| not_placed when the order failed). `stocked`: its units were reserved
    in the inventory."""

    __tablename__ = "b2b_order_items"
    __table_args__ = (UniqueConstraint("order_pk", "line", name="uq_b2b_order_item_line"),
                      Index("ix_b2b_order_items_queue", "program", "route", "status", "id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("b2b_orders.id"))
    program: Mapped[str] = mapped_column(String(64))
    line: Mapped[int] = mapped_column(Integer)
    reward_id: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(BigInteger)
    route: Mapped[str] = mapped_column(String(16))
    stocked: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(24))
    carrier: Mapped[str | None] = mapped_column(String(200), nullable=True)
    tracking: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class B2BOrderEventRow(Base):
    """Who did each step of an order (an item's when `line` is set), never updated."""

    __tablename__ = "b2b_order_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("b2b_orders.id"), index=True)
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    step: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class FulfilmentCallbackRow(Base):
    """A signed delivery callback received, by its `webhook-id`: a replay answers the
    first answer and changes nothing."""

    __tablename__ = "fulfilment_callbacks"
    __table_args__ = (UniqueConstraint("webhook_id", name="uq_fulfilment_callback"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    webhook_id: Mapped[str] = mapped_column(String(128))
    body_hash: Mapped[str] = mapped_column(String(64))
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
