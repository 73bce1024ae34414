"""Member rows: lookup, row-locked loading for writes, qualification-window statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.errors import NotFound
from store.models import MemberRow, OrderRow
from store.upsert import insert_ignore


@dataclass(frozen=True)
class Member:
    program: str
    member_id: str
    tier: str | None
    tier_since: datetime | None
    balance: int
    orders_count: int
    attributes: dict[str, Any]
    created_at: datetime


def view(row: MemberRow) -> Member:
    return Member(row.program, row.member_id, row.tier, row.tier_since, row.balance,
                  row.orders_count, dict(row.attributes or {}), row.created_at)


def find(session: Session, program: str, member_id: str) -> MemberRow | None:
    return session.scalar(select(MemberRow).where(
        MemberRow.program == program, MemberRow.member_id == member_id))


def get(session: Session, program: str, member_id: str) -> MemberRow:
    row = find(session, program, member_id)
    if row is None:
        raise NotFound("unknown_member", f"{program} has no member {member_id!r}")
    return row


def lock_or_create(session: Session, program: str, member_id: str, tier: str | None,
                   attributes: dict[str, Any] | None = None) -> MemberRow:
    """The member row, created when missing, locked for the rest of the transaction.

    PostgreSQL: SELECT … FOR UPDATE serializes writers per member. SQLite: the write
    transaction began IMMEDIATE, so it already holds the database's write lock."""
    locked = select(MemberRow).where(
        MemberRow.program == program, MemberRow.member_id == member_id).with_for_update() \
        .execution_options(populate_existing=True)
    row = session.scalar(locked)
    if row is not None:
        return row
    now = datetime.now(UTC)
    insert_ignore(session, MemberRow.__table__, {
        "program": program, "member_id": member_id, "tier": tier, "tier_since": None,
        "attributes": attributes or {}, "balance": 0, "orders_count": 0,
        "created_at": now, "updated_at": now,
    }, ["program", "member_id"])
    row = session.scalar(locked)
    assert row is not None
    return row


def merge_attributes(row: MemberRow, attributes: dict[str, Any] | None) -> None:
    """Callers may send fresher attributes (segments, birthday); stored ones fill gaps."""
    if attributes:
        merged = dict(row.attributes or {})
        merged.update(attributes)
        if merged != row.attributes:
            row.attributes = merged


def window_stats(session: Session, member_pk: int | None, start: datetime | None,
                 end: datetime) -> tuple[Decimal, int]:
    """Qualifying spend and counted orders placed in [start, end] (start None: lifetime)."""
    if member_pk is None:
        return Decimal(0), 0
    query = select(func.sum(OrderRow.qualifying_spend), func.count(OrderRow.id)).where(
        OrderRow.member_pk == member_pk, OrderRow.counted.is_(True), OrderRow.placed_at <= end)
    if start is not None:
        query = query.where(OrderRow.placed_at >= start)
    spend, count = session.execute(query).one()
    return (spend if spend is not None else Decimal(0)), int(count or 0)
