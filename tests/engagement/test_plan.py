"""The notification planner (engine/engagement/plan.py): preferences, marketing opt-out,
quiet hours in the program's timezone, frequency caps, locales and payload matches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine.engagement.plan import (
    CHANNEL_OFF,
    FREQUENCY_CAP,
    MARKETING_OPT_OUT,
    QUIET_HOURS,
    Preferences,
    Sent,
    plan,
    quiet_until,
)
from engine.events import DomainEvent
from engine.language.build import engagement
from engine.language.model import QuietHours

NY = "America/New_York"


def _section(**notes: Any) -> Any:
    tpl = {"en": {"subject": "Hi", "text": "Hello"}, "es": {"subject": "Hola", "text": "Hola"}}
    return engagement({"notifications": {
        "fallback_locale": "en",
        "messages": [
            {"id": "tier_up", "event": "tier.changed", "match": {"direction": "up"},
             "channels": ["email", "webhook"], "templates": tpl},
            {"id": "expiring", "event": "points.expiring", "kind": "marketing",
             "channels": ["email"], "templates": tpl},
        ],
        **notes}})


def _event(kind: str, at: datetime, **payload: Any) -> DomainEvent:
    return DomainEvent(id="", type=kind, program="retail", member_id="M-1", at=at,
                       ruleset_version=1, payload=payload)


NOON_NY = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # 12:00 in New York (EDT)
UP = {"before": "silver", "after": "gold", "cause": "order", "direction": "up"}


def test_an_upgrade_goes_now_on_every_channel_and_a_downgrade_produces_nothing() -> None:
    out = plan(_event("tier.changed", NOON_NY, **UP), _section(), NY)
    assert [(p.notification, p.channel, p.action, p.at, p.locale) for p in out] == [
        ("tier_up", "email", "send", NOON_NY, "en"), ("tier_up", "webhook", "send", NOON_NY, "en")]
    down = dict(UP, direction="down", before="gold", after="silver")
    assert plan(_event("tier.changed", NOON_NY, **down), _section(), NY) == []
    assert plan(_event("points.earned", NOON_NY), _section(), NY) == []


def test_marketing_opt_out_suppresses_marketing_and_keeps_transactional() -> None:
    prefs = Preferences(marketing_opt_out=True)
    expiring = plan(_event("points.expiring", NOON_NY, points=10), _section(), NY, prefs)
    assert [(p.action, p.reason) for p in expiring] == [("suppress", MARKETING_OPT_OUT)]
    upgrade = plan(_event("tier.changed", NOON_NY, **UP), _section(), NY, prefs)
    assert {p.action for p in upgrade} == {"send"}


def test_channels_the_member_left_out_are_suppressed_with_the_reason() -> None:
    prefs = Preferences(channels=frozenset({"webhook"}))
    out = plan(_event("tier.changed", NOON_NY, **UP), _section(), NY, prefs)
    assert [(p.channel, p.action, p.reason) for p in out] == [
        ("email", "suppress", CHANNEL_OFF), ("webhook", "send", None)]


def test_locale_falls_back_by_language_then_to_the_fallback() -> None:
    event = _event("tier.changed", NOON_NY, **UP)
    assert plan(event, _section(), NY, Preferences(locale="es"))[0].locale == "es"
    assert plan(event, _section(), NY, Preferences(locale="es-MX"))[0].locale == "es"
    assert plan(event, _section(), NY, Preferences(locale="fr"))[0].locale == "en"


@pytest.mark.parametrize(("utc_hour", "local_wake"), [
    (2, datetime(2026, 6, 10, 12, 0, tzinfo=UTC)),   # 22:00 NY the day before → 08:00 NY
    (6, datetime(2026, 6, 10, 12, 0, tzinfo=UTC)),   # 02:00 NY → 08:00 NY the same day
])
def test_quiet_hours_in_the_program_timezone_defer_to_their_end(
        utc_hour: int, local_wake: datetime) -> None:
    section = _section(quiet_hours={"from": "21:00", "to": "08:00"})
    at = datetime(2026, 6, 10, utc_hour, 0, tzinfo=UTC)
    out = plan(_event("tier.changed", at, **UP), section, NY)
    assert {(p.action, p.reason, p.at) for p in out} == {("defer", QUIET_HOURS, local_wake)}


def test_quiet_hours_are_read_in_the_program_timezone_not_utc() -> None:
    section = _section(quiet_hours={"from": "21:00", "to": "08:00"})
    at = datetime(2026, 6, 10, 22, 30, tzinfo=UTC)  # 18:30 in New York: not quiet there
    assert {p.action for p in plan(_event("tier.changed", at, **UP), section, NY)} == {"send"}
    out = plan(_event("tier.changed", at, **UP), section, "UTC")
    assert {(p.action, p.at) for p in out} == {("defer", datetime(2026, 6, 11, 8, tzinfo=UTC))}


def test_outside_quiet_hours_a_message_goes_now() -> None:
    section = _section(quiet_hours={"from": "21:00", "to": "08:00"})
    out = plan(_event("tier.changed", NOON_NY, **UP), section, NY)
    assert {p.action for p in out} == {"send"}


def test_the_frequency_cap_counts_the_period_in_the_program_timezone() -> None:
    section = _section(frequency_cap={"count": 2, "per": "day"})
    event = _event("points.expiring", NOON_NY, points=10)
    one = Sent("email", "marketing", datetime(2026, 6, 10, 5, 0, tzinfo=UTC))  # 01:00 NY, same day
    yesterday = Sent("email", "marketing", datetime(2026, 6, 10, 3, 0, tzinfo=UTC))  # 23:00 NY
    assert plan(event, section, NY, history=[one, yesterday])[0].action == "send"
    out = plan(event, section, NY, history=[one, one])
    assert [(p.action, p.reason) for p in out] == [("suppress", FREQUENCY_CAP)]
    # transactional messages are not capped unless the cap applies to all
    assert {p.action for p in plan(_event("tier.changed", NOON_NY, **UP), section, NY,
                                   history=[one, one])} == {"send"}
    every = _section(frequency_cap={"count": 1, "per": "week", "applies_to": "all"})
    out = plan(_event("tier.changed", NOON_NY, **UP), every, NY,
               history=[Sent("email", "transactional", NOON_NY)])
    assert [(p.channel, p.action) for p in out] == [("email", "suppress"), ("webhook", "send")]


def test_messages_planned_in_one_call_count_towards_the_cap() -> None:
    section = engagement({"notifications": {
        "frequency_cap": {"count": 1, "per": "day"},
        "messages": [{"id": f"m{i}", "event": "points.expiring", "kind": "marketing",
                      "templates": {"en": {"text": "x"}}} for i in range(3)]}})
    out = plan(_event("points.expiring", NOON_NY, points=1), section, NY)
    assert [p.action for p in out] == ["send", "suppress", "suppress"]


def test_quiet_hours_across_daylight_saving_changes() -> None:
    """Europe/Berlin skips 02:00-03:00 on 2026-03-29 and repeats 02:00-03:00 on 2026-10-25."""
    quiet, berlin = QuietHours("22:00", "02:30"), "Europe/Berlin"
    # 02:30 never happens on the spring day: quiet hours end with the jump, at 03:00 CEST
    assert quiet_until(quiet, berlin, datetime(2026, 3, 28, 23, tzinfo=UTC)) == \
        datetime(2026, 3, 29, 1, tzinfo=UTC)
    # 02:15 of the repeated hour (CET, the second pass) is quiet until 02:30 CET, not until
    # the first 02:30 (CEST), which is already past
    at = datetime(2026, 10, 25, 1, 15, tzinfo=UTC)
    assert quiet_until(quiet, berlin, at) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    # in the first pass it ends at the first 02:30 (CEST)
    assert quiet_until(quiet, berlin, datetime(2026, 10, 25, 0, 15, tzinfo=UTC)) == \
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    # quiet hours spanning midnight on an ordinary night
    assert quiet_until(quiet, berlin, datetime(2026, 6, 1, 21, tzinfo=UTC)) == \
        datetime(2026, 6, 2, 0, 30, tzinfo=UTC)
