"""Sending the messages that are due: each is claimed (store/notify/messages.py `claim`),
checked once more against the member's preferences as they are now (a member who opted
out of marketing, or turned a channel off, while a message waited for the end of quiet
hours gets nothing), sent on its channel and recorded `sent`, `suppressed` or `failed`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import store.clock as clock
import store.notify.messages as messages
import store.notify.preferences as preferences
import store.notify.smtp as smtp
import store.notify.webhook as webhook
from engine.engagement.plan import CHANNEL_OFF, MARKETING_OPT_OUT
from store.db.database import Database
from store.notify.failures import ChannelError
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


def deliver_one(db: Database, settings: Settings, mailer: smtp.Mailer, message: MessageRow,
                now: datetime) -> str:
    """Send one claimed message (emails through `mailer`'s connection); answers the
    status recorded."""
    def finish(status: str, reason: str | None = None, error: str | None = None,
               retry: bool = False) -> str:
        return messages.finish(db, message, status, reason, error, retry, now)

    with db.reading() as session:
        prefs = preferences.read(session, message.program, message.member_id)
    if message.marketing and prefs.marketing_opt_out:
        return finish("suppressed", MARKETING_OPT_OUT)
    if message.channel not in prefs.channels:
        return finish("suppressed", CHANNEL_OFF)
    if message.channel == "email" and not prefs.email:
        return finish("suppressed", NO_ADDRESS)
    try:
        _send(settings, mailer, message, prefs)
    except ChannelError as exc:
        return finish("failed", exc.reason, exc.detail[:2000], exc.transient)
    return finish("sent")


def deliver_due(db: Database, settings: Settings, now: datetime | None = None,
                rounds: int = 20) -> dict[str, int]:
    """Send what is due, up to `rounds` claims of 100 messages, the emails over one SMTP
    connection: {status: count}."""
    outcome: dict[str, int] = {}
    with smtp.Mailer(settings) as mailer:
        for _ in range(rounds):
            at = now or clock.now()
            claimed = messages.claim(db, at)
            for message in claimed:
                status = deliver_one(db, settings, mailer, message, at)
                outcome[status] = outcome.get(status, 0) + 1
            if len(claimed) < 100:
                break
    return outcome
