"""Calendar arithmetic in the program's timezone: local dates, periods, expiry."""

from __future__ import annotations

import calendar as _cal
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo


class Program(Protocol):
    """What calendar arithmetic needs of a program (engine.program.Program has it)."""

    @property
    def timezone(self) -> ZoneInfo: ...

    @property
    def model(self) -> Any: ...


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(program: Program, at: datetime) -> datetime:
    """`at` in the program's timezone (naive instants are taken as UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone("UTC"))
    return at.astimezone(program.timezone)


def quarter(d: date) -> int:
    return (d.month - 1) // 3 + 1


def period_of(per: str, d: date) -> str:
    """Key of the calendar period containing local date `d`."""
    if per == "day":
        return d.isoformat()
    if per == "week":
        iso = d.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if per == "month":
        return f"{d.year}-{d.month:02d}"
    if per == "quarter":
        return f"{d.year}-Q{quarter(d)}"
    if per == "year":
        return str(d.year)
    return "lifetime"


def period_key(program: Program, per: str, at: datetime) -> str:
    return period_of(per, local(program, at).date())


def add_months(d: datetime, months: int) -> datetime:
    month0 = d.month - 1 + months
    year, month = d.year + month0 // 12, month0 % 12 + 1
    day = d.day
    if day > 28:
        day = min(day, _DAYS_IN_MONTH[month] + (month == 2 and _cal.isleap(year)))
    return d.replace(year=year, month=month, day=day)


_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def expiry_at(program: Program, earned_at: datetime) -> datetime | None:
    """When points earned at `earned_at` expire (None: never — also when that would be
    after the last representable instant, the end of year 9999)."""
    redemption = program.model.redemption
    if redemption is None or not redemption.expiry_months:
        return None
    return months_later(local(program, earned_at), int(redemption.expiry_months))


def months_later(local_at: datetime, months: int) -> datetime | None:
    """`local_at` plus `months` calendar months (`add_months`); None when that would be
    after the last representable instant."""
    try:
        return add_months(local_at, months)
    except (ValueError, OverflowError):
        return None


def window_start(window: str, local_at: datetime, tz: ZoneInfo) -> datetime | None:
    """Start of the tier qualification window containing `local_at` (None: lifetime)."""
    if window == "calendar_year":
        return datetime(local_at.year, 1, 1, tzinfo=tz)
    if window == "rolling_12_months":
        return add_months(local_at, -12)
    return None
