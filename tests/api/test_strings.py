"""Lone surrogates (JSON "\\udfff") are refused on input by every route that takes strings:
422 problem+json pointing at the field, never stored, never a 500 later."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import make_key
from tests.store.helpers import order

BASE = "/v1/programs/retail"
AS_OF = "2026-11-20T12:00:00Z"
BAD = "a\udfff"  # json.dumps writes it as the escape "a\\udfff", as a client would


@pytest.fixture
def key(db):
    return {"Authorization": f"Bearer {make_key(db, 'evaluate', 'commit', 'redeem')}"}


def post(client, path: str, body: Any, headers: dict[str, str]):
    text = json.dumps(body)
    assert "\\udfff" in text
    return client.post(path, content=text,
                       headers={**headers, "content-type": "application/json"})


def assert_refused(response, pointer: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "invalid_request"
    assert pointer in [e.get("pointer") for e in body["errors"]], body
    assert any("surrogate" in e["message"] for e in body["errors"]), body


def _with(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    where = body
    for step in path[:-1]:
        where = where[step]
    where[path[-1]] = value
    return body


def _renamed(body: dict[str, Any], path: tuple[Any, ...], new: str) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    where = body
    for step in path[:-1]:
        where = where[step]
    where[new] = where.pop(path[-1])
    return body


REQUEST = {**order("O-9", member="CUST-9"), "context": {"source": "email"}}
REQUEST["member"]["attributes"] = {"segments": ["vip"], "nickname": "Bo"}
EVALUATION_CASES = [
    (("member", "id"), "/member/id"),
    (("member", "tier"), "/member/tier"),
    (("member", "attributes", "nickname"), "/member/attributes/nickname"),
    (("member", "attributes", "segments", 0), "/member/attributes/segments/0"),
    (("order", "id"), "/order/id"),
    (("order", "channel"), "/order/channel"),
    (("order", "lines", 0, "sku"), "/order/lines/0/sku"),
    (("order", "lines", 0, "category"), "/order/lines/0/category"),
    (("context", "source"), "/context/source"),
    (("redeem",), "/redeem/reward_id"),
]


@pytest.mark.parametrize("route", ["evaluate", "orders"])
@pytest.mark.parametrize(("path", "pointer"), EVALUATION_CASES,
                         ids=[p for _, p in EVALUATION_CASES])
def test_quotes_and_commits_refuse_lone_surrogates(client, key, route, path, pointer):
    value = {"reward_id": BAD} if path == ("redeem",) else BAD
    assert_refused(post(client, f"{BASE}/{route}", _with(REQUEST, path, value), key), pointer)


@pytest.mark.parametrize(("path", "pointer"), [
    (("member", "attributes", "nickname"), "/member/attributes"),
    (("context", "source"), "/context/"),
])
def test_keys_with_lone_surrogates_are_refused(client, key, path, pointer):
    response = post(client, f"{BASE}/orders", _renamed(REQUEST, path, "k\udfff"), key)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_request"
    assert any(e["pointer"].startswith(pointer) for e in body["errors"]), body


def test_a_refused_attribute_never_reaches_the_member_view(client, key):
    """The bug: a commit stored "\\udfff" and GET /members/{id} failed with a 500 until
    the attribute was overwritten."""
    first = client.post(f"{BASE}/orders", json=REQUEST, headers=key)
    assert first.status_code == 201, first.text
    bad = _with(_with(REQUEST, ("order", "id"), "O-10"), ("member", "attributes", "nickname"),
                BAD)
    assert_refused(post(client, f"{BASE}/orders", bad, key), "/member/attributes/nickname")
    view = client.get(f"{BASE}/members/CUST-9", headers=key)
    assert view.status_code == 200, view.text
    assert client.get(f"{BASE}/members/CUST-9/ledger", headers=key).status_code == 200


def test_refunds_refuse_lone_surrogates(client, key):
    assert client.post(f"{BASE}/orders", json=REQUEST, headers=key).status_code == 201
    refunds = f"{BASE}/orders/O-9/refunds"
    assert_refused(post(client, refunds, {"refund_id": BAD}, key), "/refund_id")
    assert_refused(post(client, refunds, {"refund_id": "R-1",
                                          "lines": [{"sku": BAD, "quantity": 1}]}, key),
                   "/lines/0/sku")


@pytest.mark.parametrize(("field", "pointer"), [
    ("event_id", "/event_id"), ("member_id", "/member_id"), ("friend_id", "/friend_id"),
    ("attributes", "/attributes/nickname")])
def test_activities_refuse_lone_surrogates(client, key, field, pointer):
    body = {"event_id": "E-1", "member_id": "CUST-9", "activity": "referral",
            "occurred_at": AS_OF, "friend_id": "CUST-10"}
    body[field] = {"nickname": BAD} if field == "attributes" else BAD
    assert_refused(post(client, f"{BASE}/activities", body, key), pointer)


@pytest.mark.parametrize("field", ["member_id", "reward_id", "order_id", "idempotency_key"])
def test_redemptions_refuse_lone_surrogates(client, key, field):
    body = {"member_id": "CUST-9", "reward_id": "REWARD-101", "as_of": AS_OF, field: BAD}
    assert_refused(post(client, f"{BASE}/redemptions", body, key), f"/{field}")


def test_cancel_and_acknowledge_refuse_lone_surrogates(client, key, admin_key):
    earned = client.post(f"{BASE}/orders", headers=key, json=order("O-1", amount="3000.00"))
    assert earned.status_code == 201, earned.text
    mug = client.post(f"{BASE}/redemptions", headers=key, json={
        "member_id": "CUST-1", "reward_id": "REWARD-101", "as_of": AS_OF})
    assert mug.status_code == 201, mug.text
    rid = mug.json()["id"]
    assert_refused(post(client, f"{BASE}/fulfilment/{rid}/acknowledge", {"note": BAD},
                        admin_key), "/note")
    assert_refused(post(client, f"{BASE}/fulfilment/{rid}/acknowledge", {"by": BAD},
                        admin_key), "/by")
    assert_refused(post(client, f"{BASE}/redemptions/{rid}/cancel", {"reason": BAD}, key),
                   "/reason")
    assert client.get(f"{BASE}/redemptions/{rid}", headers=key).json()["status"] != "cancelled"


def test_ruleset_uploads_refuse_lone_surrogates(client, admin_key):
    sources = {"program.yaml": "program: x\nversion: 1\ndescription: \"" + BAD + "\"\n"}
    assert_refused(post(client, "/v1/rulesets", {"sources": sources}, admin_key),
                   "/sources/program.yaml")
    assert_refused(post(client, "/v1/rulesets", {"sources": {"program.yaml": "program: x\n"},
                                                 "message": BAD}, admin_key), "/message")


def test_approvals_refuse_lone_surrogates(client, admin_key):
    assert_refused(post(client, "/v1/rulesets/retail/1/approve", {"message": BAD}, admin_key),
                   "/message")


@pytest.mark.parametrize(("path", "body", "pointer"), [
    ("adjustments", {"points": 5, "reason": BAD}, "/reason"),
    ("adjustments", {"points": 5, "reason": "x", "adjustment_id": BAD}, "/adjustment_id"),
    ("status", {"status": "suspended", "reason": BAD}, "/reason"),
    ("tier-override", {"tier": BAD, "reason": "x"}, "/tier"),
    ("tier-override", {"tier": "gold", "reason": BAD}, "/reason"),
    ("erasure", {"reason": BAD}, "/reason"),
])
def test_member_administration_refuses_lone_surrogates(client, key, admin_key, path, body,
                                                       pointer):
    assert client.post(f"{BASE}/orders", json=order("O-1"), headers=key).status_code == 201
    assert_refused(post(client, f"{BASE}/members/CUST-1/{path}", body, admin_key), pointer)
    summary = client.get(f"{BASE}/members/CUST-1", headers=key).json()
    assert summary["status"] == "active" and summary["tier_override"] is None
