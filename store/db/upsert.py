"""Dialect-aware INSERT … ON CONFLICT helpers (SQLite and PostgreSQL speak the same idea).

Statements are built once per shape and cached: building one costs more than running it."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql import FromClause

_CACHE: dict[tuple[Any, ...], Any] = {}


def _insert(session: Session, table: FromClause):  # type: ignore[no-untyped-def]
    """`table` is a model's `__table__` (typed as a FromClause by the declarative base)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(cast(Table, table))


def insert_ignore(session: Session, table: FromClause, values: dict[str, Any] | list[dict[str, Any]],
                  keys: list[str]) -> None:
    """Insert a row unless one with the same `keys` exists; a list of rows (each with the
    same columns) is one statement executed for each, in order."""
    columns = tuple(values[0] if isinstance(values, list) else values)
    shape = ("ignore", session.get_bind().dialect.name, table.description, columns, tuple(keys))
    stmt = _CACHE.get(shape)
    if stmt is None:
        stmt = _CACHE[shape] = _insert(session, table).on_conflict_do_nothing(index_elements=keys)
    session.execute(stmt, values)


def increment(
    session: Session,
    table: FromClause,
    keys: dict[str, Any],
    deltas: dict[str, Any],
    extra: dict[str, Any] | None = None,
    latest: tuple[str, ...] = (),
) -> None:
    """Add `deltas` to a counter row identified by `keys`, creating it when missing;
    the columns of `extra` named in `latest` are overwritten on an existing row too."""
    extra = extra or {}
    shape = ("inc", session.get_bind().dialect.name, table.description, tuple(keys), tuple(deltas),
             tuple(extra), latest)
    stmt = _CACHE.get(shape)
    if stmt is None:
        base = _insert(session, table)
        stmt = _CACHE[shape] = base.on_conflict_do_update(
            index_elements=list(keys),
            set_={**{name: table.c[name] + base.excluded[name] for name in deltas},
                  **{name: base.excluded[name] for name in latest}})
    session.execute(stmt, {**keys, **deltas, **extra})
