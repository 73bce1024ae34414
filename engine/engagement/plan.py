"""The notification planner: what to send for one domain event, and when.

Given an event, the program's `engagement:` declarations, the member's preferences and
the messages the member was already sent (or has waiting), `plan` says for each message
the event produces (one per notification that matches the event, per channel) whether it
goes now, waits until the end of the program's quiet hours, or is suppressed — and why.
It decides only: the caller (the store's dispatcher, the simulator) records the answer,
renders the template (engine/engagement/templates.py) and delivers.

Pure and deterministic: the instant is the caller's (`now`, by default the event's),
quiet hours and frequency-cap periods are read in the program's timezone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Protocol

from engine.calendar import in_zone, period_of, zone
from engine.language.model import Engagement, FrequencyCap, Notification, QuietHours

__all__ = ["DEFAULT_PREFERENCES", "Event", "Planned", "Preferences", "Sent", "choose_locale",
           "matches", "plan"]

SEND, DEFER, SUPPRESS = "send", "defer", "suppress"
# why a message is not sent now
MARKETING_OPT_OUT = "marketing_opt_out"  # a marketing message to a member who opted out
CHANNEL_OFF = "channel_not_chosen"  # the member's channels leave this one out
FREQUENCY_CAP = "frequency_cap"  # the member had the cap's count in its period
QUIET_HOURS = "quiet_hours"  # deferred: it is quiet time in the program's timezone


@dataclass(frozen=True, slots=True)
class Preferences:
    """A member's choices: the channels they accept (None: every channel the program
    uses), their locale (None: the program's fallback) and whether they opted out of
    marketing (transactional messages still go)."""

    channels: frozenset[str] | None = None
    locale: str | None = None
    marketing_opt_out: bool = False


DEFAULT_PREFERENCES = Preferences()


# Sent and Planned are not frozen, and write their `__init__` out: a frozen dataclass's
# generated `__init__` runs as Python and sets each field through `object.__setattr__`
# (12 µs for a Planned; the simulator plans a message for most orders). Nothing changes
# them once built (engine/native.py; tests/engine/test_native_inits.py).
@dataclass(slots=True)
class Sent:
    """A message already sent to the member, or waiting to be (`at`: when it goes)."""

    channel: str
    kind: str  # transactional | marketing
    at: datetime

    def __init__(self, channel: str, kind: str, at: datetime) -> None:
        self.channel = channel
        self.kind = kind
        self.at = at


@dataclass(slots=True)
class Planned:
    """One message the event produces: `action` send (at `at`, now), defer (until `at`,
    the end of quiet hours) or suppress (`reason` says why)."""

    notification: str  # the notification's id in the ruleset
    event_type: str
    channel: str
    kind: str
    locale: str
    action: str  # send | defer | suppress
    at: datetime
    reason: str | None = None

    def __init__(self, notification: str, event_type: str, channel: str, kind: str,
                 locale: str, action: str, at: datetime, reason: str | None = None) -> None:
        self.notification = notification
        self.event_type = event_type
        self.channel = channel
        self.kind = kind
        self.locale = locale
        self.action = action
        self.at = at
        self.reason = reason

    def as_sent(self) -> Sent:
        return Sent(self.channel, self.kind, self.at)


class Event(Protocol):
    """What the planner reads of an event (engine.events.DomainEvent has it)."""

    @property
    def type(self) -> str: ...

    @property
    def at(self) -> datetime: ...

    @property
    def payload(self) -> Mapping[str, Any]: ...


def matches(note: Notification, event_type: str, payload: Mapping[str, Any]) -> bool:
    """Whether `note` produces a message for an event of this type and payload."""
    return note.event == event_type and all(payload.get(k) == v for k, v in note.match.items())


def choose_locale(note: Notification, wanted: str | None, fallback: str) -> str:
    """The member's locale if the notification has a template for it (or for its
    language: `es` for `es-MX`), else the fallback locale."""
    if wanted:
        for candidate in (wanted, wanted.replace("_", "-").split("-")[0]):
            if candidate in note.templates:
                return candidate
    return fallback if fallback in note.templates else next(iter(note.templates), fallback)


def quiet_until(quiet: QuietHours | None, timezone: str, at: datetime) -> datetime | None:
    """The end of the quiet hours `at` falls in (an instant in UTC), or None if it does
    not fall in quiet hours. `from` after `to` spans midnight; equal: never quiet."""
    if quiet is None:
        return None
    tz = zone(timezone)
    here = in_zone(tz, at)
    start, end = time.fromisoformat(quiet.start), time.fromisoformat(quiet.end)
    now = here.time()  # naive: `time()` drops the zone (`timetz()` keeps it)
    if start == end:
        return None
    inside = start <= now < end if start < end else (now >= start or now < end)
    if not inside:
        return None
    day = here.date() if now < end else here.date() + timedelta(days=1)
    return _first_reading(day, end, tz, at).astimezone(at.tzinfo)


# (day, clock, zone) → the instants `_readings` found: quiet hours end at one clock time,
# so a day's are asked for by every message deferred that night.
_READINGS: dict[tuple[date, time, tzinfo], tuple[tuple[datetime, ...], datetime]] = {}


def _first_reading(day: date, clock: time, tz: tzinfo, after: datetime) -> datetime:
    """The first instant after `after` at which the wall clock of `tz` reads `clock` of
    `day` or later: across a DST change, the second `clock` when the hour repeats and
    `after` is past the first; the end of the jump when the clock skips over it."""
    key = (day, clock, tz)
    found = _READINGS.get(key)
    if found is None:
        if len(_READINGS) >= 4096:
            _READINGS.clear()
        found = _READINGS[key] = _readings(day, clock, tz)
    real, jump_end = found
    if real:
        return next((u for u in real if u > after), real[-1])
    return jump_end


def _readings(day: date, clock: time, tz: tzinfo) -> tuple[tuple[datetime, ...], datetime]:
    """The instants (UTC) at which `tz`'s wall clock reads `clock` of `day`, and when it
    never does (a skipped time: no instants), the end of the jump."""
    wall = datetime.combine(day, clock)
    both = sorted(wall.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1))
    real = tuple(u for u in both if u.astimezone(tz).replace(tzinfo=None) == wall)
    if real:
        return real, real[-1]
    low, high = both  # a skipped time: the jump lies between its two readings
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return (), high


def _capped(cap: FrequencyCap | None, timezone: str, kind: str, channel: str,
            at: datetime, history: Sequence[Sent]) -> bool:
    if cap is None or (cap.applies_to == "marketing" and kind != "marketing"):
        return False
    tz = zone(timezone)
    period = period_of(cap.per, at.astimezone(tz).date())
    counted = sum(1 for s in history
                  if s.channel == channel
                  and (cap.applies_to == "all" or s.kind == "marketing")
                  and period_of(cap.per, s.at.astimezone(tz).date()) == period)
    return counted >= cap.count


def _one(note: Notification, channel: str, event_type: str, locale: str,
         engagement: Engagement, timezone: str, preferences: Preferences, at: datetime,
         seen: Sequence[Sent]) -> Planned:
    """The fate of one message: `note` on `channel`."""
    def planned(action: str, when: datetime, reason: str | None = None) -> Planned:
        return Planned(note.id, event_type, channel, note.kind, locale, action, when, reason)
    if note.kind == "marketing" and preferences.marketing_opt_out:
        return planned(SUPPRESS, at, MARKETING_OPT_OUT)
    if preferences.channels is not None and channel not in preferences.channels:
        return planned(SUPPRESS, at, CHANNEL_OFF)
    wake = quiet_until(engagement.quiet_hours, timezone, at)
    when = wake or at
    if _capped(engagement.frequency_cap, timezone, note.kind, channel, when, seen):
        return planned(SUPPRESS, when, FREQUENCY_CAP)
    return planned(DEFER, when, QUIET_HOURS) if wake else planned(SEND, when)


def plan(event: Event, engagement: Engagement, timezone: str,
         preferences: Preferences = DEFAULT_PREFERENCES, history: Sequence[Sent] = (),
         now: datetime | None = None) -> list[Planned]:
    """The messages `event` produces for its member, in declaration order then channel
    order, each to send now, defer or suppress (see the module's description).
    `history` is the member's messages sent or waiting; the messages planned here count
    towards the frequency cap of those after them."""
    at = now or event.at
    seen = list(history)
    out: list[Planned] = []
    for note in engagement.notifications:
        if not matches(note, event.type, event.payload):
            continue
        locale = choose_locale(note, preferences.locale, engagement.fallback_locale)
        for channel in note.channels:
            message = _one(note, channel, event.type, locale, engagement, timezone,
                           preferences, at, seen)
            if message.action != SUPPRESS:
                seen.append(message.as_sent())
            out.append(message)
    return out
