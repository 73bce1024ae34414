"""The messages a simulated history would send: each step's domain events (the same
`events_of` the store publishes) planned by the notification planner
(engine/engagement/plan.py) as the service plans them, with default preferences (every
channel, the fallback locale, no marketing opt-out). Quiet hours defer a message, which
still counts as sent; a frequency cap suppresses, counted by reason.

Only the events a step's lifecycle changes tell are planned (points, tiers, milestones,
alerts); redemption status events come from the store's redemption records, which a
simulation does not keep.
"""

from __future__ import annotations

from datetime import timedelta

from engine.engagement.plan import DEFAULT_PREFERENCES, SUPPRESS, Sent, plan
from engine.lifecycle import Change, Entry, MemberBook
from engine.lifecycle.events import events_of
from engine.program import Program
from engine.simulation.stats import Stats

__all__ = ["Messages"]

KEPT = timedelta(days=32)  # the longest frequency-cap period (a month), and a day
# the events of ledger entries (engine/lifecycle/events.py): when the program sends no
# message for any of them, the entries are left out before the step's events are made
ENTRY_EVENTS = frozenset({"points.earned", "points.reversed", "points.redeemed",
                          "points.expired", "points.adjusted"})


class Messages:
    def __init__(self, program: Program, stats: Stats) -> None:
        self.program, self.stats = program, stats
        self.engagement = program.model.engagement
        self.types = frozenset(n.event for n in self.engagement.notifications)
        self.capped = self.engagement.frequency_cap is not None
        self.entries = bool(self.types & ENTRY_EVENTS)
        self.history: dict[str, list[Sent]] = {}  # member → recent messages (with a cap)

    @property
    def on(self) -> bool:
        return bool(self.types)

    def step(self, book: MemberBook, changes: list[Change]) -> None:
        """Plan and count the messages of one step's events."""
        stats, tz = self.stats, self.program.model.timezone
        if not self.entries:
            changes = [c for c in changes if type(c) is not Entry]
            if not changes:
                return
        for event in events_of(changes, book, self.program):
            if event.type not in self.types:
                continue
            history = self.history.setdefault(book.member_id, []) if self.capped else []
            if history:
                history[:] = [s for s in history if s.at >= event.at - KEPT]
            for message in plan(event, self.engagement, tz, DEFAULT_PREFERENCES, history):
                if message.action == SUPPRESS:
                    stats.suppressed[message.reason] += 1
                    continue
                stats.messages[f"{event.type}|{message.channel}"] += 1
                if self.capped:
                    history.append(message.as_sent())
