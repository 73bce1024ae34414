"""The event feed and webhook subscriptions over HTTP: paging by cursor, admin only,
and bad input answered as problem+json naming the field."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from schemas import load_schema
from tests.api.conftest import make_key
from tests.api.test_problems import assert_problem
from tests.store.helpers import order

BASE = "/v1/programs/retail"
VALIDATOR = Draft202012Validator(load_schema("events"))


def test_the_feed_pages_in_commit_order(client, db, checkout_key):
    for i in range(3):
        assert client.post(f"{BASE}/orders", json=order(f"O-{i}", member=f"M-{i}"),
                           headers=checkout_key).status_code == 201
    key = {"Authorization": f"Bearer {make_key(db, 'viewer', program='retail')}"}
    seen, cursor = [], None
    while True:
        page = client.get(f"{BASE}/events", params={"limit": 2, **(
            {"after": cursor} if cursor else {})}, headers=key)
        assert page.status_code == 200, page.text
        body = page.json()
        if not body["events"]:
            assert body["next_cursor"] == cursor
            break
        seen.extend(body["events"])
        cursor = body["next_cursor"]
    assert len(seen) >= 3 and len({e["id"] for e in seen}) == len(seen)
    assert next(e["member_id"] for e in seen if e["type"] == "points.earned") == "M-0"
    for event in seen:
        assert list(VALIDATOR.iter_errors(event)) == []
    whole = client.get(f"{BASE}/events", params={"limit": 500}, headers=key).json()
    assert whole["events"] == seen and whole["next_cursor"] == cursor


@pytest.mark.parametrize(("params", "status", "code"), [
    ({"after": "-1"}, 422, "invalid_request"),
    ({"after": "abc"}, 422, "invalid_request"),
    ({"limit": "0"}, 422, "invalid_request"),
    ({"limit": "501"}, 422, "invalid_request"),
])
def test_bad_feed_queries(client, admin_key, params, status, code):
    assert_problem(client.get(f"{BASE}/events", params=params, headers=admin_key), status, code)


def test_the_feed_of_an_unknown_program_or_another_programs_key(client, db, admin_key):
    assert_problem(client.get("/v1/programs/nope/events", headers=admin_key), 404,
                   "unknown_program")
    other = {"Authorization": f"Bearer {make_key(db, 'viewer', program='card-rewards')}"}
    assert_problem(client.get(f"{BASE}/events", headers=other), 403, "forbidden_program")


def test_subscriptions_create_list_get_delete(client, admin_key):
    made = client.post("/v1/webhooks", json={
        "url": "https://hooks.example.com/loyalty", "event_types": ["tier.changed"],
        "program": "retail", "description": "CRM"}, headers=admin_key)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["secret"].startswith("whsec_") and body["max_attempts"] == 8
    assert body["secret_hint"] == body["secret"][:10] + "…"
    listed = client.get("/v1/webhooks", headers=admin_key).json()["webhooks"]
    assert [w["id"] for w in listed] == [body["id"]] and "secret" not in listed[0]
    assert client.get(f"/v1/webhooks/{body['id']}", headers=admin_key).json()["url"] == \
        "https://hooks.example.com/loyalty"
    given = client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/x",
                                              "secret": "whsec_" + "QUJD" * 8},
                        headers=admin_key).json()
    assert given["secret"] == "whsec_" + "QUJD" * 8 and given["event_types"] == []
    gone = client.delete(f"/v1/webhooks/{body['id']}", headers=admin_key)
    assert gone.status_code == 200 and gone.json()["deleted_at"]
    assert_problem(client.get(f"/v1/webhooks/{body['id']}", headers=admin_key), 404,
                   "unknown_webhook")
    assert client.get(f"/v1/webhooks/{given['id']}/deliveries", headers=admin_key).json() == {
        "webhook_id": given["id"], "deliveries": [], "next_cursor": None}


@pytest.mark.parametrize(("payload", "pointer"), [
    ({"url": "ftp://example.com/x"}, "/url"),
    ({"url": "not a url"}, "/url"),
    ({"url": "https://"}, "/url"),
    ({"url": "https://example.com", "event_types": ["points.stolen"]}, "/event_types/0"),
    ({"url": "https://example.com", "secret": "plain"}, "/secret"),
    ({"url": "https://example.com", "secret": "whsec_QUJD"}, "/secret"),
    ({"url": "https://example.com", "max_attempts": 0}, "/max_attempts"),
    ({"url": "https://example.com", "program": "Not A Program"}, "/program"),
    ({"url": "https://example.com", "surprise": 1}, "/surprise"),
    ({}, "/url"),
])
def test_bad_subscriptions_name_the_field(client, admin_key, payload, pointer):
    body = assert_problem(client.post("/v1/webhooks", json=payload, headers=admin_key), 422,
                          body_code(payload))
    assert body["pointer"] == pointer, body


def body_code(payload: dict) -> str:
    secret = payload.get("secret", "")
    return "invalid_secret" if secret.startswith("whsec_") else "invalid_request"


def test_unknown_program_and_ids(client, admin_key):
    assert_problem(client.post("/v1/webhooks", json={"url": "https://example.com",
                                                     "program": "nope"}, headers=admin_key),
                   404, "unknown_program")
    assert_problem(client.delete("/v1/webhooks/12345", headers=admin_key), 404, "unknown_webhook")
    made = client.post("/v1/webhooks", json={"url": "https://example.com"},
                       headers=admin_key).json()
    assert_problem(client.post(f"/v1/webhooks/{made['id']}/deliveries/999/redeliver",
                               headers=admin_key), 404, "unknown_delivery")
    assert_problem(client.get("/v1/webhooks/x1", headers=admin_key), 422, "invalid_request")


def test_subscriptions_are_for_admins_only(client, checkout_key, db):
    assert_problem(client.get("/v1/webhooks", headers=checkout_key), 403, "forbidden_scope")
    bound = {"Authorization": f"Bearer {make_key(db, 'admin', program='retail')}"}
    assert_problem(client.get("/v1/webhooks", headers=bound), 403, "forbidden_program")
    assert_problem(client.post("/v1/webhooks", json={"url": "https://example.com"}), 401,
                   "unauthenticated")


def test_an_adjustment_tells_its_reason(client, admin_key, checkout_key):
    assert client.post(f"{BASE}/orders", json=order("O-1"), headers=checkout_key).is_success
    made = client.post(f"{BASE}/members/CUST-1/adjustments", headers=admin_key,
                       json={"points": -25, "reason": "goodwill reversed"})
    assert made.status_code in (200, 201), made.text
    events = client.get(f"{BASE}/events", headers=admin_key).json()["events"]
    [adjusted] = [e for e in events if e["type"] == "points.adjusted"]
    assert adjusted["payload"]["points"] == -25
    assert adjusted["payload"]["reason"] == "goodwill reversed"
    assert adjusted["payload"]["balance"] == made.json()["balance"]


def test_subscribing_a_private_url_over_http_is_refused(client, admin_key, monkeypatch) -> None:
    monkeypatch.setenv("LOYALTY_WEBHOOK_ALLOW_PRIVATE", "false")
    for url in ("http://127.0.0.1:9/x", "http://169.254.169.254/latest", "http://localhost/x"):
        answer = client.post("/v1/webhooks", json={"url": url}, headers=admin_key)
        body = assert_problem(answer, 422, "url_not_public")
        assert body["errors"][0]["pointer"] == "/url" and url.split("/")[2].split(":")[0] \
            in body["detail"]
    monkeypatch.setenv("LOYALTY_WEBHOOK_ALLOW_PRIVATE", "true")
    assert client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/x"},
                       headers=admin_key).status_code == 201
