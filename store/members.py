"""Member rows: lookup, row-locked loading for writes, qualification-window statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.engine import Row
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


def view(row: Any) -> Member:
    return Member(row.program, row.member_id, row.tier, row.tier_since, row.balance,
                  row.orders_count, dict(row.attributes or {}), row.created_at)


# Statements on the hot paths are built once: building one costs more than running it.
_MEMBERS = MemberRow.__table__
_ORDERS = OrderRow.__table__
_FIND = select(_MEMBERS).where(_MEMBERS.c.program == bindparam("program"),
                               _MEMBERS.c.member_id == bindparam("member_id"))
_LOCK = select(MemberRow).where(MemberRow.program == bindparam("program"),
                                MemberRow.member_id == bindparam("member_id")) \
    .with_for_update().execution_options(populate_existing=True)
_STATS_WHERE = (_ORDERS.c.member_pk == bindparam("member_pk"), _ORDERS.c.counted.is_(True),
                _ORDERS.c.placed_at <= bindparam("end"))
_STATS_COLUMNS = (func.sum(_ORDERS.c.qualifying_spend), func.count(_ORDERS.c.id))
_STATS = select(*_STATS_COLUMNS).where(*_STATS_WHERE)
_STATS_FROM = select(*_STATS_COLUMNS).where(*_STATS_WHERE,
                                            _ORDERS.c.placed_at >= bindparam("start"))


def find(session: Session | Connection, program: str, member_id: str) -> Row[Any] | None:
    """A read-only snapshot of the member row (attribute access like the model)."""
    return session.execute(_FIND, {"program": program, "member_id": member_id}).first()


def get(session: Session, program: str, member_id: str) -> Row[Any]:
    row = find(session, program, member_id)
    if row is None:
        raise NotFound("unknown_member", f"{program} has no member {member_id!r}")
    return row


def lock_or_create(session: Session, program: str, member_id: str, tier: str | None,
                   attributes: dict[str, Any] | None = None) -> MemberRow:
    """The member row, created when missing, locked for the rest of the transaction.

    PostgreSQL: SELECT … FOR UPDATE serializes writers per member. SQLite: the write
    transaction began IMMEDIATE, so it already holds the database's write lock."""
    params = {"program": program, "member_id": member_id}
    row = session.scalar(_LOCK, params)
    if row is not None:
        return row
    now = datetime.now(UTC)
    insert_ignore(session, MemberRow.__table__, {
        "program": program, "member_id": member_id, "tier": tier, "tier_since": None,
        "attributes": attributes or {}, "balance": 0, "orders_count": 0,
        "created_at": now, "updated_at": now,
    }, ["program", "member_id"])
    row = session.scalar(_LOCK, params)
    assert row is not None
    return row


def merge_attributes(row: MemberRow, attributes: dict[str, Any] | None) -> None:
    """Callers may send fresher attributes (segments, birthday); stored ones fill gaps."""
    if attributes:
        merged = dict(row.attributes or {})
        merged.update(attributes)
        if merged != row.attributes:
            row.attributes = merged


def window_stats(session: Session | Connection, member_pk: int | None, start: datetime | None,
                 end: datetime) -> tuple[Decimal, int]:
    """Qualifying spend and counted orders placed in [start, end] (start None: lifetime)."""
    if member_pk is None:
        return Decimal(0), 0
    params = {"member_pk": member_pk, "end": end, "start": start}
    row = session.execute(_STATS if start is None else _STATS_FROM, params).one()
    spend, count = row[0], row[1]
    return (spend if spend is not None else Decimal(0)), int(count or 0)
