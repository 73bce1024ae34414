"""The server clock: the one `now` of the store and the API.

Time comes from the request, but the server clock bounds it: the API, `loyalty import`
and `loyalty redemptions create` refuse instants more than the allowed skew ahead of it
(`latest_allowed`), and points never expire ahead of it (`not_after_now`), so a
future-dated request cannot destroy points that are due only later. Tests and tools that
replay another time run under `use(...)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta


def system_now() -> datetime:
    return datetime.now(UTC)


_sources: list[Callable[[], datetime]] = [system_now]  # the innermost `use` is last
LAST = datetime.max.replace(tzinfo=UTC)


def now() -> datetime:
    """The current instant (aware, UTC)."""
    return _sources[-1]()


def latest_allowed(skew_seconds: float) -> datetime:
    """The latest instant a write may carry now: `skew_seconds` ahead of the clock (a
    skew past the end of the calendar allows every instant)."""
    current = now()
    if skew_seconds >= (LAST - current).total_seconds():
        return LAST
    return current + timedelta(seconds=skew_seconds)


def not_after_now(at: datetime) -> datetime:
    """`at`, or now when `at` is later: time-driven writes never run ahead of the clock."""
    return min(at, now())


@contextmanager
def use(source: Callable[[], datetime]) -> Iterator[None]:
    """Run with another clock (`source()` gives the instant); restores the previous one."""
    _sources.append(source)
    try:
        yield
    finally:
        _sources.remove(source)
