"""Table models of codes: coupon codes of campaigns (single- or limited-use), and each
member's referral code.

Same declarative base as `store/tables/core.py`; `store/tables/__init__.py` imports this
module so one metadata holds every table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.db.types import UTCDateTime
from store.tables.core import Base, BigId


class CouponCodeRow(Base):
    """A coupon code of one campaign: `used` of `max_uses` taken by committed orders.
    A commit takes a use with one conditional UPDATE (`used < max_uses`), so concurrent
    commits never take more uses than there are; a full refund gives its use back."""

    __tablename__ = "coupon_codes"
    __table_args__ = (UniqueConstraint("program", "code", name="uq_coupon_code"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[str] = mapped_column(String(200))
    max_uses: Mapped[int] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(BigInteger, default=0)
    batch: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReferralCodeRow(Base):
    """A member's referral code in a program: one per member, unique in the program."""

    __tablename__ = "referral_codes"
    __table_args__ = (UniqueConstraint("program", "code", name="uq_referral_code"),
                      UniqueConstraint("program", "member_id", name="uq_referral_code_member"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(String(64))
    member_id: Mapped[str] = mapped_column(String(128))
    code: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
