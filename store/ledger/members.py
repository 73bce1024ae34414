"""Member rows: lookup, and row-locked loading for writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from engine.evaluation.request import Request
from store.db.upsert import insert_ignore
from store.errors import NotFound
from store.tables.core import MemberRow


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
_FIND = select(_MEMBERS).where(_MEMBERS.c.program == bindparam("program"),
                               _MEMBERS.c.member_id == bindparam("member_id"))
_LOCK = select(MemberRow).where(MemberRow.program == bindparam("program"),
                                MemberRow.member_id == bindparam("member_id")) \
    .with_for_update().execution_options(populate_existing=True)


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
    row = session.scalar(_LOCK, {"program": program, "member_id": member_id})
    if row is not None:
        return row
    return create_locked(session, program, member_id, tier, attributes)


def create_locked(session: Session, program: str, member_id: str, tier: str | None,
                  attributes: dict[str, Any] | None = None) -> MemberRow:
    """`lock_or_create` after a locking read found no row: the row created (or, when a
    racing writer created it first, theirs), then locked."""
    now = datetime.now(UTC)
    insert_ignore(session, MemberRow.__table__, {
        "program": program, "member_id": member_id, "tier": tier, "tier_since": None,
        "attributes": attributes or {}, "balance": 0, "orders_count": 0,
        "created_at": now, "updated_at": now,
    }, ["program", "member_id"])
    row = session.scalar(_LOCK, {"program": program, "member_id": member_id})
    assert row is not None
    return row


def with_stored_attributes(req: Request, member: MemberRow | Row[Any] | None) -> Request:
    """The request as the engine sees it in server mode: the member's stored attributes
    fill the gaps of those sent (an attribute sent as null is left out, as the API's
    models leave it out)."""
    sent = req.member.get("attributes") or {}
    if None in sent.values():
        sent = {k: v for k, v in sent.items() if v is not None}
    elif member is None or not member.attributes:
        return req
    stored = member.attributes if member is not None else None
    return req._replace(member={**req.member, "attributes": {**(stored or {}), **sent}})
