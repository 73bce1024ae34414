"""Fulfilment routing: physical rewards wait in the manual queue until acknowledged;
virtual ones are sent to the fulfilment webhook (a real loopback server), retried with
backoff; every step shows in the redemption's history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from store.redemptions import fulfilment
from tests.api.conftest import make_key
from tests.loopback import fulfilment_webhook
from tests.store.helpers import order

BASE = "/v1/programs/retail"
AS_OF = "2026-11-20T12:00:00Z"


@pytest.fixture
def key(db):
    return {"Authorization": f"Bearer {make_key(db, 'evaluate', 'commit', 'redeem')}"}


@pytest.fixture
def earned(client, key):
    # home, not electronics: a first electronics order would also queue its milestone gift
    r = client.post(f"{BASE}/orders", headers=key, json=order("O-1", amount="3000.00", category="home"))
    assert r.status_code == 201, r.text


@pytest.fixture
def webhook(monkeypatch):
    with fulfilment_webhook(monkeypatch, timeout=0.5, attempts=4) as server:
        yield server


def redeem(client, key, reward_id, **extra):
    r = client.post(f"{BASE}/redemptions", headers=key,
                    json={"member_id": "CUST-1", "reward_id": reward_id, "as_of": AS_OF,
                          "order_total": "100.00", **extra})
    assert r.status_code == 201, r.text
    return r.json()


def statuses(client, key, redemption_id):
    body = client.get(f"{BASE}/redemptions/{redemption_id}", headers=key).json()
    return [h["status"] for h in body["history"]], body


def test_physical_rewards_wait_in_the_manual_queue_until_acknowledged(client, key, admin_key,
                                                                      earned, webhook):
    mug = redeem(client, key, "REWARD-101")
    assert mug["fulfilment"] == {"route": "manual", "status": "queued", "attempts": 0,
                                 "last_error": None}
    queue = client.get(f"{BASE}/fulfilment/queue", headers=admin_key).json()
    assert [i["redemption_id"] for i in queue["items"]] == [mug["id"]]
    assert queue["items"][0]["reward_code"] == mug["reward"]["code"]
    assert client.get(f"{BASE}/fulfilment/queue", headers=key).status_code == 403
    ack = client.post(f"{BASE}/fulfilment/{mug['id']}/acknowledge", headers=admin_key,
                      json={"note": "sent with tracking 1Z999"})
    assert ack.status_code == 201 and ack.json()["status"] == "acknowledged"
    again = client.post(f"{BASE}/fulfilment/{mug['id']}/acknowledge", headers=admin_key)
    assert again.status_code == 200
    assert client.get(f"{BASE}/fulfilment/queue", headers=admin_key).json()["items"] == []
    done = client.get(f"{BASE}/fulfilment/queue", headers=admin_key,
                      params={"status": "acknowledged"}).json()["items"]
    assert [i["redemption_id"] for i in done] == [mug["id"]]
    history, body = statuses(client, key, mug["id"])
    assert history == ["completed", "queued_for_fulfilment", "acknowledged"]
    assert body["history"][2]["note"] == "sent with tracking 1Z999"
    assert webhook.requests == []  # physical goods never reach the webhook


def test_cancelling_takes_an_item_off_the_queue(client, key, admin_key, earned, webhook):
    mug = redeem(client, key, "REWARD-101")
    client.post(f"{BASE}/redemptions/{mug['id']}/cancel", headers=key)
    assert client.get(f"{BASE}/fulfilment/queue", headers=admin_key).json()["items"] == []
    ack = client.post(f"{BASE}/fulfilment/{mug['id']}/acknowledge", headers=admin_key)
    assert ack.status_code == 409 and ack.json()["code"] == "fulfilment_cancelled"
    history, _ = statuses(client, key, mug["id"])
    assert history == ["completed", "queued_for_fulfilment", "cancelled", "fulfilment_cancelled"]


def test_virtual_rewards_are_sent_to_the_webhook_with_retries(client, key, admin_key, earned,
                                                             webhook):
    webhook.fail(times=1)
    webhook.delay(2.0)            # longer than the 0.5 s timeout
    coupon = redeem(client, key, "REWARD-001")
    history, body = statuses(client, key, coupon["id"])
    assert history == ["completed", "queued_for_fulfilment", "delivery_attempt_failed",
                       "delivery_attempt_failed", "delivered"]
    assert body["fulfilment"]["status"] == "delivered" and body["fulfilment"]["attempts"] == 3
    assert "503" in body["history"][2]["error"] and "Timeout" in body["history"][3]["error"]
    sent = [r for r in webhook.requests if r.path == "/fulfil"]
    assert len(sent) == 3
    assert {r.headers["idempotency-key"] for r in sent} == {f"retail:redemption:{coupon['id']}"}
    assert sent[0].body | {"valid_until": None} == {
        "event": "redemption.fulfil", "program": "retail", "redemption_id": coupon["id"],
        "member_id": "CUST-1", "reward_id": "REWARD-001", "quantity": 1,
        "reward_code": coupon["reward"]["code"], "points": 500, "valid_until": None}
    assert client.get(f"{BASE}/fulfilment/queue", headers=admin_key).json()["items"] == []
    # Nothing due any more: a dispatch sends nothing.
    again = client.post(f"{BASE}/fulfilment/dispatch", headers=admin_key).json()
    assert again["outcome"] == {} and len(webhook.requests) == 3


def test_a_delivery_that_keeps_failing_is_failed_then_retried_on_request(client, key, admin_key,
                                                                        earned, webhook):
    webhook.drop(times=4)
    coupon = redeem(client, key, "REWARD-001")
    history, body = statuses(client, key, coupon["id"])
    assert history[-1] == "delivery_failed" and history.count("delivery_attempt_failed") == 4
    assert body["fulfilment"]["status"] == "failed"
    failed = client.get(f"{BASE}/fulfilment/queue", headers=admin_key,
                        params={"route": "webhook", "status": "failed"}).json()["items"]
    assert [i["redemption_id"] for i in failed] == [coupon["id"]]
    r = client.post(f"{BASE}/fulfilment/dispatch", headers=admin_key,
                    params={"retry_failed": "true"}).json()
    assert r == {"program": "retail", "requeued": 1, "outcome": {"delivered": 1}}
    history, body = statuses(client, key, coupon["id"])
    assert history[-2:] == ["delivery_retry_requested", "delivered"]
    assert body["fulfilment"]["attempts"] == 5


def test_client_errors_are_not_retried(client, key, earned, webhook):
    webhook.fail(times=1, status=400)
    coupon = redeem(client, key, "REWARD-001")
    history, body = statuses(client, key, coupon["id"])
    assert history[-2:] == ["delivery_attempt_failed", "delivery_failed"]
    assert body["fulfilment"]["attempts"] == 1 and len(webhook.requests) == 1


def test_without_a_webhook_virtual_items_wait_as_pending(client, key, admin_key, earned,
                                                         monkeypatch):
    monkeypatch.delenv("LOYALTY_FULFILMENT_WEBHOOK_URL", raising=False)
    coupon = redeem(client, key, "REWARD-001")
    assert coupon["fulfilment"]["status"] == "pending"
    pending = client.get(f"{BASE}/fulfilment/queue", headers=admin_key,
                         params={"route": "webhook", "status": "pending"}).json()["items"]
    assert [i["redemption_id"] for i in pending] == [coupon["id"]]


def test_concurrent_dispatchers_send_each_item_once(db, client, key, earned, webhook):
    import threading

    webhook.delay(0.3)
    for _ in range(3):
        redeem(client, key, "REWARD-002")  # each sent by its background task already
    sent_before = len(webhook.requests)
    # Re-open them all and race four dispatchers over them.
    from sqlalchemy import update

    from store.tables.operations import FulfilmentRow
    with db.writing() as session:
        session.execute(update(FulfilmentRow).values(status="pending",
                                                     next_attempt_at=datetime.now(UTC)))
    settings = fulfilment.FulfilmentSettings()
    threads = [threading.Thread(target=fulfilment.dispatch, args=(db, "retail", None, settings))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(webhook.requests) - sent_before == 3


def test_cancelling_while_a_delivery_is_in_flight_stops_it(client, key, earned, webhook,
                                                           monkeypatch, db):
    import httpx

    monkeypatch.delenv("LOYALTY_FULFILMENT_WEBHOOK_URL")
    coupon = redeem(client, key, "REWARD-001")          # pending: no webhook yet
    monkeypatch.setenv("LOYALTY_FULFILMENT_WEBHOOK_URL", webhook.url + "/fulfil")
    settings = fulfilment.FulfilmentSettings()
    [item_id] = fulfilment._claim(db, "retail", settings.lease_seconds, None)  # a dispatcher
    client.post(f"{BASE}/redemptions/{coupon['id']}/cancel", headers=key)  # took it, then
    with httpx.Client() as http:                                            # its call lands
        assert fulfilment._deliver(db, settings, item_id, http) == "cancelled"
    history, body = statuses(client, key, coupon["id"])
    assert history[-3:] == ["cancelled", "fulfilment_cancelled", "delivered_after_cancel"]
    assert body["fulfilment"]["status"] == "cancelled"
