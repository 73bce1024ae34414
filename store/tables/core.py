"""Table models. Only the repository modules in `store/` import these."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

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
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.db.types import Money, UTCDateTime

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class ProgramRow(Base):
    __tablename__ = "programs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RulesetVersionRow(Base):
    """An immutable published ruleset version; sources are the YAML files as uploaded."""

    __tablename__ = "ruleset_versions"
    __table_args__ = (UniqueConstraint("program", "version", name="uq_ruleset_version"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(ForeignKey("programs.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(80))
    sources: Mapped[dict[str, Any]] = mapped_column(JSON)
    author: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text, default="")
    effective_from: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # `approvals: {required: N}` as declared by this version (0: none declared)
    approvals_required: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ApprovalRow(Base):
    """One approval of a published version, by an actor other than its publisher."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("program", "version", "actor", name="uq_approval_actor"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(ForeignKey("programs.id"))
    version: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class ActivationRow(Base):
    """Activation history: from `effective_from` on, `version` is the program's live one."""

    __tablename__ = "activations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(ForeignKey("programs.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime())
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    author: Mapped[str] = mapped_column(String(200))


class RegistryGenerationRow(Base):
    """One row; bumped by every publish/activation so workers know to reload."""

    __tablename__ = "registry_generation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


class MemberRow(Base):
    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("program", "member_id", name="uq_member"),
                      Index("ix_members_due", "program", "due_at"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str] = mapped_column(String(128))
    tier: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tier_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)  # cache of sum(ledger.points)
    orders_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The member's book (engine.lifecycle.book JSON): the state the lifecycle core reads
    # and changes; the columns above are kept from it for reads that need no book.
    book: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # When time alone next changes the book's points (a lot expires, a hold times out).
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # kept from the book: active, suspended or closed (engine/lifecycle/status.py)
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    # when the member's personal attributes were erased on request (null: never)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LedgerEntryRow(Base):
    """Append-only. A positive entry with `remaining` is a lot (consumed oldest first)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_member_id", "member_pk", "id"),
        Index("ix_ledger_member_expiry", "member_pk", "expires_at"),
        Index("ix_ledger_source", "program", "source_type", "source_ref"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"))
    program: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # earn bonus redeem expire reverse adjust
    points: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ruleset_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rule: Mapped[str | None] = mapped_column(String(200), nullable=True)
    source_type: Mapped[str] = mapped_column(String(16))  # order refund activity redemption admin
    source_ref: Mapped[str] = mapped_column(String(300))  # ids composed: <order>/<refund>
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), nullable=True)
    lot: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the book lot credited
    draws: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)  # [[lot, points]]
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LotAllocationRow(Base):
    """Which lot a debit (redeem, expire, reverse) drew its points from."""

    __tablename__ = "lot_allocations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    debit_entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    lot_entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    points: Mapped[int] = mapped_column(BigInteger)


class HoldRow(Base):
    """Points reserved for a checkout before its order is committed (used by redemptions)."""

    __tablename__ = "holds"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    program: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(200))
    points: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # held captured released
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class UsageCounterRow(Base):
    """Per-member counters: cap spend per rule and period, campaign uses, activity counts."""

    __tablename__ = "usage_counters"
    __table_args__ = (
        UniqueConstraint("member_pk", "kind", "key", "period", name="uq_usage_counter"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(16))  # cap campaign activity challenge
    key: Mapped[str] = mapped_column(String(200))
    period: Mapped[str] = mapped_column(String(64), default="")
    amount: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CampaignBudgetRow(Base):
    __tablename__ = "campaign_budgets"
    program: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    points_used: Mapped[int] = mapped_column(BigInteger, default=0)


class RewardStockRow(Base):
    __tablename__ = "reward_stock"
    program: Mapped[str] = mapped_column(String(64), primary_key=True)
    reward_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    issued: Mapped[int] = mapped_column(BigInteger, default=0)


class OrderRow(Base):
    """A committed order: the request hash and first result make commits idempotent."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("program", "order_id", name="uq_order"),
        Index("ix_orders_member_placed", "member_pk", "placed_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(128))
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"))
    request_hash: Mapped[str] = mapped_column(String(64))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    ruleset_version: Mapped[int] = mapped_column(Integer)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    qualifying_spend: Mapped[Decimal] = mapped_column(Money())  # after refunds
    original_spend: Mapped[Decimal] = mapped_column(Money())
    refunded_fraction: Mapped[Decimal] = mapped_column(Money(), default=Decimal(0))
    counted: Mapped[bool] = mapped_column(Boolean, default=True)  # false once fully refunded
    record: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # OrderRecord
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RefundRow(Base):
    __tablename__ = "refunds"
    __table_args__ = (UniqueConstraint("order_pk", "refund_id", name="uq_refund"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    refund_id: Mapped[str] = mapped_column(String(128))
    request_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ActivityEventRow(Base):
    __tablename__ = "activity_events"
    __table_args__ = (UniqueConstraint("program", "event_id", name="uq_activity_event"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(128))
    member_pk: Mapped[int] = mapped_column(ForeignKey("members.id"))
    activity: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiKeyRow(Base):
    """Only the SHA-256 of a key is stored; the key itself is shown once at creation."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200), default="")
    scopes: Mapped[list[Any]] = mapped_column(JSON)
    program: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AuditRow(Base):
    __tablename__ = "audit_log"
    # newest-first pages filtered by program or by actor (GET /v1/audit)
    __table_args__ = (Index("ix_audit_program_id", "program", "id"),
                      Index("ix_audit_actor_id", "actor", "id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    program: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ConsoleSecretRow(Base):
    """The web console's cookie-signing secret when no LOYALTY_CONSOLE_SECRET is set: made
    once by the first worker that needs it, so every worker signs and checks alike."""

    __tablename__ = "console_secret"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
