"""The email channel: a multipart message (plain text and HTML) sent over SMTP.

Marketing emails carry the member's unsubscribe link in the `List-Unsubscribe` header with
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058: mail clients unsubscribe
with one POST, no page to visit). The settings are `LOYALTY_SMTP_*` (store/settings.py).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from store.notify.failures import ChannelError
from store.settings import Settings


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str | None = None
    unsubscribe_url: str | None = None  # marketing emails: the member's link
    message_id: str | None = None  # the Message-ID's left part: stable across attempts


def compose(settings: Settings, email: Email) -> EmailMessage:
    """The message as sent: text part, HTML alternative, and the unsubscribe headers."""
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = settings.smtp_from.rpartition("@")[2] or "localhost"
    # The same Message-ID on every attempt of one message: a receiver can tell a resend.
    message["Message-ID"] = (f"<{email.message_id}@{domain}>" if email.message_id
                             else make_msgid(domain=domain))
    if email.unsubscribe_url is not None:
        message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(email.text)
    if email.html is not None:
        message.add_alternative(email.html, subtype="html")
    return message


def send(settings: Settings, email: Email) -> None:
    """Send one email; a `ChannelError` when it was not accepted."""
    if not settings.smtp_host:
        raise ChannelError("channel_unconfigured", "LOYALTY_SMTP_HOST is not set")
    message = compose(settings, email)
    timeout = settings.smtp_timeout_seconds
    try:
        if settings.smtp_security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=timeout,
                context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        with client:
            if settings.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                client.login(settings.smtp_username, settings.smtp_password or "")
            refused = client.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise ChannelError("rejected", f"recipient refused: {exc.recipients}") from None
    except smtplib.SMTPResponseException as exc:
        detail = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
        raise ChannelError("rejected", detail, transient=400 <= exc.smtp_code < 500) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise ChannelError("undeliverable", f"{type(exc).__name__}: {exc}",
                           transient=True) from None
    if refused:
        raise ChannelError("rejected", f"recipient refused: {refused}")
