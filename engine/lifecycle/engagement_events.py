"""The domain events of the engagement changes of a step: `MilestoneReached` →
`milestone.reached`, `AlertRaised` → its alert type (points.expiring, tier.within_reach,
reward.affordable, campaign.starting), payloads as the event catalog lists them
(engine/events/catalog.py). `engine.lifecycle.events.events_of` adds them to the events
of the lifecycle's other changes, in the step's order."""

from __future__ import annotations

from collections.abc import Iterable

from engine.events import DomainEvent
from engine.lifecycle.book import MemberBook
from engine.lifecycle.changes import AlertRaised, Change, MilestoneReached
from engine.program import Program

__all__ = ["engagement_event", "engagement_events"]


def engagement_event(change: Change, book: MemberBook, program: Program) -> DomainEvent | None:
    """The event of one engagement change (None for any other change)."""
    if type(change) is MilestoneReached:
        return DomainEvent.new("milestone.reached", program.program, book.member_id,
                               change.at, program.version, {
                                   "milestone": change.milestone, "name": change.name,
                                   "reward": {"points": change.points, "badge": change.badge,
                                              "reward_id": change.reward_id,
                                              "gift": change.gift}})
    if type(change) is AlertRaised:
        return DomainEvent.new(change.type, program.program, book.member_id, change.at,
                               program.version, dict(change.payload))
    return None


def engagement_events(changes: Iterable[Change], book: MemberBook, program: Program
                      ) -> list[DomainEvent]:
    """The events of the engagement changes among `changes`, in order."""
    return [e for c in changes if (e := engagement_event(c, book, program)) is not None]
