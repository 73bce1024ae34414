"""The `notifications` job end to end: orders committed through the store write domain
events to the outbox; the job plans them under its cursor, renders and sends the email to
an aiosmtpd server on loopback. Several dispatchers at once send each message once; a
dispatcher that fails halfway through planning leaves nothing half-done; quiet hours (by
the server clock) defer. SQLite and (CI=true) PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

import store.jobs.scheduler as jobs
import store.notify.dispatch as dispatch
import store.notify.planning as planning
import store.notify.preferences as preferences
from store.checkout import orders
from store.ledger import members
from store.notify.messages import member_page
from store.registry import versions as registry
from store.registry.programs import ProgramCache
from store.settings import Settings
from tests.notify.engagement_program import engagement_program
from tests.smtp_loopback import smtp_sink
from tests.store.helpers import order, publish_retail


@pytest.fixture
def retail(db):
    with db.writing() as session:
        registry.publish(session, engagement_program(1), "tests", "v1")
        registry.activate(session, "retail", 1, "tests", at_declared=True)


@pytest.fixture
def sink():
    with smtp_sink() as server:
        yield server


def settings_for(sink) -> Settings:
    return Settings(smtp_host=sink.host, smtp_port=sink.port, smtp_from="club@shop.example",
                    notify_dispatch_seconds=5)


def customer(db, member_id: str, **prefs) -> None:
    with db.writing() as session:
        members.lock_or_create(session, "retail", member_id, None)
    preferences.change(db, "retail", member_id, **prefs)


def upgrade(db, member_id: str, order_id: str) -> None:
    """A 900.00 order: the member moves up to silver (a `tier.changed` event)."""
    orders.commit(db, ProgramCache(), "retail", order(order_id, member=member_id,
                                                      amount="900.00"))


def statuses(db, member_id: str) -> list[tuple[str, str, str | None]]:
    return [(m["channel"], m["status"], m["reason"])
            for m in member_page(db, "retail", member_id, None, 50)["messages"]]


def test_the_job_emails_a_tier_upgrade_once(db, retail, sink, server_clock):
    customer(db, "CUST-1", email="ana@example.com", locale="es", channels=["email"])
    upgrade(db, "CUST-1", "O-1")
    job = {j.name: j for j in jobs.default_jobs(settings_for(sink))}["notifications"]
    assert job.interval == 5
    summary = jobs.run_once(db, [job])["notifications"]
    assert summary == {"planned": {"retail": {"pending": 1, "suppressed": 1}},
                       "sent": {"sent": 1}}, summary
    [mail] = sink.received
    assert mail.recipients == ["ana@example.com"]
    assert mail.message["Subject"] == "¡Ya eres silver!"
    assert "ahora eres <b>silver</b>" in mail.message.get_body(("html",)).get_content()
    assert sorted(statuses(db, "CUST-1")) == [("email", "sent", None),
                                              ("webhook", "suppressed", "channel_not_chosen")]
    again = jobs.run_once(db, [job])["notifications"]
    assert again == {"planned": {}, "sent": {}}
    assert len(sink.received) == 1


def test_several_dispatchers_at_once_send_each_message_once(db, retail, sink, server_clock):
    settings = settings_for(sink)
    for n in range(6):
        customer(db, f"CUST-{n}", email=f"m{n}@example.com", channels=["email"])
        upgrade(db, f"CUST-{n}", f"O-{n}")
    start = threading.Barrier(4)

    def worker(_: int) -> dict:
        start.wait()
        return dispatch.run(db, settings)

    with ThreadPoolExecutor(4) as pool:
        summaries = list(pool.map(worker, range(4)))  # re-raises what a worker raised
    assert sum(s["sent"].get("sent", 0) for s in summaries) <= 6
    dispatch.run(db, settings)  # whatever a racing claim left pending
    assert sorted(r for m in sink.received for r in m.recipients) == [
        f"m{n}@example.com" for n in range(6)]
    for n in range(6):
        assert ("email", "sent", None) in statuses(db, f"CUST-{n}")


def test_a_dispatcher_failing_halfway_leaves_the_events_to_the_next(db, retail, sink,
                                                                     server_clock,
                                                                     monkeypatch):
    settings = settings_for(sink)
    for n in range(3):
        customer(db, f"CUST-{n}", email=f"m{n}@example.com", channels=["email"])
        upgrade(db, f"CUST-{n}", f"O-{n}")
    real = planning.plan_event
    seen: list[str] = []

    def dies_on_the_third(session, event, *args, **kwargs):
        seen.append(event.id)
        if event.type == "tier.changed" and event.member_id == "CUST-2":
            raise RuntimeError("worker lost")
        return real(session, event, *args, **kwargs)

    monkeypatch.setattr(dispatch, "plan_event", dies_on_the_third)
    with pytest.raises(RuntimeError):
        dispatch.run(db, settings)
    assert sink.received == [] and statuses(db, "CUST-0") == []  # rolled back, cursor too
    monkeypatch.setattr(dispatch, "plan_event", real)
    dispatch.run(db, settings)
    assert sorted(r for m in sink.received for r in m.recipients) == [
        "m0@example.com", "m1@example.com", "m2@example.com"]


def test_quiet_hours_by_the_server_clock_defer_the_email(db, retail, sink, server_clock):
    settings = settings_for(sink)
    customer(db, "CUST-1", email="ana@example.com", channels=["email"])
    upgrade(db, "CUST-1", "O-1")
    server_clock.set("2026-11-18T04:00:00+00:00")  # 23:00 in New York
    dispatch.run(db, settings)
    assert sink.received == []
    assert ("email", "deferred", "quiet_hours") in statuses(db, "CUST-1")
    server_clock.set("2026-11-18T12:59:00+00:00")  # 07:59
    dispatch.run(db, settings)
    assert sink.received == []
    server_clock.set("2026-11-18T13:00:00+00:00")  # 08:00: quiet hours end
    assert dispatch.run(db, settings)["sent"] == {"sent": 1}
    assert sink.received[0].message["Subject"] == "Welcome to silver"
    [email] = member_page(db, "retail", "CUST-1", None, 5, channel="email")["messages"]
    assert datetime.fromisoformat(email["sent_at"]) == server_clock.now


def test_the_shipped_retail_program_welcomes_an_upgrade_in_spanish(db, sink, server_clock):
    publish_retail(db, 1)  # rulesets/retail as shipped, its engagement.yaml included
    customer(db, "CUST-ES", email="ana@example.com", locale="es-MX")
    customer(db, "CUST-EN", email="ben@example.com")
    upgrade(db, "CUST-ES", "O-ES")
    upgrade(db, "CUST-EN", "O-EN")
    dispatch.run(db, settings_for(sink))
    subjects: dict[str, set[str]] = {}
    for mail in sink.received:
        subjects.setdefault(mail.recipients[0], set()).add(mail.message["Subject"])
    assert "Bienvenido a Silver" in subjects["ana@example.com"]
    assert "Welcome to Silver" in subjects["ben@example.com"]
    assert "Welcome to Silver" not in subjects["ana@example.com"]
    spanish = next(m.message for m in sink.received if m.recipients == ["ana@example.com"]
                   and m.message["Subject"] == "Bienvenido a Silver")
    assert "Ahora eres miembro <strong>Silver</strong>" in spanish.get_body(("html",)).get_content()
