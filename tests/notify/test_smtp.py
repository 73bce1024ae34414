"""The email channel against a real SMTP server on loopback (aiosmtpd): the message is
received and parsed — subject, text and HTML parts, the List-Unsubscribe headers of
RFC 8058 — and refusals and an unreachable server are told apart."""

from __future__ import annotations

import pytest

import store.notify.smtp as smtp
from store.notify.failures import ChannelError
from store.settings import Settings
from tests.smtp_loopback import smtp_sink


def settings_for(sink, **over) -> Settings:
    return Settings(smtp_host=sink.host, smtp_port=sink.port, smtp_from="club@shop.example",
                    **over)


def test_an_email_arrives_with_both_parts_and_the_unsubscribe_headers():
    with smtp_sink() as sink:
        smtp.send(settings_for(sink), smtp.Email(
            to="ana@example.com", subject="¡Ya eres oro!", text="Hola Ana: 1 200 puntos.",
            html="<p>Hola <b>Ana</b>: 1 200 puntos.</p>",
            unsubscribe_url="https://loyalty.example/v1/unsubscribe/abc.def",
            message_id="msg-7"))
    [got] = sink.received
    assert got.sender == "club@shop.example"
    assert got.recipients == ["ana@example.com"]
    message = got.message
    assert message["Subject"] == "¡Ya eres oro!"
    assert message["List-Unsubscribe"] == "<https://loyalty.example/v1/unsubscribe/abc.def>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"] == "<msg-7@shop.example>"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and text.get_content().strip() == "Hola Ana: 1 200 puntos."
    assert html is not None and "<b>Ana</b>" in html.get_content()


def test_a_transactional_email_has_no_unsubscribe_header_and_may_be_text_only():
    with smtp_sink() as sink:
        smtp.send(settings_for(sink), smtp.Email(to="ben@example.com", subject="Receipt",
                                                 text="Thanks."))
    [got] = sink.received
    assert got.message["List-Unsubscribe"] is None
    assert got.message.get_content_type() == "text/plain"


def test_a_refused_recipient_is_rejected_for_good_and_a_4xx_is_transient():
    with smtp_sink() as sink:
        sink.refuse("gone@example.com")
        sink.refuse("full@example.com", "452 4.2.2 mailbox full")
        with pytest.raises(ChannelError) as refused:
            smtp.send(settings_for(sink), smtp.Email("gone@example.com", "Hi", "Hi"))
        with pytest.raises(ChannelError) as full:
            smtp.send(settings_for(sink), smtp.Email("full@example.com", "Hi", "Hi"))
    assert (refused.value.reason, refused.value.transient) == ("rejected", False)
    assert "550" in refused.value.detail
    assert full.value.reason == "rejected"
    assert sink.received == []


def test_no_server_or_no_setting_says_so():
    with smtp_sink() as sink:
        settings = settings_for(sink, smtp_timeout_seconds=2)
    with pytest.raises(ChannelError) as down:  # the server has stopped
        smtp.send(settings, smtp.Email("ana@example.com", "Hi", "Hi"))
    assert (down.value.reason, down.value.transient) == ("undeliverable", True)
    with pytest.raises(ChannelError) as off:
        smtp.send(Settings(), smtp.Email("ana@example.com", "Hi", "Hi"))
    assert (off.value.reason, off.value.transient) == ("channel_unconfigured", False)


def test_a_mailer_sends_a_run_of_emails_over_one_connection():
    with smtp_sink() as sink:
        sink.refuse("gone@example.com")
        with smtp.Mailer(settings_for(sink)) as mailer:
            mailer.send(smtp.Email("a@example.com", "1", "one"))
            with pytest.raises(ChannelError):
                mailer.send(smtp.Email("gone@example.com", "2", "two"))
            mailer.send(smtp.Email("c@example.com", "3", "three"))
    assert [m.recipients for m in sink.received] == [["a@example.com"], ["c@example.com"]]
    assert len({m.peer for m in sink.received}) == 1
