"""A member's status: `active`, `suspended` or `closed` (set by engine/lifecycle/admin.py).
Only an active member earns and redeems; every step that would is asked here first."""

from __future__ import annotations

from engine.lifecycle.book import MemberBook

ACTIVE, SUSPENDED, CLOSED = "active", "suspended", "closed"
STATUSES = (ACTIVE, SUSPENDED, CLOSED)


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
