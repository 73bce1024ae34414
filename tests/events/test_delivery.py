"""Webhook deliveries against a real receiver on loopback that verifies signatures with
`standardwebhooks`: at least once, in order per member, retried with backoff, dead-lettered
and redelivered; several workers at once deliver each event once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from engine.events import DomainEvent
from store.checkout import orders
from store.events import delivery, outbox, webhooks
from store.events.signing import check_secret, new_secret
from store.registry.programs import ProgramCache
from store.tables.events import WebhookCursorRow, WebhookDeliveryRow
from tests.events.receiver import Receiver
from tests.store.helpers import order, publish_retail

FAST = delivery.WebhookSettings(backoff_seconds=0, lease_seconds=30, timeout_seconds=5)


def feed_ids(db, member: str | None = None) -> list[str]:
    with db.reading() as session:
        return [p.event.id for p in outbox.read_after(session, "retail", 0, 10_000)
                if member is None or p.event.member_id == member]


def subscribe(db, receiver: Receiver, **extra) -> str:
    new = webhooks.NewSubscription(url=receiver.url + "/hook", secret=receiver.secret, **extra)
    return webhooks.create(db, new, "tests")["id"]


def expired(db, member: str = "M-1") -> str:
    """Publish one event by hand; its id."""
    with db.writing() as session:
        return outbox.publish(session, [DomainEvent.new(
            "points.expired", "retail", member, datetime.now(UTC), 1,
            {"points": 5, "balance": 0})])[0].id


def statuses(db, sid: str) -> dict[str, str]:
    page = webhooks.deliveries(db, sid, None, None, 500)
    return {d["event_id"]: d["status"] for d in page["deliveries"]}


def test_every_event_arrives_signed_once(db):
    publish_retail(db)
    secret = new_secret()
    assert check_secret(secret) is None
    cache = ProgramCache()
    orders.commit(db, cache, "retail", order("O-0"))  # before the subscription: not sent
    before = set(feed_ids(db))
    with Receiver(secret) as receiver:
        sid = subscribe(db, receiver)
        for i in range(1, 4):
            orders.commit(db, cache, "retail", order(f"O-{i}", member=f"M-{i % 2}"))
        outcome = delivery.run(db, FAST)
        wanted = [i for i in feed_ids(db) if i not in before]
        assert outcome["queued"] == len(wanted) and outcome["delivered"] == len(wanted)
        assert receiver.bad == []
        assert receiver.ids() == dict.fromkeys(wanted, 1)
        assert set(statuses(db, sid).values()) == {"delivered"}
        assert delivery.run(db, FAST) == {"queued": 0}  # nothing new, nothing sent again


def test_a_type_and_program_filter(db):
    publish_retail(db)
    with Receiver(new_secret()) as receiver:
        subscribe(db, receiver, event_types=("tier.changed",), program="retail")
        orders.commit(db, ProgramCache(), "retail", order("O-1", amount="900.00"))
        delivery.run(db, FAST)
        assert [e["type"] for e in receiver.verified] == ["tier.changed"]


def test_a_wrong_secret_is_refused_by_the_receiver(db):
    publish_retail(db)
    with Receiver(new_secret()) as receiver:
        webhooks.create(db, webhooks.NewSubscription(url=receiver.url, secret=new_secret()),
                        "tests")
        orders.commit(db, ProgramCache(), "retail", order("O-1"))
        delivery.run(db, delivery.WebhookSettings(backoff_seconds=60))
        assert receiver.verified == [] and len(receiver.bad) >= 1


def test_retries_then_dead_letter_then_redeliver(db):
    publish_retail(db)
    refusing = {"on": True}
    with Receiver(new_secret(), lambda event: 500 if refusing["on"] else None) as receiver:
        sid = subscribe(db, receiver, event_types=("points.expired",), max_attempts=3)
        event_id = expired(db)
        outcome = delivery.run(db, FAST)
        assert outcome == {"queued": 1, "pending": 2, "dead": 1}
        assert receiver.ids() == {event_id: 3}
        page = webhooks.deliveries(db, sid, "dead", None, 10)["deliveries"]
        assert [(d["event_id"], d["attempts"], d["last_status"]) for d in page] == [
            (event_id, 3, 500)]
        assert delivery.run(db, FAST) == {"queued": 0}  # dead: not tried again by itself
        refusing["on"] = False
        again = webhooks.redeliver(db, sid, page[0]["id"])
        assert again["status"] == "pending" and again["attempts"] == 0
        assert delivery.run(db, FAST) == {"queued": 0, "delivered": 1}
        assert receiver.ids() == {event_id: 4}  # every attempt carried the same webhook-id
        assert statuses(db, sid) == {event_id: "delivered"}


def test_a_failed_attempt_waits_for_its_backoff(db):
    publish_retail(db)
    slow = delivery.WebhookSettings(backoff_seconds=60, max_backoff_seconds=600)
    assert [delivery.backoff(slow, n) for n in (1, 2, 3, 5, 9)] == [60, 120, 240, 600, 600]
    with Receiver(new_secret(), lambda event: 503) as receiver:
        sid = subscribe(db, receiver)
        expired(db)
        started = datetime.now(UTC)
        assert delivery.run(db, slow) == {"queued": 1, "pending": 1}
        assert delivery.run(db, slow) == {"queued": 0}  # not due yet
        [d] = webhooks.deliveries(db, sid, None, None, 10)["deliveries"]
        wait = (datetime.fromisoformat(d["next_attempt_at"]) - started).total_seconds()
        assert 59 <= wait <= 61 + 5 and d["attempts"] == 1 and len(receiver.verified) == 1


def test_an_undelivered_event_holds_back_the_members_later_ones(db):
    publish_retail(db)
    cache = ProgramCache()
    for i in range(3):
        orders.commit(db, cache, "retail", order(f"A-{i}", member="A"))
        orders.commit(db, cache, "retail", order(f"B-{i}", member="B"))
    first_of_a = feed_ids(db, "A")[0]
    refused = {"first": True}

    def refuse(event):
        if event["id"] == first_of_a and refused["first"]:
            refused["first"] = False
            return 500
        return None

    with Receiver(new_secret(), refuse) as receiver:
        sid = webhooks.create(db, webhooks.NewSubscription(
            url=receiver.url, secret=receiver.secret), "tests")["id"]
        with db.writing() as session:  # it starts at the feed's end: read it from the start
            session.execute(update(WebhookCursorRow).values(position=0))
        slow = delivery.WebhookSettings(backoff_seconds=3600)
        delivery.run(db, slow)
        got = [e["member_id"] for e in receiver.verified]
        assert got.count("B") == len(feed_ids(db, "B"))  # B's all went out
        assert [e["id"] for e in receiver.verified if e["member_id"] == "A"] == [first_of_a]
        assert statuses(db, sid)[first_of_a] == "pending"
        with db.writing() as session:  # the backoff has passed
            session.execute(update(WebhookDeliveryRow).values(next_attempt_at=datetime.now(UTC)))
        delivery.run(db, slow)
        a_ids = [e["id"] for e in receiver.verified if e["member_id"] == "A"]
        assert a_ids == [first_of_a] + feed_ids(db, "A")  # the retry first, then in order
        assert set(statuses(db, sid).values()) == {"delivered"}


def test_several_workers_deliver_each_event_once(db):
    publish_retail(db)
    cache = ProgramCache()
    with Receiver(new_secret()) as receiver:
        subscribe(db, receiver)
        for i in range(30):
            orders.commit(db, cache, "retail", order(f"O-{i}", member=f"M-{i % 7}"))
        errors: list[str] = []

        def worker() -> None:
            try:
                delivery.run(db, FAST)
            except Exception as exc:  # noqa: BLE001 — reported below
                errors.append(repr(exc))

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        delivery.run(db, FAST)  # whatever a worker skipped while another held it
        assert receiver.ids() == dict.fromkeys(feed_ids(db), 1)
        with db.reading() as session:
            rows = session.scalars(select(WebhookDeliveryRow)).all()
        assert {r.status for r in rows} == {"delivered"} and all(r.attempts == 1 for r in rows)


@pytest.mark.parametrize("secret", ["whsec_", "nope", "whsec_!!!", "whsec_" + "QUJD" * 2])
def test_bad_secrets_are_named(secret):
    assert check_secret(secret) is not None
