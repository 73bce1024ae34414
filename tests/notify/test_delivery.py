"""Planning and sending, with real components: events planned against the ruleset's
`engagement:` section are recorded, rendered and sent to an aiosmtpd server and a signed
webhook receiver on loopback; the email is parsed (subject, both parts, a working
unsubscribe link). Preferences, quiet hours and the frequency cap are each shown to hold,
on SQLite and (CI=true) PostgreSQL."""

from __future__ import annotations

import base64
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook

import store.notify.messages as messages
import store.notify.preferences as preferences
import store.notify.sending as sending
from api.app import create_app
from engine.events import DomainEvent
from store.ledger import members
from store.notify.planning import Reads, plan_event
from store.notify.unsubscribe import Unsubscriber
from store.settings import Settings
from tests.loopback import LoopbackServer
from tests.notify.engagement_program import engagement_program
from tests.smtp_loopback import smtp_sink

SECRET = "whsec_" + base64.b64encode(b"provider secret for the tests..").decode()
NOON = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)        # 12:00 in New York
LATE = datetime(2026, 6, 10, 3, 30, tzinfo=UTC)        # 23:30 in New York, quiet
MORNING = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)     # 08:00 in New York: quiet ends
UP = {"before": "silver", "after": "gold", "cause": "order", "direction": "up"}


@pytest.fixture(scope="module")
def program():
    return engagement_program()


@pytest.fixture
def channels():
    verified: list = []

    def receive(request):
        verified.append(Webhook(SECRET).verify(request.raw, request.headers))
        return 204, None

    with smtp_sink() as sink, LoopbackServer(receive) as hook:
        settings = Settings(smtp_host=sink.host, smtp_port=sink.port, smtp_from="club@shop.example",
                            notify_webhook_url=hook.url + "/push", notify_webhook_secret=SECRET,
                            public_url="https://loyalty.example")
        yield settings, sink, verified


def enrol(db, member_id="CUST-1", **prefs):
    with db.writing() as session:
        members.lock_or_create(session, "retail", member_id, "silver")
    if prefs:
        preferences.change(db, "retail", member_id, **prefs)


def event(type_, at, member_id="CUST-1", **payload):
    return DomainEvent(str(uuid.uuid4()), type_, "retail", member_id, at, 2, payload)


def expiring(at, member_id="CUST-1"):
    return event("points.expiring", at, member_id, points=120, expires_at="2026-07-01T00:00:00+00:00",
                 days_left=21)


def plan(db, settings, program, ev, now=None):
    with db.writing() as session:
        return plan_event(session, ev, program.model, now or ev.at, Unsubscriber.of(settings, db),
                          settings.public_url)


def listing(db, member_id="CUST-1"):
    from store.notify.messages import member_page
    return member_page(db, "retail", member_id, None, 100)["messages"]


def test_a_tier_upgrade_arrives_by_email_in_spanish_and_by_signed_webhook(db, program,
                                                                          channels):
    settings, sink, verified = channels
    enrol(db, locale="es-MX", email="ana@example.com")
    ev = event("tier.changed", NOON, **UP)
    planned = plan(db, settings, program, ev)
    assert [(p.channel, p.status, p.locale) for p in planned] == [
        ("email", "pending", "es"), ("webhook", "pending", "es")]
    assert sending.deliver_due(db, settings, NOON) == {"sent": 2}
    [mail] = sink.received
    assert mail.recipients == ["ana@example.com"]
    assert mail.message["Subject"] == "¡Ya eres gold!"
    assert mail.message.get_body(("plain",)).get_content().strip() == "Hola CUST-1, ahora eres gold."
    assert "<b>gold</b>" in mail.message.get_body(("html",)).get_content()
    assert mail.message["List-Unsubscribe"] is None  # transactional
    [pushed] = verified
    assert (pushed["member_id"], pushed["notification"], pushed["event"]["id"], pushed["text"]) \
        == ("CUST-1", "tier_upgrade", ev.id, "Hola CUST-1, ahora eres gold.")
    assert [(m["channel"], m["status"]) for m in listing(db)] == [("webhook", "sent"),
                                                                  ("email", "sent")]
    plan(db, settings, program, ev)  # the same event planned again: nothing new
    assert sending.deliver_due(db, settings, NOON) == {}
    assert len(listing(db)) == 2


