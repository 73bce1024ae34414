"""The expiry job: `expire` entries for every lot past its date, and timed-out checkout
holds released.

Resumable and safe while traffic flows: members are found in batches (by member row id,
ascending) and each batch is one short transaction that locks each member's row before
touching its lots — the same lock commits and redemptions take. Idempotent: an expired
lot has nothing `remaining`, so a second run finds nothing to write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from store import ledger
from store.db import Database
from store.models import LedgerEntryRow, MemberRow
from store.redemption_models import RedemptionRow
from store.redemptions import release_expired_holds


@dataclass
class ExpiryReport:
    as_of: datetime
    members: int = 0
    points_expired: int = 0
    holds_released: int = 0
    batches: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "members": self.members,
                "points_expired": self.points_expired, "holds_released": self.holds_released,
                "batches": self.batches}


def _due_members(db: Database, program: str, as_of: datetime, after: int, limit: int) -> list[int]:
    lots = select(LedgerEntryRow.member_pk).where(
        LedgerEntryRow.program == program, LedgerEntryRow.remaining > 0,
        LedgerEntryRow.expires_at <= as_of, LedgerEntryRow.member_pk > after)
    holds = select(RedemptionRow.member_pk).where(
        RedemptionRow.program == program, RedemptionRow.status == "held",
        RedemptionRow.hold_expires_at <= as_of, RedemptionRow.member_pk > after)
    with db.reading() as session:
        pks = set(session.scalars(lots.group_by(LedgerEntryRow.member_pk)
                                  .order_by(LedgerEntryRow.member_pk).limit(limit)))
        pks |= set(session.scalars(holds.group_by(RedemptionRow.member_pk)
                                   .order_by(RedemptionRow.member_pk).limit(limit)))
    return sorted(pks)[:limit]


def expire(db: Database, program: str, as_of: datetime, batch_size: int = 200) -> ExpiryReport:
    report = ExpiryReport(as_of)
    after = 0
    while True:
        pks = _due_members(db, program, as_of, after, batch_size)
        if not pks:
            return report
        with db.writing() as session:
            for pk in pks:
                member = session.scalar(select(MemberRow).where(MemberRow.id == pk)
                                        .with_for_update()
                                        .execution_options(populate_existing=True))
                assert member is not None
                report.holds_released += release_expired_holds(session, member, as_of)
                points = ledger.expire_due(session, member, as_of)
                report.points_expired += points
                report.members += 1
        report.batches += 1
        after = pks[-1]
