"""A member's status: `active`, `suspended` or `closed` (set by engine/lifecycle/admin.py).
Only an active member earns and redeems; every step that would is asked here first.

A closed member holds no points: closing forfeits the balance, a refund takes back only
what the order's own lots still hold (never debt: the forfeiture took the rest), and
points that come back later (a refund giving back points paid, a cancelled redemption)
are forfeited in the same step (`forfeit_left`)."""

from __future__ import annotations

from datetime import datetime

import engine.lifecycle.points as points
from engine.lifecycle.book import MemberBook
from engine.lifecycle.changes import Entry

ACTIVE, SUSPENDED, CLOSED = "active", "suspended", "closed"
STATUSES = (ACTIVE, SUSPENDED, CLOSED)
CLOSE_RULE = "admin.close"


class MemberInactive(ValueError):
    """A suspended or closed member asked to earn or redeem (`code`: member_suspended or
    member_closed)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def check_active(book: MemberBook | None) -> None:
    """Raise MemberInactive unless the member may earn and redeem (no book: a new member,
    active)."""
    if book is None or book.status == ACTIVE:
        return
    raise MemberInactive(f"member_{book.status}",
                         f"member {book.member_id!r} is {book.status}: it neither earns "
                         "nor redeems points")


def forfeit_left(book: MemberBook, at: datetime, ref: str) -> Entry | None:
    """The entry forfeiting what a closed member holds (None when it holds nothing)."""
    left = book.held
    if book.status != CLOSED or left <= 0:
        return None
    return Entry("adjust", -left, CLOSE_RULE, "admin", ref, at,
                 draws=points.take_fifo(book, left, at))
