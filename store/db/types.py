"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect
from sqlalchemy.types import TypeDecorator

MONEY_SCALE = Decimal(10000)


def json_text(dialect: Dialect, value: Any) -> str:
    """`value` as the dialect's JSON columns write it (the engine's `json_serializer`, else
    `json.dumps`): for statements that pass JSON documents past the column types."""
    dumps: Callable[[Any], str] = getattr(dialect, "_json_serializer", None) or json.dumps
    return dumps(value)


def utc_naive(value: datetime) -> datetime:
    """An aware instant as a UTC column stores it (naive UTC); a naive one is refused.
    For statements that pass instants in arrays, past the column types."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC).replace(tzinfo=None)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; stored as naive UTC everywhere."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        return None if value is None else utc_naive(value)

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        if isinstance(value, str):  # SQLite aggregates hand back text
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def money_text(value: Decimal) -> str:
    """Money as answers show it, whatever scale it was written or read with (a `Money`
    column reads four places): at least two decimal places, none beyond the last
    significant one — 5.0000 → "5.00", 80.1 → "80.10", 0.1234 → "0.1234"."""
    whole, _, fraction = f"{value.normalize():f}".partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


class Money(TypeDecorator[Decimal]):
    """Exact decimals stored as integer ten-thousandths (SQLite has no exact NUMERIC)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        scaled = Decimal(value) * MONEY_SCALE
        return int(scaled.to_integral_value())

    def process_result_value(self, value, dialect):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        return (Decimal(int(value)) / MONEY_SCALE).quantize(Decimal("0.0001"))
