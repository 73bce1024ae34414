"""Table models of the B2B portal: companies of a program, their account managers and the
managers' personal API keys.

A company is the program's customer whose points live in an external points account
(`loyalty_account_id`); its account managers act for it with a role. Same declarative
base as `store/tables/core.py`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.db.types import UTCDateTime
from store.tables.core import Base, BigId


class CompanyRow(Base):
    """A company of a program. `company_id` is its public id (in URLs); `tier` a tier id of
    the program's ruleset; `approval_threshold` the points above which an order waits for
    an approver (null: never)."""

    __tablename__ = "companies"
    __table_args__ = (
        UniqueConstraint("program", "company_id", name="uq_company_id"),
        UniqueConstraint("program", "loyalty_account_id", name="uq_company_account"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(ForeignKey("programs.id"))
    company_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    loyalty_account_id: Mapped[str] = mapped_column(String(128))
    tier: Mapped[str] = mapped_column(String(64))
    approval_threshold: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AccountManagerRow(Base):
    """A person acting for one company, with a role: viewer, requester, approver or
    company_admin (store/b2b/principals.py says what each may do)."""

    __tablename__ = "account_managers"
    __table_args__ = (
        UniqueConstraint("program", "manager_id", name="uq_account_manager_id"),
        Index("ix_account_managers_company", "company_pk", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(ForeignKey("programs.id"))
    company_pk: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    manager_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ManagerKeyRow(Base):
    """A manager's personal API key (`lmk_…`). Only its SHA-256 is stored; the key itself
    is shown once when it is issued."""

    __tablename__ = "manager_keys"
    __table_args__ = (Index("ix_manager_keys_manager", "manager_pk", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    manager_pk: Mapped[int] = mapped_column(ForeignKey("account_managers.id"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
