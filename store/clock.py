"""The server clock: the one `now` of the store and the API.

Time comes from the request, but the server clock bounds it: the API refuses instants
too far ahead of it (api/instants.py), and points never expire ahead of it
(`not_after_now`), so a future-dated request cannot destroy points that are due only
later. Tests and tools that replay another time run under `use(...)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime


def system_now() -> datetime:
    return datetime.now(UTC)


_sources: list[Callable[[], datetime]] = [system_now]  # the innermost `use` is last


def now() -> datetime:
    """The current instant (aware, UTC)."""
    return _sources[-1]()


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
