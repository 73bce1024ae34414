"""What an administrator does to a member's book: adjust points by hand, override the
tier until an instant, suspend, reactivate or close the member.

* **adjust**: an `adjust` entry (rule `admin.adjust`). A credit opens a lot (it expires
  like earned points); a debit takes from the member's lots soonest expiry first, and
  what no lot holds becomes debt (the balance goes negative), as a clawback does.
* **status**: `active`, `suspended` or `closed`. A suspended or closed member neither
  earns (orders, activities) nor redeems: those steps raise `MemberInactive` with the
  reason code `member_suspended` or `member_closed`. Refunds and cancels still run: they
  only give back or take back. Closing releases the member's checkout holds and forfeits
  the balance left, as one `adjust` entry (rule `admin.close`); a closed member stays
  closed.
* **tier override**: the member holds `tier` from now until `until` (None: until it is
  lifted) whatever qualification says; at `until` the tier is what qualification gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import engine.lifecycle.points as points
from engine.lifecycle.activities import UnknownTier
from engine.lifecycle.book import MemberBook
from engine.lifecycle.changes import Change, Entry
from engine.lifecycle.context import Lifecycle, Step
from engine.lifecycle.records import OrderRecord, RedemptionRecord
from engine.lifecycle.status import ACTIVE, CLOSED, STATUSES, forfeit_left

ADJUST_RULE = "admin.adjust"


class AdminRefused(ValueError):
    """An administrative step that cannot apply to this book (`pointer`: the field)."""

    def __init__(self, code: str, message: str, pointer: str) -> None:
        super().__init__(message)
        self.code, self.message, self.pointer = code, message, pointer


@dataclass
class AdminStep(Step):
    points: int = 0  # points credited (positive) or taken (negative)
    before: str = ACTIVE  # the status before the step

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, changes: list[Change] | None = None,
                 released: list[RedemptionRecord] | None = None, noted: int = 0,
                 points: int = 0, before: str = ACTIVE) -> None:
        self.changes = [] if changes is None else changes
        self.released = [] if released is None else released
        self.noted = noted
        self.points = points
        self.before = before


def adjust(lc: Lifecycle, book: MemberBook, amount: int, at: datetime, ref: str,
           records: Mapping[str, OrderRecord] | None = None) -> AdminStep:
    """Credit (`amount` > 0) or debit (< 0) points by hand; `ref` names the adjustment.
    `records`: the member's order records (told of points that expired meanwhile)."""
    if amount == 0:
        raise AdminRefused("invalid_adjustment", "an adjustment moves at least one point",
                           "/points")
    if book.status == CLOSED:
        raise AdminRefused("member_closed", f"member {book.member_id!r} is closed", "/points")
    step = AdminStep(before=book.status)
    lc.advance(book, at, step)
    lc.note(step, records)
    if amount > 0:
        lc.credit(book, [("adjust", ADJUST_RULE, amount)], at, "admin", ref, f"admin:{ref}",
                  step)
    else:
        draws = points.claw_back(book, -amount, (), at)
        step.changes.append(Entry("adjust", amount, ADJUST_RULE, "admin", ref, at, draws=draws))
    step.points = amount
    return step


def set_status(lc: Lifecycle, book: MemberBook, status: str, at: datetime, ref: str,
               records: Mapping[str, OrderRecord] | None = None) -> AdminStep:
    """Suspend, reactivate or close the member; closing forfeits the balance."""
    if status not in STATUSES:
        raise AdminRefused("invalid_status", f"status must be one of {', '.join(STATUSES)}",
                           "/status")
    if book.status == CLOSED and status != CLOSED:
        raise AdminRefused("member_closed", f"member {book.member_id!r} is closed; a closed "
                           "member is never reopened", "/status")
    step = AdminStep(before=book.status)
    lc.advance(book, at, step)
    lc.note(step, records)
    book.status = status
    if status == CLOSED:
        for hold in list(book.holds):
            lc.release(book, hold, at, "released", step)
        forfeited = forfeit_left(book, at, ref)
        if forfeited is not None:
            step.changes.append(forfeited)
            step.points = forfeited.points
    return step


def override_tier(lc: Lifecycle, book: MemberBook, tier: str | None, until: datetime | None,
                  at: datetime, records: Mapping[str, OrderRecord] | None = None) -> AdminStep:
    """Hold `tier` from `at` until `until` (`tier` None lifts an override)."""
    if lc.tiers is None:
        raise AdminRefused("no_tiers", "the program has no tiers", "/tier")
    if tier is not None and tier not in lc.tiers.ids:
        raise UnknownTier(tier)
    if until is not None and until <= at:
        raise AdminRefused("invalid_override", "the override must end after it starts",
                           "/until")
    step = AdminStep(before=book.status)
    lc.advance(book, at, step)
    lc.note(step, records)
    book.tier_override = None if tier is None else (tier, until)
    lc.tier_settled(book, at, "override", step)
    return step
