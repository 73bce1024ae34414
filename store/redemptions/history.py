"""A member's redemptions, newest first, in cursor pages, filtered by date and kind."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

import store.ledger.members as members
from store.db.database import Database
from store.db.pages import newest_first
from store.db.types import money_text
from store.tables.redemptions import RedemptionRow as Row

KINDS = ("points", "reward", "automatic", "gift")
STATUSES = ("completed", "held", "captured", "released", "cancelled")


def _json(row: Row) -> dict[str, Any]:
    return {"id": str(row.id), "status": row.status, "kind": row.kind, "points": row.points,
            "value": money_text(row.value), "reward_id": row.reward_id,
            "quantity": row.quantity, "order_id": row.order_id,
            "ruleset_version": row.ruleset_version, "occurred_at": row.occurred_at.isoformat()}


def member_page(db: Database, program_id: str, member_id: str, after: int | None, limit: int,
                since: datetime | None = None, until: datetime | None = None,
                kind: str | None = None, status: str | None = None) -> dict[str, Any]:
    """`after`: the cursor the previous page returned; `since` inclusive, `until`
    exclusive on the redemption's instant."""
    with db.reading() as session:
        member = members.get(session, program_id, member_id)
        query = select(Row).where(Row.member_pk == member.id, Row.program == program_id,
                                  Row.status != "pending")  # a row being written
        rows, cursor = newest_first(session, Row, query, after, limit, since, until,
                                    kind=kind, status=status)
        return {"member_id": member_id, "redemptions": [_json(r) for r in rows],
                "next_cursor": str(cursor) if cursor is not None else None}
