"""Sending the messages that are due: each is claimed (store/notify/messages.py `claim`),
checked once more against the member's preferences as they are when it is claimed (a
member who opted out of marketing, or turned a channel off, while a message waited for
the end of quiet hours gets nothing), sent on its channel and recorded `sent`,
`suppressed` or `failed`. A round claims up to `messages.CLAIM_LIMIT` (100) messages in
one statement and reads their members' preferences in one query."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import store.clock as clock
import store.notify.messages as messages
import store.notify.preferences as preferences
import store.notify.smtp as smtp
import store.notify.webhook as webhook
from engine.engagement.plan import CHANNEL_OFF, MARKETING_OPT_OUT
from store.db.database import Database
from store.notify.failures import UNCONFIGURED, ChannelError
from store.settings import Settings
from store.tables.notify import MessageRow

NO_ADDRESS = "no_address"  # an email to a member who gave no address


def webhook_payload(message: MessageRow) -> dict[str, Any]:
    """What the `webhook` channel posts for one message."""
    content = message.content
    return {"type": "notification", "message_id": str(message.id),
            "program": message.program, "member_id": message.member_id,
            "notification": message.template, "locale": message.locale,
            "kind": "marketing" if message.marketing else "transactional",
            "event": {"id": message.event_id, "type": message.event_type,
                      "at": message.occurred_at.isoformat()},
            "subject": content.get("subject"), "text": content.get("text"),
            "html": content.get("html")}


def _send(settings: Settings, mailer: smtp.Mailer, message: MessageRow,
          prefs: preferences.Preferences) -> None:
    content = message.content
    if message.channel == "email":
        assert prefs.email is not None
        mailer.send(smtp.Email(
            to=prefs.email, subject=content.get("subject") or "", text=content.get("text") or "",
            html=content.get("html"), unsubscribe_url=content.get("unsubscribe_url"),
            message_id=f"loyalty-message-{message.id}"))
    else:
        webhook.send(settings, f"msg_loyalty_{message.id}", webhook_payload(message),
                     clock.now())


def _unsent(message: MessageRow, prefs: preferences.Preferences) -> messages.Unsent | None:
    """Why the member's preferences as they are now stop the message (None: they don't)."""
    if message.marketing and prefs.marketing_opt_out:
        return messages.Unsent(message, "suppressed", MARKETING_OPT_OUT)
    if message.channel not in prefs.channels:
        return messages.Unsent(message, "suppressed", CHANNEL_OFF)
    if message.channel == "email" and not prefs.email:
        return messages.Unsent(message, "suppressed", NO_ADDRESS)
    return None


def deliver(db: Database, settings: Settings, mailer: smtp.Mailer,
            claimed: list[MessageRow], now: datetime,
            budget: float = messages.LEASE.total_seconds() / 2) -> list[str]:
    """Send claimed messages (emails through `mailer`'s connection); answers the statuses
    recorded. The members' preferences are read once for all of them. What follows an
    attempt to send (`sent`, refused, to be retried) is recorded at once, in its own
    transaction, so that a dispatcher killed later neither sends a message again nor
    counts an attempt twice; the ends decided without contacting anyone (suppressed by
    the preferences, the channel not configured) are recorded together after the others,
    even when one of them raised. Once `budget` seconds (half the lease) have passed since
    the claim, or when a message raised, the messages not reached are given back unsent
    (`messages.release`): none is sent after its lease has run out."""
    started = time.monotonic()
    with db.reading() as session:
        prefs = preferences.read_many(session, {(m.program, m.member_id) for m in claimed})
    statuses: list[str] = []
    quiet: list[messages.Unsent] = []
    reached = 0
    try:
        for message in claimed:
            if time.monotonic() - started >= budget:
                break
            reached += 1
            member_prefs = prefs[message.program, message.member_id]
            end = _unsent(message, member_prefs)
            if end is not None:
                quiet.append(end)
                continue
            try:
                _send(settings, mailer, message, member_prefs)
            except ChannelError as exc:
                detail = exc.detail[:2000]
                if exc.reason == UNCONFIGURED:  # raised before contacting anyone
                    quiet.append(messages.Unsent(message, "failed", exc.reason, detail,
                                                 exc.transient))
                else:
                    statuses.append(messages.finish(db, message, "failed", exc.reason,
                                                    detail, exc.transient, now))
            else:
                statuses.append(messages.finish(db, message, "sent", now=now))
    finally:
        statuses += messages.finish_unsent(db, quiet, now)
        messages.release(db, claimed[reached:], now)
    return statuses


def deliver_due(db: Database, settings: Settings, now: datetime | None = None,
                rounds: int = 20) -> dict[str, int]:
    """Send what is due, up to `rounds` claims of `messages.CLAIM_LIMIT` messages, the
    emails over one SMTP connection: {status: count}."""
    outcome: dict[str, int] = {}
    with smtp.Mailer(settings) as mailer:
        for _ in range(rounds):
            at = now or clock.now()
            claimed = messages.claim(db, at)
            for status in deliver(db, settings, mailer, claimed, at):
                outcome[status] = outcome.get(status, 0) + 1
            if len(claimed) < messages.CLAIM_LIMIT:  # nothing more is due
                break
    return outcome
