"""Audit log of administrative actions: who did what, to which program, when.

Actions: `ruleset.publish`, `ruleset.approve`, `ruleset.activate`, `ruleset.rollback`
(activating a version older than the live one), `shadow.start`, `shadow.stop`, `key.create`, `key.revoke`,
the B2B portal's `company.create|update|deactivate`, `manager.create|update|deactivate` and
`manager_key.issue|revoke`, `expire` (points expiry run by hand or by the API), and
`inventory.restock`, `inventory.adjust`, `inventory.threshold` and `inventory.low_stock`
(store/inventory/stock.py). Entries are never updated; they are read newest first, in pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import store.clock as clock
from store.db.database import Database
from store.tables.core import AuditRow


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    program: str | None
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at.isoformat(), "actor": self.actor,
                "action": self.action, "program": self.program, "detail": self.detail}


@dataclass(frozen=True)
class AuditFilter:
    """Entries matching every given field; `since` inclusive, `until` exclusive."""

    program: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def record(
    session: Session, actor: str, action: str, program: str | None = None, **detail: Any
) -> None:
    session.add(
        AuditRow(at=clock.now(), actor=actor, action=action, program=program, detail=detail)
    )


def _entry(r: AuditRow) -> AuditEntry:
    return AuditEntry(r.id, r.at, r.actor, r.action, r.program, r.detail)


def entries(session: Session, limit: int = 100) -> list[AuditEntry]:
    return page(session, AuditFilter(), None, limit)[0]


def page(session: Session, where: AuditFilter, cursor: int | None,
         limit: int) -> tuple[list[AuditEntry], int | None]:
    """Newest first: entries older than `cursor` (an entry id; None: from the newest) and
    the cursor of the next page (None: this is the last)."""
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit + 1)
    if cursor is not None:
        query = query.where(AuditRow.id < cursor)
    if where.program is not None:
        query = query.where(AuditRow.program == where.program)
    if where.actor is not None:
        query = query.where(AuditRow.actor == where.actor)
    if where.action is not None:
        query = query.where(AuditRow.action == where.action)
    if where.since is not None:
        query = query.where(AuditRow.at >= where.since)
    if where.until is not None:
        query = query.where(AuditRow.at < where.until)
    rows = [_entry(r) for r in session.scalars(query)]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more else None)


def read(db: Database, where: AuditFilter, cursor: int | None, limit: int) -> dict[str, Any]:
    """One page as the API and the CLI show it: entries and the `next_cursor` (text)."""
    with db.reading() as session:
        found, next_cursor = page(session, where, cursor, limit)
    return {"entries": [e.to_json() for e in found],
            "next_cursor": str(next_cursor) if next_cursor is not None else None}
