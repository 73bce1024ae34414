"""The append-only points ledger.

Every change of a balance is one entry: earn, bonus, redeem, expire, reverse or adjust,
with the ruleset version and rule that produced it and what caused it (`source_type`,
`source_ref`). A positive earn/bonus entry is a *lot*: it carries its expiry and how many
of its points are still `remaining`; debits record which lots they drew from in
`lot_allocations`, which is what FIFO redemption and expiry build on. The member row's
`balance` is the sum of the entries, updated in the same transaction. A `reverse` entry
with a negative `remaining` is a debt (store/debt.py): the balance is then below zero,
and it is also the sum of `remaining` over the member's entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import Session

import store.clock as clock
from store.models import LedgerEntryRow, LotAllocationRow, MemberRow

KINDS = ("earn", "bonus", "redeem", "expire", "reverse", "adjust")
LOT_KINDS = ("earn", "bonus", "adjust")


@dataclass(frozen=True)
class Entry:
    id: int
    kind: str
    points: int
    remaining: int | None
    expires_at: datetime | None
    ruleset_version: int | None
    rule: str | None
    source_type: str
    source_ref: str
    occurred_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "points": self.points,
            "remaining": self.remaining,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "ruleset_version": self.ruleset_version, "rule": self.rule,
            "source": {"type": self.source_type, "ref": self.source_ref},
            "occurred_at": self.occurred_at.isoformat(),
        }


def _entry(row: LedgerEntryRow) -> Entry:
    return Entry(row.id, row.kind, row.points, row.remaining, row.expires_at,
                 row.ruleset_version, row.rule, row.source_type, row.source_ref, row.occurred_at)


def append(session: Session, member: MemberRow, kind: str, points: int, *, version: int | None,
           rule: str | None, source_type: str, source_ref: str, occurred_at: datetime,
           expires_at: datetime | None = None, lot: LedgerEntryRow | None = None) -> LedgerEntryRow:
    """Append one entry and move the cached balance with it; lots start fully remaining."""
    assert kind in KINDS, kind
    is_lot = kind in LOT_KINDS and points > 0
    row = LedgerEntryRow(
        member_pk=member.id, program=member.program, kind=kind, points=points,
        remaining=points if is_lot else None, expires_at=expires_at if is_lot else None,
        ruleset_version=version, rule=rule, source_type=source_type, source_ref=source_ref,
        lot_id=lot.id if lot is not None else None, occurred_at=occurred_at,
        recorded_at=datetime.now(UTC))
    session.add(row)
    member.balance += points
    if lot is not None and points < 0:
        session.flush()
        take = max(0, min(-points, lot.remaining or 0))
        lot.remaining = (lot.remaining or 0) - take
        if take:
            session.add(LotAllocationRow(debit_entry_id=row.id, lot_entry_id=lot.id, points=take))
    return row


def append_lots(session: Session, member: MemberRow, lots: list[dict[str, Any]], *,
                version: int | None, source_ref: str, occurred_at: datetime,
                expires_at: datetime | None) -> int:
    """Append several new lots (`kind`, `points`, `rule`, `source_type`) in one statement;
    returns their points. Used by commits, where nothing needs the new rows' ids."""
    now = datetime.now(UTC)
    rows = [{"member_pk": member.id, "program": member.program, "kind": lot["kind"],
             "points": lot["points"], "remaining": lot["points"], "expires_at": expires_at,
             "ruleset_version": version, "rule": lot["rule"], "source_type": lot["source_type"],
             "source_ref": lot.get("source_ref", source_ref), "lot_id": None,
             "occurred_at": occurred_at, "recorded_at": now}
            for lot in lots if lot["points"] > 0]
    if rows:
        session.execute(insert(LedgerEntryRow), rows)
    total = sum(r["points"] for r in rows)
    member.balance += total
    return total


def lots_of(session: Session, program: str, source_type: str, source_ref: str) -> list[LedgerEntryRow]:
    return list(session.scalars(select(LedgerEntryRow).where(
        LedgerEntryRow.program == program, LedgerEntryRow.source_type == source_type,
        LedgerEntryRow.source_ref == source_ref, LedgerEntryRow.remaining.is_not(None))
        .order_by(LedgerEntryRow.id)))


def reversed_from(session: Session, lot_ids: list[int], kind: str = "reverse") -> dict[int, int]:
    """Points already reversed per lot (positive numbers); `kind="expire"`: expired."""
    if not lot_ids:
        return {}
    rows = session.execute(select(LedgerEntryRow.lot_id, func.sum(LedgerEntryRow.points)).where(
        LedgerEntryRow.lot_id.in_(lot_ids), LedgerEntryRow.kind == kind)
        .group_by(LedgerEntryRow.lot_id))
    return {lot_id: -int(total) for lot_id, total in rows if lot_id is not None}


_DUE = select(LedgerEntryRow).where(
    LedgerEntryRow.member_pk == bindparam("member_pk"), LedgerEntryRow.remaining > 0,
    LedgerEntryRow.expires_at <= bindparam("at")).order_by(LedgerEntryRow.expires_at,
                                                           LedgerEntryRow.id)


def expire_due(session: Session, member: MemberRow, at: datetime) -> int:
    """Write `expire` entries for lots whose expiry is at or before `at` — never ahead of
    the server clock, whatever instant a request carries; returns points."""
    at = clock.not_after_now(at)
    due = list(session.scalars(_DUE, {"member_pk": member.id, "at": at}))
    total = 0
    for lot in due:
        points = lot.remaining or 0
        append(session, member, "expire", -points, version=lot.ruleset_version, rule="redemption.expiry",
               source_type="expiry", source_ref=str(lot.id), occurred_at=lot.expires_at or at, lot=lot)
        total += points
    return total


def expiring(session: Session, member_pk: int, as_of: datetime, days: tuple[int, ...]) -> dict[str, int]:
    """Points still remaining in lots that expire within each horizon after `as_of`."""
    out = {}
    for horizon in days:
        total = session.scalar(select(func.sum(LedgerEntryRow.remaining)).where(
            LedgerEntryRow.member_pk == member_pk, LedgerEntryRow.remaining > 0,
            LedgerEntryRow.expires_at > as_of,
            LedgerEntryRow.expires_at <= as_of + timedelta(days=horizon)))
        out[f"{horizon}_days"] = int(total or 0)
    return out


def page(session: Session, member_pk: int, after: int | None, limit: int) -> tuple[list[Entry], int | None]:
    """Newest first; `after` is the cursor (an entry id) returned by the previous page."""
    query = select(LedgerEntryRow).where(LedgerEntryRow.member_pk == member_pk)
    if after is not None:
        query = query.where(LedgerEntryRow.id < after)
    rows = list(session.scalars(query.order_by(LedgerEntryRow.id.desc()).limit(limit + 1)))
    entries = [_entry(r) for r in rows[:limit]]
    return entries, (entries[-1].id if len(rows) > limit else None)


def balance_from_entries(session: Session, member_pk: int) -> int:
    return int(session.scalar(select(func.sum(LedgerEntryRow.points)).where(
        LedgerEntryRow.member_pk == member_pk)) or 0)
