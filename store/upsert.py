"""Dialect-aware INSERT … ON CONFLICT helpers (SQLite and PostgreSQL speak the same idea)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def _insert(session: Session, table: Table):  # type: ignore[no-untyped-def]
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def insert_ignore(session: Session, table: Table, values: dict[str, Any], keys: list[str]) -> None:
    """Insert a row unless one with the same `keys` exists."""
    stmt = _insert(session, table).values(**values).on_conflict_do_nothing(index_elements=keys)
    session.execute(stmt)


def increment(
    session: Session,
    table: Table,
    keys: dict[str, Any],
    deltas: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> None:
    """Add `deltas` to a counter row identified by `keys`, creating it when missing."""
    stmt = _insert(session, table).values(**keys, **deltas, **(extra or {}))
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: getattr(table.c, name) + value for name, value in deltas.items()},
    )
    session.execute(stmt)
