"""Cashback in the store: money owed to members, as entries, and their payout.

The lifecycle core decides what an order earns in cashback and what a refund reverses
(engine/lifecycle/orders.py, engine/lifecycle/refunds.py: the refunded amount share of
the order's cashback, rounded down to the cent); store/ledger/books.py writes each of its
`CashbackMove`s as one row of `cashback_entries` in the step's transaction. This module
reads them (pages, a member's totals, a program's books) and pays them out.

**Payout** (`payout`, run by the `cashback.payout` job): for every member whose unpaid
entries add up to more than zero, those entries are marked paid with one payout
reference, in one conditional UPDATE (`paid_at IS NULL`): two runs at once never pay an
entry twice. A member whose unpaid entries add up to zero or less (a refund reversed
cashback already paid out) is left alone: the negative amount is set off against the
next cashback. Sending the money is the payment provider's part; the entries say what
was paid, when and under which reference.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

import store.clock as clock
from engine.lifecycle import CashbackMove
from store.db.database import Database
from store.db.pages import newest_first
from store.tables.core import MemberRow
from store.tables.money import CashbackEntryRow as Row

ZERO = Decimal(0)
CENT = Decimal("0.01")
PAYOUT_BATCH = 500  # members paid per transaction


def entry_row(member: MemberRow, version: int, move: CashbackMove, now: datetime
              ) -> dict[str, Any]:
    return {"member_pk": member.id, "program": member.program,
            "kind": "issue" if move.amount > 0 else "reverse", "amount": move.amount,
            "source_type": move.source_type, "source_ref": move.source_ref,
            "ruleset_version": version, "occurred_at": move.at or now, "recorded_at": now,
            "paid_at": None, "payout_ref": None}


def _money(value: Decimal | None) -> str:
    return str((value or ZERO).quantize(CENT))


def _json(row: Row) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind, "amount": _money(row.amount),
            "source": {"type": row.source_type, "ref": row.source_ref},
            "ruleset_version": row.ruleset_version, "occurred_at": row.occurred_at.isoformat(),
            "paid_at": row.paid_at.isoformat() if row.paid_at else None,
            "payout_ref": row.payout_ref}


def page(session: Session, member_pk: int, after: int | None, limit: int,
         since: datetime | None = None, until: datetime | None = None,
         kind: str | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first; `after` is the cursor (an entry id) the previous page returned;
    `since` inclusive and `until` exclusive on the instant of the move."""
    rows, cursor = newest_first(session, Row, select(Row).where(Row.member_pk == member_pk),
                                after, limit, since, until, kind=kind)
    return [_json(r) for r in rows], cursor


@dataclass(frozen=True)
class Totals:
    issued: Decimal
    reversed: Decimal  # a positive amount
    paid: Decimal  # the net of the entries paid out
    outstanding: Decimal  # the net of the entries not yet paid

    def to_json(self) -> dict[str, str]:
        return {"issued": _money(self.issued), "reversed": _money(self.reversed),
                "paid": _money(self.paid), "balance": _money(self.outstanding)}


def _totals(session: Session, where: Any) -> Totals:
    issued, reversed_, paid, unpaid = session.execute(select(
        func.sum(case((Row.amount > 0, Row.amount), else_=0)),
        func.sum(case((Row.amount < 0, -Row.amount), else_=0)),
        func.sum(case((Row.paid_at.is_not(None), Row.amount), else_=0)),
        func.sum(case((Row.paid_at.is_(None), Row.amount), else_=0)),
    ).where(where)).one()
    return Totals(*(Decimal(str(v)) if v is not None else ZERO
                    for v in (issued, reversed_, paid, unpaid)))


def member_totals(session: Session, member_pk: int) -> Totals:
    return _totals(session, Row.member_pk == member_pk)


def program_totals(session: Session, program: str) -> Totals:
    """The program's cashback books: issued, reversed, paid out and still owed."""
    return _totals(session, Row.program == program)


def payout(db: Database, programs: list[str] | None = None) -> dict[str, Any]:
    """Mark paid every member's unpaid cashback that adds up to more than zero (see the
    module docstring); returns what was paid, per program."""
    at = clock.now()
    ref = f"payout-{at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    paid: dict[str, dict[str, Any]] = {}
    after = 0
    while True:
        with db.writing() as session:
            owed = select(Row.program, Row.member_pk, func.max(Row.id)).where(
                Row.paid_at.is_(None), Row.member_pk > after)
            if programs is not None:
                owed = owed.where(Row.program.in_(programs))
            batch = session.execute(owed.group_by(Row.program, Row.member_pk)
                                    .having(func.sum(Row.amount) > 0)
                                    .order_by(Row.member_pk).limit(PAYOUT_BATCH)).all()
            for program, member_pk, last in batch:
                # The entries up to `last` still unpaid, locked: a run racing this one may
                # have paid some of them since the sum above was taken (the lock waits for
                # it, and the rows it paid drop out), so what is left is paid only when it
                # still adds up to more than zero — never a run paying a refund's negative
                # entry alone.
                rows = session.execute(select(Row.id, Row.amount).where(
                    Row.member_pk == member_pk, Row.paid_at.is_(None), Row.id <= last)
                    .with_for_update()).all()
                amount = sum((row.amount for row in rows), ZERO)
                if not rows or amount <= 0:
                    continue
                session.execute(update(Row).where(Row.id.in_([row.id for row in rows]))
                                .values(paid_at=at, payout_ref=ref))
                total = paid.setdefault(program, {"members": 0, "amount": ZERO})
                total["members"] += 1
                total["amount"] += amount
        if len(batch) < PAYOUT_BATCH:
            break
        after = batch[-1][1]
    return {"paid_at": at.isoformat(), "payout_ref": ref,
            "programs": {p: {"members": t["members"], "amount": _money(t["amount"])}
                         for p, t in sorted(paid.items())}}

