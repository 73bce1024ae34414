"""Negative balances: a refund under `refund_policy: clawback` takes back points that were
already spent, and what the member's points cannot cover becomes a debt.

A debt is recorded on the refund's `reverse` entry itself: its `remaining` is negative
(minus the points still owed), so a member's balance stays the sum of the ledger entries
*and* the sum of `remaining` over all entries. Points that arrive later — a new lot, or
points that come back to a lot when a redemption is cancelled, a hold released or a
captured hold refunded — repay the debt before anything else (engine/lifecycle/policies.py
`repayment`): `settle` draws them from their lots to the oldest debt, recorded in
`lot_allocations` like any debit's draw. Hence a member never has both a debt and points
left in an unexpired lot, and expiry — which only takes points left in lots — never
creates nor deepens a debt.

Callers hold the member's row lock, as for every change of a member's points.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

import store.lots as lots
from engine.lifecycle.policies import repayment
from store.models import LedgerEntryRow, MemberRow


def claw_back(session: Session, member: MemberRow, entry: LedgerEntryRow, points: int,
              at: datetime) -> int:
    """`points` of the refund's reverse `entry` that its own lot no longer held: draw them
    from the member's other unexpired lots (oldest first); what they cannot cover stays
    on the entry as debt. Returns the debt."""
    session.flush()
    _, short = lots.draw(session, member.id, entry, points, at, in_time=False)
    if short:
        entry.remaining = (entry.remaining or 0) - short
    return short


def settle(session: Session, member: MemberRow, at: datetime,
           first: list[LedgerEntryRow] | None = None) -> int:
    """Repay the member's debts, oldest first, from the lots `first` (whatever their
    date), then from points left in lots unexpired at `at` (call after points arrive; the
    caller expires lots past their date). Returns the points repaid."""
    session.flush()
    debts = list(session.scalars(select(LedgerEntryRow).where(
        LedgerEntryRow.member_pk == member.id, LedgerEntryRow.remaining < 0)
        .order_by(LedgerEntryRow.id)))
    repaid = 0
    for entry in debts:
        owed = -(entry.remaining or 0)
        for lot in first or ():
            take = repayment(owed, lot.remaining or 0)
            if take:
                lots.take(session, entry, lot, take)
                owed -= take
                repaid += take
        available = lots.spendable(session, member.id, at, in_time=False)
        take = repayment(owed, available)
        if take > 0:
            _, short = lots.draw(session, member.id, entry, take, at, in_time=False)
            owed -= take - short
            repaid += take - short
        entry.remaining = -owed
    return repaid
