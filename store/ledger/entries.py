"""The append-only points ledger: reading it.

Every change of a balance is one entry: earn, bonus, redeem, expire, reverse or adjust,
with the ruleset version and rule that produced it and what caused it (`source_type`,
`source_ref`). The lifecycle core writes them (store/ledger/books.py persists its steps): a
credit names the member's lot it filled (`lot`, numbered from 1 per member), a debit or
a restore the lots it drew on (`draws`: lot and points; lot 0 is the member's debt). The
member row's `balance` is the sum of the entries; what each lot still holds is in the
member's book (the member summary lists it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store.db.pages import newest_first
from store.tables.core import LedgerEntryRow

KINDS = ("earn", "bonus", "redeem", "expire", "reverse", "adjust")


@dataclass(frozen=True)
class Entry:
    id: int
    kind: str
    points: int
    lot: int | None
    draws: list[Any] | None
    expires_at: datetime | None
    ruleset_version: int | None
    rule: str | None
    source_type: str
    source_ref: str
    occurred_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "points": self.points, "lot": self.lot,
            "draws": [{"lot": lot, "points": points} for lot, points in self.draws or ()],
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "ruleset_version": self.ruleset_version, "rule": self.rule,
            "source": {"type": self.source_type, "ref": self.source_ref},
            "occurred_at": self.occurred_at.isoformat(),
        }


def _entry(row: LedgerEntryRow) -> Entry:
    return Entry(row.id, row.kind, row.points, row.lot, row.draws, row.expires_at,
                 row.ruleset_version, row.rule, row.source_type, row.source_ref, row.occurred_at)


def page(session: Session, member_pk: int, after: int | None, limit: int,
         since: datetime | None = None, until: datetime | None = None,
         kind: str | None = None) -> tuple[list[Entry], int | None]:
    """Newest first; `after` is the cursor (an entry id) returned by the previous page;
    `since` inclusive and `until` exclusive on the entry's instant (`occurred_at`)."""
    rows, cursor = newest_first(
        session, LedgerEntryRow,
        select(LedgerEntryRow).where(LedgerEntryRow.member_pk == member_pk),
        after, limit, since, until, kind=kind)
    return [_entry(r) for r in rows], cursor


def balance_from_entries(session: Session, member_pk: int) -> int:
    return int(session.scalar(select(func.sum(LedgerEntryRow.points)).where(
        LedgerEntryRow.member_pk == member_pk)) or 0)
