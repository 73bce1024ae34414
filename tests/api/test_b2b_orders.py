"""Companies' orders over HTTP, with account managers' personal keys, against the
external points API on loopback: roles (a viewer cannot place, a requester cannot
approve, nobody approves their own order), isolation (another company's ids answer 404
on every route), the operators' steps and inventory, and the signed delivery callbacks
(bad signature, stale timestamp, replay, unknown item)."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

import store.b2b_orders.job as order_job
from api.app import create_app
from store.b2b_orders.callbacks import sign
from store.settings import Settings
from tests.api.conftest import make_key
from tests.loopback import LoopbackServer
from tests.store.b2b_helpers import make_company, make_manager, publish_b2b
from tests.store.b2b_order_support import debits, items, points_api

SECRET = "whsec_c2VjcmV0LWZvci10ZXN0cy1vbmx5"
BASE = "/v1/programs/b2b-portal"
BAG, COFFEE, GIFT = "PHYS-LAPTOP-BAG", "PHYS-COFFEE-MACHINE", "VIRT-GIFT-CARD-100"


@pytest.fixture
def points(monkeypatch):
    with points_api(monkeypatch, {"ACC-ACME": 1_000_000, "ACC-GLOBEX": 1_000_000}) as server:
        yield server


@pytest.fixture
def client(db, points):
    publish_b2b(db)
    settings = Settings(database_url=db.url, api_key_cache_seconds=0, jobs_enabled=False,
                        fulfilment_callback_secret=SECRET)
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def keys(db, client):
    make_company(db, "ACME", threshold=50_000)
    make_company(db, "GLOBEX")
    made = {name: {"Authorization": f"Bearer {make_manager(db, company, name, role)}"}
            for name, company, role in (
                ("ann", "ACME", "requester"), ("bob", "ACME", "approver"),
                ("vic", "ACME", "viewer"), ("cat", "ACME", "company_admin"),
                ("gus", "GLOBEX", "company_admin"))}
    made["admin"] = {"Authorization": f"Bearer {make_key(db, 'admin')}"}
    return made


def orders(company="ACME"):
    return f"{BASE}/companies/{company}/orders"


def place(client, key, *pairs, company="ACME", **extra):
    return client.post(orders(company), headers=key, json={"items": items(*pairs), **extra})


def test_roles_decide_who_places_approves_and_reads(client, keys, points):
    assert place(client, keys["vic"], (BAG, 1)).status_code == 403
    small = place(client, keys["ann"], (BAG, 1), idempotency_key="K1")
    assert small.status_code == 201 and small.json()["status"] == "placed"
    again = place(client, keys["ann"], (BAG, 1), idempotency_key="K1")
    assert again.status_code == 200 and again.headers["idempotent-replay"] == "true"
    big = place(client, keys["ann"], (COFFEE, 1)).json()
    assert big["status"] == "pending_approval" and big["requested_by"] == "manager:ann"
    number = big["order_number"]
    assert client.post(f"{orders()}/{number}/approve", headers=keys["ann"]).status_code == 403
    own = place(client, keys["cat"], (COFFEE, 1)).json()["order_number"]
    refused = client.post(f"{orders()}/{own}/approve", headers=keys["cat"])
    assert refused.status_code == 403 and refused.json()["code"] == "approver_is_requester"
    approved = client.post(f"{orders()}/{number}/approve", headers=keys["bob"])
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"] == "manager:bob"
    assert approved.json()["status"] == "placed" and len(debits(points)) == 2
    listed = client.get(orders(), headers=keys["vic"]).json()["orders"]
    assert [o["order_number"] for o in listed][:1] == [own] and len(listed) == 3
    assert client.get(f"{orders()}?status=placed", headers=keys["vic"]).json()["orders"][0][
        "order_number"] == number


def test_another_companys_ids_answer_404_everywhere(client, keys):
    mine = place(client, keys["gus"], (BAG, 1), company="GLOBEX").json()["order_number"]
    theirs = place(client, keys["ann"], (BAG, 1)).json()["order_number"]
    for method, path in (("post", orders("GLOBEX")), ("get", orders("GLOBEX")),
                         ("get", f"{orders('GLOBEX')}/{mine}"),
                         ("post", f"{orders('GLOBEX')}/{mine}/approve"),
                         ("post", f"{orders('GLOBEX')}/{mine}/reject"),
                         ("post", f"{orders('GLOBEX')}/{mine}/cancel")):
        body = {"json": {"items": items((BAG, 1))}} if method == "post" else {}
        answer = getattr(client, method)(path, headers=keys["cat"], **body)
        assert answer.status_code == 404 and answer.json()["code"] == "unknown_company", path
    # their own company id, another company's order number: not found either
    answer = client.get(f"{orders()}/{mine}", headers=keys["cat"])
    assert answer.status_code == 404 and answer.json()["code"] == "unknown_order"
    assert client.get(f"{orders('GLOBEX')}/{theirs}", headers=keys["gus"]).status_code == 404


def test_operators_ship_and_stock_follows(client, keys):
    number = place(client, keys["ann"], (BAG, 2), (GIFT, 1)).json()["order_number"]
    ops = f"{BASE}/b2b-orders/{number}/items"
    admin = keys["admin"]
    queue = client.get(f"{BASE}/b2b-orders/queue", headers=admin).json()["items"]
    assert [(i["order_number"], i["line"]) for i in queue] == [(number, 1)]
    assert client.post(f"{ops}/1/acknowledge", headers=admin).status_code == 201
    assert client.post(f"{ops}/1/acknowledge", headers=admin).status_code == 200
    no_tracking = client.post(f"{ops}/1/ship", headers=admin, json={"carrier": "DHL"})
    assert no_tracking.status_code == 422
    shipped = client.post(f"{ops}/1/ship", headers=admin,
                          json={"carrier": "DHL", "tracking": "JD014600006281"})
    assert shipped.status_code == 201 and shipped.json()["items"][0]["status"] == "shipped"
    assert client.post(f"{ops}/2/ship", headers=admin,
                       json={"carrier": "x", "tracking": "y"}).json()["code"] == "wrong_route"
    stock = {i["reward_id"]: i for i in client.get(f"{BASE}/inventory", headers=admin)
             .json()["items"]}
    assert (stock[BAG]["available"], stock[BAG]["reserved"]) == (298, 0)
    assert stock[GIFT]["stocked"] is False
    restocked = client.post(f"{BASE}/inventory/{BAG}/restock", headers=admin,
                            json={"quantity": 50, "reason": "delivery"})
    assert restocked.status_code == 200 and restocked.json()["available"] == 348
    assert client.post(f"{BASE}/inventory/{BAG}/adjust", headers=admin,
                       json={"delta": -400, "reason": "count"}).status_code == 409
    assert client.put(f"{BASE}/inventory/{BAG}/low-stock", headers=admin,
                      json={"low_stock": 10}).json()["low_stock"] == 10
    changes = client.get(f"{BASE}/inventory/changes?reward_id={BAG}", headers=admin).json()
    assert [c["kind"] for c in changes["changes"]][:3] == ["threshold", "restock", "ship"]
    assert client.get(f"{BASE}/inventory", headers=keys["ann"]).status_code == 401


def signed(body: dict, webhook_id: str, at: int | None = None, secret: str = SECRET):
    raw = json.dumps(body).encode()
    stamp = int(time.time()) if at is None else at
    return raw, {"webhook-id": webhook_id, "webhook-timestamp": str(stamp),
                 "webhook-signature": sign(secret, webhook_id, stamp, raw),
                 "content-type": "application/json"}


def test_callbacks_are_verified_idempotent_and_move_the_item(client, keys, db, monkeypatch):
    number = place(client, keys["ann"], (BAG, 1), (GIFT, 1)).json()["order_number"]
    with LoopbackServer(lambda request: (202, {})) as api:
        monkeypatch.setenv("LOYALTY_FULFILMENT_WEBHOOK_URL", api.url + "/fulfil")
        assert order_job.run(db)["fulfilment"] == {"sent": 1}
    assert api.requests[0].body | {"order_number": number, "line": 2} == api.requests[0].body
    url = "/v1/fulfilment/callbacks"
    delivered = {"order_number": number, "line": 2, "status": "delivered"}
    raw, headers = signed(delivered, "msg_1")
    first = client.post(url, content=raw, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"order_number": number, "order_status": "partially_fulfilled",
                            "line": 2, "status": "delivered", "moved": True}
    replay = client.post(url, content=raw, headers=headers)
    assert replay.status_code == 200 and replay.json() == first.json()
    _, other = signed({**delivered, "line": 1}, "msg_1")
    assert client.post(url, content=json.dumps({**delivered, "line": 1}),
                       headers=other).json()["code"] == "callback_conflict"
    raw, headers = signed(delivered, "msg_2", secret="whsec_b3RoZXI=")
    bad = client.post(url, content=raw, headers=headers)
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_signature"
    raw, headers = signed(delivered, "msg_3", at=int(time.time()) - 3600)
    assert client.post(url, content=raw, headers=headers).json()["code"] == "stale_timestamp"
    raw, headers = signed({**delivered, "line": 9}, "msg_4")
    unknown = client.post(url, content=raw, headers=headers)
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_item"
    raw, headers = signed({**delivered, "order_number": "B2B-2020-999999"}, "msg_5")
    assert client.post(url, content=raw, headers=headers).status_code == 404
    raw, headers = signed({"order_number": number, "line": 1, "status": "lost"}, "msg_6")
    assert client.post(url, content=raw, headers=headers).status_code == 422
    raw, headers = signed({**delivered, "line": 1}, "msg_7")  # queued: not shipped yet
    assert client.post(url, content=raw, headers=headers).json()["code"] == \
        "invalid_transition"
    shipped = {"order_number": number, "line": 1, "status": "shipped", "carrier": "UPS",
               "tracking": "1Z999"}
    raw, headers = signed(shipped, "msg_8")
    assert client.post(url, content=raw, headers=headers).json()["status"] == "shipped"
    raw, headers = signed({**delivered, "line": 1}, "msg_9")
    assert client.post(url, content=raw, headers=headers).json()["order_status"] == "fulfilled"
    history = client.get(f"{orders()}/{number}", headers=keys["vic"]).json()["history"]
    assert ("delivered", "callback:msg_9") in [(h["step"], h["actor"]) for h in history]
    assert client.post(url, content=b"{}", headers={}).status_code == 401


def test_cancel_over_http_credits_back_and_rejects_release(client, keys, points):
    number = place(client, keys["ann"], (BAG, 1), (GIFT, 1)).json()["order_number"]
    cancelled = client.post(f"{orders()}/{number}/cancel", headers=keys["ann"],
                            json={"lines": [2], "reason": "not needed"})
    assert cancelled.status_code == 201 and cancelled.json()["points_credited"] == 10000
    assert client.post(f"{orders()}/{number}/cancel", headers=keys["ann"],
                       json={"lines": [7]}).status_code == 404
    pending = place(client, keys["ann"], (COFFEE, 1)).json()["order_number"]
    rejected = client.post(f"{orders()}/{pending}/reject", headers=keys["bob"],
                           json={"reason": "budget"})
    assert rejected.status_code == 200 and rejected.json()["reason"] == "rejected"
    assert client.post(f"{orders()}/{pending}/approve", headers=keys["bob"]).json()["code"] == \
        "order_not_pending"


def test_virtual_items_go_out_after_the_answer_and_a_failed_one_is_retried(
        client, keys, db, monkeypatch):
    answers = [(500, {})] * 2 + [(202, {})]

    def fulfilment_api(request):
        return answers.pop(0) if answers else (202, {})

    with LoopbackServer(fulfilment_api) as api:
        monkeypatch.setenv("LOYALTY_FULFILMENT_WEBHOOK_URL", api.url + "/fulfil")
        monkeypatch.setenv("LOYALTY_FULFILMENT_MAX_ATTEMPTS", "2")
        monkeypatch.setenv("LOYALTY_FULFILMENT_BACKOFF_SECONDS", "0")
        number = place(client, keys["ann"], (GIFT, 1)).json()["order_number"]
        order = client.get(f"{orders()}/{number}", headers=keys["vic"]).json()
        assert order["items"][0]["status"] == "pending"  # the first attempt failed (500)
        assert order_job.run(db)["fulfilment"] == {"failed": 1}
        ops = f"{BASE}/b2b-orders/{number}/items/2/retry"
        assert client.post(ops, headers=keys["admin"]).json()["code"] == "unknown_item"
        retried = client.post(f"{BASE}/b2b-orders/{number}/items/1/retry", headers=keys["admin"])
        assert retried.status_code == 201
        order = client.get(f"{orders()}/{number}", headers=keys["vic"]).json()
        assert order["items"][0]["status"] == "sent" and order["items"][0]["attempts"] == 1
    assert [r.body["order_number"] for r in api.requests] == [number] * 3


def test_the_cached_balance_is_forgotten_after_a_debit_and_a_cancel(client, keys, points):
    """The portal's balance reads through a cache (10 s by default); the platform's own
    debit and credit drop the entry, so the next view shows them at once."""
    company = f"{BASE}/companies/ACME"
    assert client.get(company, headers=keys["vic"]).json()["balance"] == 1_000_000
    assert client.get(company, headers=keys["vic"]).json()["balance_cached"] is True
    number = place(client, keys["ann"], (BAG, 2)).json()["order_number"]
    after_debit = client.get(company, headers=keys["vic"]).json()
    assert (after_debit["balance"], after_debit["balance_cached"]) == (1_000_000 - 9000, False)
    assert client.get(company, headers=keys["vic"]).json()["balance_cached"] is True
    cancelled = client.post(f"{orders()}/{number}/cancel", headers=keys["ann"])
    assert cancelled.status_code == 201 and cancelled.json()["points_credited"] == 9000
    assert points.points.balances["ACC-ACME"] == 1_000_000  # credited right after answering
    after_credit = client.get(company, headers=keys["vic"]).json()
    assert (after_credit["balance"], after_credit["balance_cached"]) == (1_000_000, False)
    pending = place(client, keys["ann"], (COFFEE, 1)).json()["order_number"]
    assert client.get(company, headers=keys["vic"]).json()["balance"] == 1_000_000
    approved = client.post(f"{orders()}/{pending}/approve", headers=keys["bob"])
    assert approved.status_code == 200 and approved.json()["status"] == "placed"
    assert client.get(company, headers=keys["vic"]).json()["balance"] == 1_000_000 - 60000
