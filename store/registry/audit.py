"""Audit log of administrative actions (publish, activate, key creation)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.tables.core import AuditRow


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    program: str | None
    detail: dict[str, Any]


def record(
    session: Session, actor: str, action: str, program: str | None = None, **detail: Any
) -> None:
    session.add(
        AuditRow(at=datetime.now(UTC), actor=actor, action=action, program=program, detail=detail)
    )


def entries(session: Session, limit: int = 100) -> list[AuditEntry]:
    rows = session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(limit))
    return [AuditEntry(r.id, r.at, r.actor, r.action, r.program, r.detail) for r in rows]