def test_the_unsubscribe_link_of_a_marketing_email_works_and_holds(db, program, channels):
    settings, sink, _ = channels
    enrol(db, email="ana@example.com")
    plan(db, settings, program, expiring(NOON))
    assert sending.deliver_due(db, settings, NOON) == {"sent": 1}
    [mail] = sink.received
    header = mail.message["List-Unsubscribe"]
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.fullmatch(r"<(https://loyalty\.example(/v1/unsubscribe/[^>]+))>", header)
    assert link is not None
    assert link.group(1) in mail.message.get_body(("plain",)).get_content()
    assert f'href="{link.group(1)}"' in mail.message.get_body(("html",)).get_content()
    app = create_app(Settings(database_url=db.url, jobs_enabled=False), db)
    with TestClient(app) as client:
        r = client.post(link.group(2), content="List-Unsubscribe=One-Click",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    # the next day: marketing is suppressed, transactional still goes
    plan(db, settings, program, expiring(NOON + timedelta(days=1)))
    plan(db, settings, program, event("tier.changed", NOON + timedelta(days=1), **UP))
    assert sending.deliver_due(db, settings, NOON + timedelta(days=1)) == {"sent": 2}
    assert [m.message["Subject"] for m in sink.received][1:] == ["Welcome to gold"]
    latest = listing(db)
    assert [(m["template"], m["channel"], m["status"], m["reason"]) for m in latest][:3] == [
        ("tier_upgrade", "webhook", "sent", None), ("tier_upgrade", "email", "sent", None),
        ("points_expiring", "email", "suppressed", "marketing_opt_out")]


def test_quiet_hours_defer_until_they_end(db, program, channels):
    settings, sink, _ = channels
    enrol(db, email="ana@example.com")
    [planned] = plan(db, settings, program, expiring(LATE))
    assert (planned.status, planned.reason, planned.send_at) == ("deferred", "quiet_hours",
                                                                  MORNING)
    assert sending.deliver_due(db, settings, LATE + timedelta(hours=2)) == {}
    assert sink.received == []
    [record] = listing(db)
    assert (record["status"], record["next_attempt_at"]) == ("deferred", MORNING.isoformat())
    assert sending.deliver_due(db, settings, MORNING) == {"sent": 1}
    assert len(sink.received) == 1


def test_a_member_who_opts_out_while_a_message_waits_gets_nothing(db, program, channels):
    settings, sink, _ = channels
    enrol(db, email="ana@example.com")
    plan(db, settings, program, expiring(LATE))
    preferences.change(db, "retail", "CUST-1", marketing_opt_out=True)
    assert sending.deliver_due(db, settings, MORNING) == {"suppressed": 1}
    assert sink.received == []
    assert listing(db)[0]["reason"] == "marketing_opt_out"


def test_the_frequency_cap_suppresses_beyond_it_in_the_day(db, program, channels):
    settings, sink, _ = channels
    assert sink.received == []
    enrol(db, email="ana@example.com")
    first = plan(db, settings, program, expiring(NOON))
    second = plan(db, settings, program, expiring(NOON + timedelta(hours=2)))
    assert [p.status for p in first + second] == ["pending", "suppressed"]
    assert second[0].reason == "frequency_cap"
    next_day = plan(db, settings, program, expiring(NOON + timedelta(days=1)))
    assert next_day[0].status == "pending"
    # transactional messages are not capped (applies_to: marketing)
    assert {p.status for p in plan(db, settings, program, event("tier.changed", NOON, **UP))} \
        == {"pending"}
    assert sending.deliver_due(db, settings, NOON + timedelta(days=1)) == {"sent": 4}
    assert sorted(m["reason"] or "" for m in listing(db)) == ["", "", "", "", "frequency_cap"]
    assert len(sink.received) == 3  # two expiring-points emails a day apart, one upgrade


def test_a_batch_plans_as_one_event_at_a_time_does(db, program, channels):
    """The dispatcher reads a batch's members once (`Reads`): a member's messages planned
    for an earlier event of the batch count towards the cap of the later ones."""
    settings, _, _ = channels
    unsubscriber = Unsubscriber.of(settings, db)
    for member_id in ("CUST-1", "CUST-2"):
        enrol(db, member_id, email=f"{member_id}@example.com")

    def events(member_id):
        return [expiring(NOON, member_id), event("tier.changed", NOON, member_id, **UP),
                expiring(NOON + timedelta(hours=1), member_id),
                expiring(NOON + timedelta(hours=2), member_id)]

    one_by_one = [p for e in events("CUST-1") for p in plan(db, settings, program, e, NOON)]
    with db.writing() as session:
        reads = Reads(session, "retail", {"CUST-2"}, NOON)
        batched = [p for e in events("CUST-2") for p in plan_event(
            session, e, program.model, NOON, unsubscriber, settings.public_url, reads)]
        assert listing(db, "CUST-2") == []  # recorded together, by `record`
        reads.record(session)

    def seen(planned):
        return [(p.template, p.channel, p.status, p.reason, p.send_at) for p in planned]

    assert seen(batched) == seen(one_by_one)
    assert [p.reason for p in batched].count("frequency_cap") == 2
    assert [(m["template"], m["status"], m["reason"]) for m in listing(db, "CUST-2")] == \
        [(m["template"], m["status"], m["reason"]) for m in listing(db, "CUST-1")]


def test_a_dispatcher_out_of_time_gives_its_claimed_messages_back(db, program, channels):
    settings, sink, _ = channels
    enrol(db, email="ana@example.com")
    plan(db, settings, program, event("tier.changed", NOON, **UP))
    claimed = messages.claim(db, NOON)
    assert [m.attempts for m in claimed] == [1, 1]  # email and webhook
    with sending.smtp.Mailer(settings) as mailer:  # no time left: nothing is sent
        assert sending.deliver(db, settings, mailer, claimed, NOON, budget=0) == []
    assert sink.received == []
    assert {(m["status"], m["attempts"]) for m in listing(db)} == {("pending", 0)}
    assert sending.deliver_due(db, settings, NOON) == {"sent": 2}  # the next round sends
    assert {(m["status"], m["attempts"]) for m in listing(db)} == {("sent", 1)}


def test_an_error_mid_round_keeps_what_was_decided_and_gives_back_the_rest(
        db, program, channels, monkeypatch):
    """A round that raises (the database lost while recording a message `sent`) still
    records the ends decided before without contacting anyone, leaves the message it was
    on to its lease (it may have gone out), and gives back those it did not reach."""
    from sqlalchemy.exc import OperationalError
    settings, sink, _ = channels
    enrol(db, "CUST-W", email="w@example.com", channels=["webhook"])  # email turned off
    enrol(db, "CUST-X", email="x@example.com")
    for member_id in ("CUST-W", "CUST-X"):
        plan(db, settings, program, event("tier.changed", NOON, member_id, **UP))
    real = messages.finish

    def lost(db_, message, status, *args, **kwargs):
        if status == "sent":
            raise OperationalError("UPDATE messages", {}, Exception("connection lost"))
        return real(db_, message, status, *args, **kwargs)

    monkeypatch.setattr(messages, "finish", lost)
    with pytest.raises(OperationalError):
        sending.deliver_due(db, settings, NOON)
    assert {(m["channel"], m["status"], m["reason"]) for m in listing(db, "CUST-W")} == {
        ("email", "suppressed", "channel_not_chosen"), ("webhook", "sending", None)}
    assert {(m["status"], m["attempts"]) for m in listing(db, "CUST-X")} == {("pending", 0)}
    monkeypatch.setattr(messages, "finish", real)
    assert sending.deliver_due(db, settings, NOON) == {"sent": 2}  # CUST-X's, not W's
    assert len(sink.received) == 1


def test_channels_and_addresses_the_member_chose_hold(db, program, channels):
    settings, sink, verified = channels
    enrol(db, "CUST-W", channels=["webhook"], email="w@example.com")
    enrol(db, "CUST-N")  # every channel, but no email address
    for member_id in ("CUST-W", "CUST-N"):
        plan(db, settings, program, event("tier.changed", NOON, member_id, **UP))
    assert sending.deliver_due(db, settings, NOON) == {"sent": 2, "suppressed": 1}
    assert sink.received == [] and len(verified) == 2
    assert {(m["channel"], m["status"], m["reason"]) for m in listing(db, "CUST-W")} == {
        ("email", "suppressed", "channel_not_chosen"), ("webhook", "sent", None)}
    assert {(m["channel"], m["status"], m["reason"]) for m in listing(db, "CUST-N")} == {
        ("email", "suppressed", "no_address"), ("webhook", "sent", None)}


def test_a_refused_address_fails_for_good_and_a_down_server_is_retried(db, program, channels):
    settings, sink, _ = channels
    enrol(db, "CUST-R", channels=["email"], email="gone@example.com")
    enrol(db, "CUST-D", channels=["email"], email="ok@example.com")
    sink.refuse("gone@example.com")
    plan(db, settings, program, event("tier.changed", NOON, "CUST-R", **UP))
    assert sending.deliver_due(db, settings, NOON) == {"failed": 1}
    [gone] = [m for m in listing(db, "CUST-R") if m["channel"] == "email"]
    assert (gone["reason"], gone["attempts"]) == ("rejected", 1) and "550" in gone["error"]
    down = settings.model_copy(update={"smtp_port": 1})  # nothing listens there
    plan(db, settings, program, event("tier.changed", NOON, "CUST-D", **UP))
    assert sending.deliver_due(db, down, NOON) == {"pending": 1}
    [waiting] = [m for m in listing(db, "CUST-D") if m["channel"] == "email"]
    assert (waiting["status"], waiting["reason"]) == ("pending", "undeliverable")
    assert sending.deliver_due(db, settings, NOON + timedelta(seconds=30)) == {}  # backoff
    assert sending.deliver_due(db, settings, NOON + timedelta(minutes=1)) == {"sent": 1}
    assert sink.received[0].recipients == ["ok@example.com"]


def test_erasure_forgets_the_address_and_what_messages_said(db, program, channels):
    import store.checkout.member_admin as member_admin

    settings, sink, _ = channels
    enrol(db, email="ana@example.com", locale="es")
    plan(db, settings, program, event("tier.changed", NOON, **UP))
    assert sending.deliver_due(db, settings, NOON) == {"sent": 2}
    plan(db, settings, program, expiring(LATE))  # deferred to the morning
    member_admin.erase(db, "retail", "CUST-1", "request 7", "tests")
    with db.reading() as session:
        kept = preferences.read(session, "retail", "CUST-1")
    assert (kept.email, kept.locale) == (None, "es")
    assert sending.deliver_due(db, settings, MORNING) == {}
    records = listing(db)
    assert [(m["status"], m["reason"], m["subject"]) for m in records] == [
        ("suppressed", "member_erased", None), ("sent", None, None), ("sent", None, None)]
    assert len(sink.received) == 1
