"""The domain events of a lifecycle step: what the core changed (ledger entries, tier
changes, milestones and alerts), told as events of the catalog (engine/events). The store
publishes them in the transaction that writes the step; a redemption's status changes are told by
`redemption_event`, from the store that moves them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from engine.events import DomainEvent, iso
from engine.lifecycle.book import MemberBook
from engine.lifecycle.changes import Change, Entry, TierChange
from engine.lifecycle.engagement_events import engagement_event
from engine.program import Program

__all__ = ["events_of", "redemption_event"]


def events_of(step_changes: Sequence[Change], book: MemberBook, program: Program, *,
              reason: str | None = None) -> list[DomainEvent]:
    """The events of one step's changes, in order. `book` is the member's book after the
    step: each points event carries the balance right after its own entry (the final
    balance less what the later entries of the step moved). `reason`: an administrator's
    reason for an adjustment (the core does not keep it)."""
    after = book.balance
    balances: list[int] = []
    for change in reversed(step_changes):
        if type(change) is Entry:
            balances.append(after)
            after -= change.points
    balances.reverse()
    events: list[DomainEvent] = []
    entries = 0
    for change in step_changes:
        if type(change) is Entry:
            events.append(_entry_event(change, balances[entries], book, program, reason))
            entries += 1
        elif type(change) is TierChange:
            events.append(_tier_event(change, book, program))
        elif (event := engagement_event(change, book, program)) is not None:
            events.append(event)  # milestones and alerts (engine/lifecycle/engagement_events.py)
    return events


def _new(type_: str, book: MemberBook, program: Program, at: datetime,
         payload: dict[str, object]) -> DomainEvent:
    return DomainEvent.new(type_, program.program, book.member_id, at, program.version,
                           payload)


def _entry_event(entry: Entry, balance: int, book: MemberBook, program: Program,
                 reason: str | None) -> DomainEvent:
    kind = entry.kind
    if kind in ("earn", "bonus"):
        return _new("points.earned", book, program, entry.at, {
            "points": entry.points, "kind": kind, "rule": entry.rule,
            "source_type": entry.source_type, "source_ref": entry.source_ref,
            "expires_at": iso(entry.expires_at) if entry.expires_at else None,
            "balance": balance})
    if kind == "redeem":
        return _new("points.redeemed", book, program, entry.at, {
            "points": -entry.points, "source_ref": entry.source_ref, "balance": balance})
    if kind == "expire":
        return _new("points.expired", book, program, entry.at,
                    {"points": -entry.points, "balance": balance})
    if kind == "adjust":
        return _new("points.adjusted", book, program, entry.at, {
            "points": entry.points, "source_ref": entry.source_ref, "reason": reason,
            "balance": balance})
    return _new("points.reversed", book, program, entry.at, {
        "points": entry.points, "rule": entry.rule, "source_type": entry.source_type,
        "source_ref": entry.source_ref, "balance": balance})


def _tier_event(change: TierChange, book: MemberBook, program: Program) -> DomainEvent:
    tiers = program.model.tiers
    order = {t.id: i for i, t in enumerate(tiers.levels)} if tiers is not None else {}
    before = order.get(change.before, -1) if change.before is not None else -1
    after = order.get(change.after, -1) if change.after is not None else -1
    direction = "up" if after > before else "down" if after < before else "same"
    return _new("tier.changed", book, program, change.at, {
        "before": change.before, "after": change.after, "cause": change.cause,
        "direction": direction})


def redemption_event(status: str, program: str, ruleset_version: int, member_id: str,
                     at: datetime, *, redemption_id: int | str, reward_id: str | None,
                     quantity: int, points: int, event: str) -> DomainEvent:
    """`redemption.<event>` (created, captured, released, cancelled or fulfilled) of a
    redemption now in `status`."""
    return DomainEvent.new(f"redemption.{event}", program, member_id, at, ruleset_version, {
        "redemption_id": str(redemption_id), "reward_id": reward_id, "quantity": quantity,
        "points": points, "status": status})
