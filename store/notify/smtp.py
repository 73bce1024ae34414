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

from store.notify.failures import UNCONFIGURED, ChannelError
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


class Mailer:
    """One SMTP connection for a run of emails: opened at the first, kept for the next,
    closed at the end (use it as a context manager). A connection that broke is dropped
    and the next email opens another; an email that meets a connection the server closed
    since the previous one is tried once more on a fresh one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        assert settings.smtp_host
        timeout = settings.smtp_timeout_seconds
        if settings.smtp_security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host, settings.smtp_port, timeout=timeout,
                context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        try:
            if settings.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                client.login(settings.smtp_username, settings.smtp_password or "")
        except BaseException:
            client.close()
            raise
        return client

    def _deliver(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        # the one recipient of the To header, never a list a stored address might read as
        to = [str(message["To"])]
        if self._client is not None:
            try:
                return self._client.send_message(message, to_addrs=to)
            except smtplib.SMTPServerDisconnected:
                self._client = None  # closed since the last email: once more, afresh
        self._client = self._connect()
        return self._client.send_message(message, to_addrs=to)

    def send(self, email: Email) -> None:
        """Send one email; a `ChannelError` when it was not accepted."""
        if not self.settings.smtp_host:
            raise ChannelError(UNCONFIGURED, "LOYALTY_SMTP_HOST is not set")
        message = compose(self.settings, email)
        try:
            refused = self._deliver(message)
        except smtplib.SMTPRecipientsRefused as exc:  # the session was reset: still usable
            raise ChannelError("rejected", f"recipient refused: {exc.recipients}") from None
        except smtplib.SMTPResponseException as exc:
            self.close()
            detail = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            raise ChannelError("rejected", detail,
                               transient=400 <= exc.smtp_code < 500) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise ChannelError("undeliverable", f"{type(exc).__name__}: {exc}",
                               transient=True) from None
        if refused:
            raise ChannelError("rejected", f"recipient refused: {refused}")


def send(settings: Settings, email: Email) -> None:
    """Send one email on a connection of its own; a `ChannelError` when it was not
    accepted."""
    with Mailer(settings) as mailer:
        mailer.send(email)
