"""From one domain event to the message records it produces: the ruleset's planner
(engine/engagement/plan.py) decides, with the member's stored preferences and recent
messages; the messages to send or defer are rendered here (engine/engagement/templates.py)
and recorded with their content, so what is sent later is what was decided now."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import store.ledger.members as members
import store.notify.messages as messages
import store.notify.preferences as preferences
from engine.engagement.plan import DEFER, SUPPRESS, Sent, plan
from engine.engagement.plan import Preferences as PlannerPreferences
from engine.engagement.templates import Member, RenderError, context, render
from engine.events import DomainEvent
from engine.language.model import Ruleset
from store.notify.unsubscribe import Unsubscriber
from store.tables.notify import MessageRow

HISTORY = timedelta(days=32)  # the longest frequency-cap period (a month) and a day
WAITING = ("pending", "sending", "deferred", "sent")  # what counts towards a cap


def planner_preferences(prefs: preferences.Preferences) -> PlannerPreferences:
    return PlannerPreferences(channels=frozenset(prefs.channels), locale=prefs.locale,
                              marketing_opt_out=prefs.marketing_opt_out)


def history(session: Session, program: str, member_id: str, now: datetime) -> list[Sent]:
    """The member's messages sent or waiting since a month ago, as the planner counts them
    (at: when sent, or when due)."""
    at = func.coalesce(MessageRow.sent_at, MessageRow.next_attempt_at, MessageRow.planned_at)
    rows = session.execute(select(MessageRow.channel, MessageRow.marketing, MessageRow.sent_at,
                                  MessageRow.next_attempt_at, MessageRow.planned_at)
                           .where(MessageRow.program == program,
                                  MessageRow.member_id == member_id,
                                  MessageRow.status.in_(WAITING), at >= now - HISTORY))
    return [Sent(row.channel, "marketing" if row.marketing else "transactional",
                 row.sent_at or row.next_attempt_at or row.planned_at) for row in rows]


def plan_event(session: Session, event: DomainEvent, ruleset: Ruleset, now: datetime,
               unsubscriber: Unsubscriber, public_url: str) -> list[messages.Planned]:
    """Record the messages `event` produces (none when the ruleset declares none for it);
    answers them. Runs in the caller's transaction."""
    engagement = ruleset.engagement
    if not any(note.event == event.type for note in engagement.notifications):
        return []
    prefs = preferences.read(session, event.program, event.member_id)
    decided = plan(event, engagement, ruleset.timezone, planner_preferences(prefs),
                   history(session, event.program, event.member_id, now), now=now)
    if not decided:
        return []
    row = members.find(session, event.program, event.member_id)
    member = Member(event.member_id, row.tier if row else None, row.balance if row else 0,
                    prefs.locale, dict(row.attributes or {}) if row else {})
    notes = {note.id: note for note in engagement.notifications}
    out = []
    for decision in decided:
        marketing = decision.kind == "marketing"
        status, reason = {SUPPRESS: ("suppressed", decision.reason),
                          DEFER: ("deferred", decision.reason)}.get(decision.action,
                                                                     ("pending", None))
        content: dict[str, Any] = {}
        error = None
        if status != "suppressed":
            link = (unsubscriber.url(public_url, event.program, event.member_id)
                    if marketing else None)
            try:
                rendered = render(notes[decision.notification], decision.locale,
                                  context(event, member, ruleset, link))
            except (RenderError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
                # a template that fails on this event's values (jinja2 lets arithmetic on a
                # null through to Python): recorded, and the next events go on
                status, reason, error = "failed", "render_failed", str(exc)
            else:
                content = {"subject": rendered.subject, "text": rendered.text,
                           "html": rendered.html, "unsubscribe_url": link}
        planned = messages.Planned(
            program=event.program, member_id=event.member_id, event_id=event.id,
            event_type=event.type, occurred_at=event.at, channel=decision.channel,
            template=decision.notification, locale=decision.locale, marketing=marketing,
            status=status, reason=reason, send_at=decision.at,
            content=content, error=error)
        messages.record(session, planned)
        out.append(planned)
    return out
