"""Cursor pages, newest first, of a table whose rows have an `id` and an `occurred_at`
(ledger entries, cashback entries, redemptions): the cursor is the last id a page
returned, `since` is inclusive and `until` exclusive on `occurred_at`, and the other
filters are equalities left out when None."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session


def newest_first(session: Session, row: Any, query: Select[Any], after: int | None,
                 limit: int, since: datetime | None = None, until: datetime | None = None,
                 **equal: Any) -> tuple[list[Any], int | None]:
    """The page's rows and the cursor of the next page (None on the last)."""
    if after is not None:
        query = query.where(row.id < after)
    if since is not None:
        query = query.where(row.occurred_at >= since)
    if until is not None:
        query = query.where(row.occurred_at < until)
    for column, value in equal.items():
        if value is not None:
            query = query.where(getattr(row, column) == value)
    rows = list(session.scalars(query.order_by(row.id.desc()).limit(limit + 1)))
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)
