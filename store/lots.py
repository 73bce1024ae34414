"""FIFO use of a member's lots by a redemption, and putting the points back on cancel.

Callers hold the member's row lock (PostgreSQL) or the database write lock (SQLite), so
nothing else moves these lots while they are read and changed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from store.models import LedgerEntryRow, LotAllocationRow


def _unexpired(member_pk: int, at: datetime):  # type: ignore[no-untyped-def]
    return (LedgerEntryRow.member_pk == member_pk, LedgerEntryRow.remaining > 0,
            or_(LedgerEntryRow.expires_at.is_(None), LedgerEntryRow.expires_at > at))


def spendable(session: Session, member_pk: int, at: datetime) -> int:
    """Points left in lots that have not expired at `at`."""
    return int(session.scalar(select(func.sum(LedgerEntryRow.remaining))
                              .where(*_unexpired(member_pk, at))) or 0)


def consume(session: Session, member_pk: int, debit: LedgerEntryRow, points: int,
            at: datetime) -> list[tuple[LedgerEntryRow, int]]:
    """Draw `points` from the oldest unexpired lots (soonest expiry first, then oldest
    entry); records each draw in `lot_allocations` against `debit`."""
    lots = session.scalars(select(LedgerEntryRow).where(*_unexpired(member_pk, at)).order_by(
        LedgerEntryRow.expires_at.is_(None), LedgerEntryRow.expires_at, LedgerEntryRow.id))
    used: list[tuple[LedgerEntryRow, int]] = []
    left = points
    for lot in lots:
        if left == 0:
            break
        take = min(left, lot.remaining or 0)
        lot.remaining = (lot.remaining or 0) - take
        session.add(LotAllocationRow(debit_entry_id=debit.id, lot_entry_id=lot.id, points=take))
        used.append((lot, take))
        left -= take
    if left:
        raise AssertionError(f"lots short by {left} points for member {member_pk}")
    return used


def allocations(session: Session, debit_entry_id: int) -> list[tuple[LedgerEntryRow, int]]:
    rows = session.execute(select(LedgerEntryRow, LotAllocationRow.points)
                           .join(LotAllocationRow, LotAllocationRow.lot_entry_id == LedgerEntryRow.id)
                           .where(LotAllocationRow.debit_entry_id == debit_entry_id)
                           .order_by(LotAllocationRow.id))
    return [(lot, int(points)) for lot, points in rows]


def restore(session: Session, debit_entry_id: int) -> list[tuple[LedgerEntryRow, int]]:
    """Give each lot back what the debit took from it (its original expiry stays)."""
    used = allocations(session, debit_entry_id)
    for lot, points in used:
        lot.remaining = (lot.remaining or 0) + points
    return used


def restore_part(session: Session, debit_entry_id: int, skip: int,
                 points: int) -> list[tuple[LedgerEntryRow, int]]:
    """Give back `points` of what the debit took, after the first `skip` points already
    given back (allocations in the order they were drawn)."""
    given: list[tuple[LedgerEntryRow, int]] = []
    for lot, drawn in allocations(session, debit_entry_id):
        if points == 0:
            break
        passed = min(skip, drawn)
        skip -= passed
        take = min(drawn - passed, points)
        if take > 0:
            lot.remaining = (lot.remaining or 0) + take
            given.append((lot, take))
            points -= take
    return given
