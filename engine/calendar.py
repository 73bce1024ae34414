"""Calendar arithmetic in the program's timezone: local dates, periods, expiry."""

from __future__ import annotations

import calendar as _cal
from datetime import date, datetime, tzinfo
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


# The last answer of `in_zone`, (zone, instant, converted): the lifecycle, the tier rules
# and the evaluation of one event all ask for the same instant in the program's zone.
# One tuple, replaced whole: a thread reads a whole one.
_LAST: list[tuple[Any, Any, Any]] = [(None, None, None)]


def in_zone(tz: tzinfo, at: datetime) -> datetime:
    """`at.astimezone(tz)` (0.7 µs), the last answer kept."""
    last = _LAST[0]
    if last[1] is at and last[0] is tz:
        return last[2]  # type: ignore[no-any-return]
    found = at.astimezone(tz)
    _LAST[0] = (tz, at, found)
    return found


def local(program: Program, at: datetime) -> datetime:
    """`at` in the program's timezone (naive instants are taken as UTC)."""
    return in_zone(program.timezone, at if at.tzinfo is not None
                   else at.replace(tzinfo=zone("UTC")))


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
        return month_text(d)
    if per == "quarter":
        return f"{d.year}-Q{quarter(d)}"
    if per == "year":
        return str(d.year)
    return "lifetime"


# "01" … "12": a format spec (`:02d`) is a method call per use, a tuple read is not
MONTHS = tuple(f"{m:02d}" for m in range(13))


def month_text(d: date) -> str:
    """"2026-03" for any day of March 2026."""
    return f"{d.year}-{MONTHS[d.month]}"


def period_key(program: Program, per: str, at: datetime) -> str:
    return period_of(per, local(program, at).date())


def add_months(d: datetime, months: int) -> datetime:
    month0 = d.month - 1 + months
    year, month = d.year + month0 // 12, month0 % 12 + 1
    day = d.day
    if day > 28:
        day = min(day, _DAYS_IN_MONTH[month] + (month == 2 and _cal.isleap(year)))
    return moved(d, year, month, day, d.tzinfo)


def moved(d: datetime, year: int, month: int, day: int, tz: tzinfo | None) -> datetime:
    """`d.replace(year=year, month=month, day=day, tzinfo=tz)`, built by the constructor:
    `replace` parses its keywords, builds a tuple of seven new integers and parses them
    again (about 2.5 × the constructor's time; the simulator moves every lot's expiry and
    every instant it reads)."""
    return datetime(year, month, day, d.hour, d.minute, d.second, d.microsecond, tz,
                    fold=d.fold)


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
