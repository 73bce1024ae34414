"""FIFO use of a member's lots by a redemption, and putting the points back on cancel.

A redemption at an instant draws only on lots that exist then (`occurred_at` at or before
it) and have not expired: the balance check (`spendable`) and the draw (`consume`) use
the same set. A refund's clawback and the repayment of a debt (store/debt.py) draw on
every unexpired lot (`draw(..., in_time=False)`).

Callers hold the member's row lock (PostgreSQL) or the database write lock (SQLite), so
nothing else moves these lots while they are read and changed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from store.models import LedgerEntryRow, LotAllocationRow


def _unexpired(member_pk: int, at: datetime, in_time: bool = True):  # type: ignore[no-untyped-def]
    """Lots with points left that have not expired at `at` (and, `in_time`, that exist
    at `at`: a redemption never draws points earned after its instant)."""
    found = (LedgerEntryRow.member_pk == member_pk, LedgerEntryRow.remaining > 0,
             or_(LedgerEntryRow.expires_at.is_(None), LedgerEntryRow.expires_at > at))
    return (*found, LedgerEntryRow.occurred_at <= at) if in_time else found


def spendable(session: Session, member_pk: int, at: datetime, in_time: bool = True) -> int:
    """Points a redemption at `at` may draw: left in lots that exist then and have not
    expired (`in_time=False`: whenever they were earned)."""
    return int(session.scalar(select(func.sum(LedgerEntryRow.remaining))
                              .where(*_unexpired(member_pk, at, in_time))) or 0)


def draw(session: Session, member_pk: int, debit: LedgerEntryRow, points: int, at: datetime,
         in_time: bool = True) -> tuple[list[tuple[LedgerEntryRow, int]], int]:
    """Draw up to `points` from the oldest lots (soonest expiry first, then oldest entry)
    unexpired at `at`; records each draw in `lot_allocations` against `debit`. Returns
    the draws and the points the lots could not cover."""
    lots = session.scalars(select(LedgerEntryRow).where(*_unexpired(member_pk, at, in_time))
                           .order_by(LedgerEntryRow.expires_at.is_(None),
                                     LedgerEntryRow.expires_at, LedgerEntryRow.id))
    used: list[tuple[LedgerEntryRow, int]] = []
    left = points
    for lot in lots:
        if left == 0:
            break
        points_now = min(left, lot.remaining or 0)
        if points_now <= 0:
            continue
        take(session, debit, lot, points_now)
        used.append((lot, points_now))
        left -= points_now
    return used, left


def take(session: Session, debit: LedgerEntryRow, lot: LedgerEntryRow, points: int) -> None:
    """Draw `points` from one given lot for `debit`."""
    lot.remaining = (lot.remaining or 0) - points
    session.add(LotAllocationRow(debit_entry_id=debit.id, lot_entry_id=lot.id, points=points))


def consume(session: Session, member_pk: int, debit: LedgerEntryRow, points: int,
            at: datetime) -> list[tuple[LedgerEntryRow, int]]:
    """A redemption's draw: all `points` from the lots that exist and have not expired at
    `at` (the caller checked `spendable`)."""
    used, left = draw(session, member_pk, debit, points, at)
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
