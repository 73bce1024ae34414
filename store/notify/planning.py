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


def _kind(marketing: bool) -> str:
    return "marketing" if marketing else "transactional"


def _sent(row: Any) -> Sent:
    return Sent(row.channel, _kind(row.marketing),
                row.sent_at or row.next_attempt_at or row.planned_at)


def _history_query(program: str, now: datetime) -> Any:
    at = func.coalesce(MessageRow.sent_at, MessageRow.next_attempt_at, MessageRow.planned_at)
    return select(MessageRow.member_id, MessageRow.channel, MessageRow.marketing,
                  MessageRow.sent_at, MessageRow.next_attempt_at, MessageRow.planned_at) \
        .where(MessageRow.program == program, MessageRow.status.in_(WAITING),
               at >= now - HISTORY)


def notifies(ruleset: Ruleset, event_type: str) -> bool:
    """Whether the ruleset declares a notification of this event type."""
    return any(note.event == event_type for note in ruleset.engagement.notifications)


class Reads:
    """What planning reads of a program's members, once for a batch of events: their
    preferences, their messages of the last month (`history`) and their member rows,
    three queries for the batch instead of three an event. The messages planned for an
    event join the member's history at once (what a later event of the same batch is
    capped against, as the query would have found them recorded), and are recorded
    together by `record`, in the order they were planned."""

    def __init__(self, session: Session, program: str, member_ids: set[str],
                 now: datetime) -> None:
        ids = sorted(member_ids)
        self.prefs = {member: prefs for (_, member), prefs in preferences.read_many(
            session, {(program, member) for member in ids}).items()}
        self.sent: dict[str, list[Sent]] = {member: [] for member in ids}
        self.rows: dict[str, Any] = {}
        if ids:
            for row in session.execute(_history_query(program, now)
                                       .where(MessageRow.member_id.in_(ids))):
                self.sent[row.member_id].append(_sent(row))
            self.rows = {row.member_id: row for row in members.find_many(session, program, ids)}
        self.planned: list[messages.Planned] = []

    def add(self, planned: messages.Planned, now: datetime) -> None:
        self.planned.append(planned)
        if planned.status in WAITING:  # pending or deferred, due at send_at
            self.sent[planned.member_id].append(Sent(
                planned.channel, _kind(planned.marketing), planned.send_at or now))

    def record(self, session: Session) -> None:
        messages.record_many(session, self.planned)
        self.planned = []


def plan_event(session: Session, event: DomainEvent, ruleset: Ruleset, now: datetime,
               unsubscriber: Unsubscriber, public_url: str,
               reads: Reads | None = None) -> list[messages.Planned]:
    """The messages `event` produces (none when the ruleset declares none for it), in the
    caller's transaction: recorded now, or with `reads` (the batch's `Reads`, which must
    hold the event's member) added to it, for its `record`."""
    if not notifies(ruleset, event.type):
        return []
    alone = reads is None
    if reads is None:
        reads = Reads(session, event.program, {event.member_id}, now)
    engagement = ruleset.engagement
    prefs = reads.prefs[event.member_id]
    decided = plan(event, engagement, ruleset.timezone, planner_preferences(prefs),
                   list(reads.sent[event.member_id]), now=now)
    if not decided:
        return []
    row = reads.rows.get(event.member_id)
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
        reads.add(planned, now)
        out.append(planned)
    if alone:
        reads.record(session)
    return out
