"""The period a report covers and its program-local months, as SQL sees them.

A report's months are the program's calendar months (its timezone), clipped to the
period [from, to). Rows are put in their month by one `CASE` over the instant column
with the months' edges as UTC instants, so the grouping is done by the database and is
the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, literal

from store.db.types import UTCDateTime
from store.errors import Unprocessable

MAX_MONTHS = 120  # a report covers at most ten years
BEFORE = "before"  # the month of an instant before the window (`Window.month_of`)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    months: tuple[tuple[str, datetime, datetime], ...]  # (YYYY-MM, from, to), clipped
    tz: ZoneInfo

    @property
    def keys(self) -> list[str]:
        return [key for key, _, _ in self.months]

    def month_of(self, column: Any, before: bool = False) -> Any:
        """A SQL expression: the YYYY-MM of `column`'s instant (NULL after the window;
        with `before`, BEFORE for an instant before it, else the first month)."""
        edges = [(column < literal(self.start, UTCDateTime()), BEFORE)] if before else []
        return case(*edges, *[(column < literal(hi, UTCDateTime()), key)
                              for key, _, hi in self.months], else_=None)

    def inside(self, column: Any) -> Any:
        return (column >= literal(self.start, UTCDateTime())) & (
            column < literal(self.end, UTCDateTime()))

    def previous(self) -> Window:
        """The period of the same length just before this one (for trends)."""
        return window(self.start - (self.end - self.start), self.start, self.tz)


def _month_start(year: int, month: int, tz: ZoneInfo) -> datetime:
    return datetime(year, month, 1, tzinfo=tz)


def require_order(start: datetime, end: datetime) -> None:
    """Refuses an empty or reversed period (422, naming the parameter)."""
    if end <= start:
        raise Unprocessable("invalid_period", f"to ({end.isoformat()}) must be after from "
                            f"({start.isoformat()})", errors=[
                                {"parameter": "to", "in": "query",
                                 "message": "must be after from"}])


def window(start: datetime, end: datetime, tz: ZoneInfo) -> Window:
    """The months of [start, end) in `tz`; refuses an empty or reversed period, or one
    longer than MAX_MONTHS months (422, naming the parameter)."""
    require_order(start, end)
    local = start.astimezone(tz)
    year, month = local.year, local.month
    months: list[tuple[str, datetime, datetime]] = []
    lo = start
    while lo < end:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        try:
            hi = min(_month_start(year, month, tz), end)
        except ValueError:  # past year 9999
            hi = end
        key = f"{lo.astimezone(tz).year}-{lo.astimezone(tz).month:02d}"
        months.append((key, lo, hi))
        if len(months) > MAX_MONTHS:
            raise Unprocessable("period_too_long", f"a report covers at most {MAX_MONTHS} "
                                "months; shorten from..to", errors=[
                                    {"parameter": "to", "in": "query",
                                     "message": f"at most {MAX_MONTHS} months after from"}])
        lo = hi
    return Window(start, end, tuple(months), tz)
