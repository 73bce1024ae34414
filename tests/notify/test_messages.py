"""Message records: recorded once per (event, notification, channel), listed newest first
over HTTP with filters, claimed by one dispatcher at a time, retried with a backoff after
a transient failure, failed for good after the last attempt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import store.notify.messages as messages
from store.notify.messages import Planned
from tests.store.helpers import order

BASE = "/v1/programs/retail"
AT = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def member(client, checkout_key):
    r = client.post(f"{BASE}/orders", json=order("O-1"), headers=checkout_key)
    assert r.status_code == 201, r.text
    return "CUST-1"


def planned(event_id: str, status: str = "pending", channel: str = "email",
            **over) -> Planned:
    fields = {"program": "retail", "member_id": "CUST-1", "event_id": event_id,
              "event_type": "tier.changed", "occurred_at": AT, "channel": channel,
              "template": "tier_up", "locale": "en", "marketing": False, "status": status,
              "content": {"subject": "Welcome to gold"}, **over}
    return Planned(**fields)


def test_messages_are_recorded_once_and_listed_newest_first(db, client, checkout_key,
                                                            member):
    with db.writing() as session:
        messages.record(session, planned("E-1"))
        messages.record(session, planned("E-1"))  # the same event planned again
        messages.record(session, planned("E-1", channel="webhook", status="suppressed",
                                         reason="channel_not_chosen"))
        messages.record(session, planned("E-2", status="deferred", reason="quiet_hours",
                                         send_at=AT + timedelta(hours=8)))
    r = client.get(f"{BASE}/members/CUST-1/messages", headers=checkout_key)
    assert r.status_code == 200, r.text
    listed = r.json()["messages"]
    assert [(m["event_id"], m["channel"], m["status"], m["reason"]) for m in listed] == [
        ("E-2", "email", "deferred", "quiet_hours"),
        ("E-1", "webhook", "suppressed", "channel_not_chosen"),
        ("E-1", "email", "pending", None)]
    assert listed[0]["next_attempt_at"] == (AT + timedelta(hours=8)).isoformat()
    assert listed[2]["subject"] == "Welcome to gold"
    page = client.get(f"{BASE}/members/CUST-1/messages", headers=checkout_key,
                      params={"status": "suppressed"}).json()
    assert [m["channel"] for m in page["messages"]] == ["webhook"]
    first = client.get(f"{BASE}/members/CUST-1/messages", headers=checkout_key,
                       params={"limit": 2}).json()
    rest = client.get(f"{BASE}/members/CUST-1/messages", headers=checkout_key,
                      params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [m["event_id"] for m in first["messages"] + rest["messages"]] == ["E-2", "E-1", "E-1"]
    assert rest["next_cursor"] is None


def test_listing_refuses_bad_filters_and_unknown_members(client, checkout_key, member):
    r = client.get(f"{BASE}/members/CUST-1/messages", headers=checkout_key,
                   params={"status": "lost"})
    assert (r.status_code, r.json()["errors"][0]["parameter"]) == (422, "status")
    r = client.get(f"{BASE}/members/NOBODY/messages", headers=checkout_key)
    assert (r.status_code, r.json()["code"]) == (404, "unknown_member")


def test_one_dispatcher_claims_a_message_and_a_lapsed_lease_frees_it(db, member):
    with db.writing() as session:
        messages.record(session, planned("E-1"))
    now = datetime.now(UTC) + timedelta(seconds=1)
    [mine] = messages.claim(db, now)
    assert messages.claim(db, now) == []  # taken: another dispatcher gets nothing
    [again] = messages.claim(db, now + messages.LEASE)  # the first one died
    assert again.id == mine.id and again.attempts == 2
    assert messages.finish(db, again, "sent") == "sent"
    assert messages.claim(db, now + 2 * messages.LEASE) == []


def test_transient_failures_are_retried_then_fail_for_good(db, member):
    with db.writing() as session:
        messages.record(session, planned("E-1"))
    now = datetime.now(UTC) + timedelta(seconds=1)
    for attempt in range(1, messages.MAX_ATTEMPTS + 1):
        [message] = messages.claim(db, now)
        assert message.attempts == attempt
        status = messages.finish(db, message, "failed", "undeliverable", "refused", retry=True)
        now += timedelta(days=1)
    assert status == "failed"
    assert messages.claim(db, now) == []
