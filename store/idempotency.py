"""Idempotent writes: the hash of a request (a retry must resend the same body), the
outcome every write returns (its result, and whether this call created it or replayed
it), and `Idempotent`, how one write answers a request whose key was used before.

Every idempotent write (an order commit, a refund, an activity, an enrolment, a
redemption) keeps the hash of its request beside its first result, in a row found by
the request's key. A request with a key already used is a retry: the same body gets
the stored result again (`created=False`), another body a 409 naming the key. Two
requests with one key racing each other both try to insert; the unique constraint
on the key lets one in and the other, on IntegrityError, answers as its retry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.db.database import Database
from store.errors import Conflict
from store.tables.core import ActivityEventRow, OrderRow, RefundRow
from store.tables.operations import EnrolmentRow
from store.tables.redemptions import RedemptionRow


def request_hash(request: dict[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Outcome:
    result: dict[str, Any]
    created: bool


# The rows idempotent writes leave, each with the hash of the request that made it.
Row = TypeVar("Row", OrderRow, RefundRow, ActivityEventRow, EnrolmentRow, RedemptionRow)


def stored_result(session: Session, row: Any) -> dict[str, Any]:
    """The result the first request got, as its row keeps it."""
    return row.result


@dataclass(frozen=True)
class Idempotent(Generic[Row]):
    """One request of an idempotent write: how to find the row an earlier request with
    its key left (`find`), the request's hash, what a retry with another body is told
    (a 409 with `code`, `message` and `pointer` at the key), and what a replay answers
    (`answer`: by default the stored result)."""

    find: Callable[[Session], Row | None]
    digest: str
    code: str
    message: str
    pointer: str
    answer: Callable[[Session, Row], dict[str, Any]] = stored_result

    def replay(self, session: Session, row: Row) -> Outcome:
        """The earlier request's result, when this one has the same body; else 409."""
        if row.request_hash != self.digest:
            raise Conflict(self.code, self.message, pointer=self.pointer)
        return Outcome(self.answer(session, row), created=False)

    def earlier(self, session: Session) -> Outcome | None:
        """The replay of an earlier request with this key, or None when there was none."""
        row = self.find(session)
        return None if row is None else self.replay(session, row)

    def run(self, db: Database, write: Callable[[], Outcome]) -> Outcome:
        """`write()`, or, when it lost a race with a request of the same key (the key's
        unique constraint refused its row), the replay of that request. An
        IntegrityError with no such request is raised as it came."""
        try:
            return write()
        except IntegrityError:
            with db.reading() as session:
                outcome = self.earlier(session)
            if outcome is None:
                raise
            return outcome


EventRow = TypeVar("EventRow", ActivityEventRow, EnrolmentRow)


def by_event_id(table: type[EventRow], program_id: str, request: dict[str, Any], code: str,
                what: str) -> Idempotent[EventRow]:
    """A write keyed by its request's `event_id` in `program_id` (activities,
    enrolments): found in `table`, a retry with another body told `what` it is."""
    event_id = request["event_id"]
    find = select(table).where(table.program == program_id, table.event_id == event_id)
    return Idempotent(lambda session: session.scalar(find), request_hash(request), code,
                      f"{what} {event_id!r} was already recorded with a different body",
                      "/event_id")
