"""Instants in requests, bounded.

Time comes from the request, within two bounds:

- the calendar: years 1900 to 2999 as written (the input contract, engine/evaluation/contract.py),
  so everything the store computes from an instant (expiry months later, hold and reward
  deadlines, windows) stays representable — `Instant`, the type of every instant field
  and parameter;
- the server clock: an instant that changes what is recorded (an order, a refund, an
  activity, a redemption, a cancel, an expiry run — and a quote, which answers as if it
  did) may be at most `LOYALTY_MAX_FUTURE_SKEW_SECONDS` ahead of now —
  `refuse_future`, called by those routes. Reads (`GET …?as_of=`) may look further ahead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field

import engine.evaluation.contract as contract
import store.clock as clock
from api.problems import ApiProblem

# An instant with a UTC offset, written as the engine's request parser reads one
# (engine/evaluation/contract.py: ISO 8601, years 1900-2999), within the calendar: every instant
# field and parameter of the API.
Instant = Annotated[AwareDatetime, BeforeValidator(contract.instant),
                    Field(examples=["2026-11-17T14:30:00-05:00"])]


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
    if body is not None:
        refuse_future_instants(_instants(body, ""), skew_seconds)


def refuse_future_instants(instants: Iterable[tuple[str, datetime]],
                           skew_seconds: float) -> None:
    """`refuse_future` of instants already read from a request, each with its JSON
    pointer."""
    limit = clock.latest_allowed(skew_seconds)
    late = [(pointer, at) for pointer, at in instants if at > limit]
    if not late:
        return
    errors = [{"pointer": pointer, "message": f"{at.isoformat()} is ahead of the server clock "
               f"by more than {skew_seconds:g} s (LOYALTY_MAX_FUTURE_SKEW_SECONDS)"}
              for pointer, at in late]
    raise ApiProblem(422, "instant_in_future", f"{len(late)} instant(s) in the request are "
                     f"later than {limit.isoformat()}, the latest the server accepts now; "
                     "time comes from the request, but not from the future",
                     pointer=late[0][0], errors=errors)
