"""Instants in requests, bounded.

Time comes from the request, within two bounds:

- the calendar: 1900-01-01 to the end of 9997 (UTC), so everything the store computes
  from an instant (expiry months later, hold and reward deadlines, windows) stays
  representable — `in_range`, a validator on every instant field (api/schemas.py);
- the server clock: an instant that changes what is recorded (an order, a refund, an
  activity, a redemption, a cancel, an expiry run — and a quote, which answers as if it
  did) may be at most `LOYALTY_MAX_FUTURE_SKEW_SECONDS` ahead of now —
  `refuse_future`, called by those routes. Reads (`GET …?as_of=`) may look further ahead.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel

from api.problems import ApiProblem
from store import clock

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
END = datetime(9998, 1, 1, tzinfo=UTC)  # exclusive


def in_range(value: datetime) -> datetime:
    if not EARLIEST <= value < END:
        raise ValueError("instants must fall between 1900-01-01T00:00:00Z and "
                         "9997-12-31T23:59:59Z")
    return value


# An instant with a UTC offset, within the calendar (every instant field of the API).
Instant = Annotated[AwareDatetime, AfterValidator(in_range)]


def latest_allowed(skew_seconds: float) -> datetime:
    """The latest instant a write may carry now."""
    now = clock.now()
    if skew_seconds >= (END - now).total_seconds():
        return END
    return now + timedelta(seconds=skew_seconds)


def _instants(model: BaseModel, pointer: str) -> Iterator[tuple[str, datetime]]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        where = f"{pointer}/{name}"
        if isinstance(value, datetime):
            yield where, value
        elif isinstance(value, BaseModel):
            yield from _instants(value, where)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _instants(item, f"{where}/{i}")


def refuse_future(body: BaseModel | None, skew_seconds: float) -> None:
    """422 `instant_in_future` (pointing at each one) for instants in `body` more than
    the allowed skew ahead of the server clock."""
    if body is None:
        return
    limit = latest_allowed(skew_seconds)
    late = [(pointer, at) for pointer, at in _instants(body, "") if at > limit]
    if not late:
        return
    errors = [{"pointer": pointer, "message": f"{at.isoformat()} is ahead of the server clock "
               f"by more than {skew_seconds:g} s (LOYALTY_MAX_FUTURE_SKEW_SECONDS)"}
              for pointer, at in late]
    raise ApiProblem(422, "instant_in_future", f"{len(late)} instant(s) in the request are "
                     f"later than {limit.isoformat()}, the latest the server accepts now; "
                     "time comes from the request, but not from the future",
                     pointer=late[0][0], errors=errors)
