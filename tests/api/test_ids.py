"""Every id the API accepts can be stored: maximum-length ids (ASCII and non-BMP) go
through every write route, ids with control characters or too long are a clean 422,
never a 500 — on PostgreSQL too (CI=true), whose text cannot hold NUL and whose varchar
columns hold what they declare."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.api.conftest import make_key
from tests.api.test_auto_redemption import publish_card
from tests.store.helpers import order

BASE = "/v1/programs/retail"
AT = "2026-11-17T14:30:00-05:00"
LONGEST = {"ascii": "A" * 127 + "Z", "non-BMP": "𝄞é" * 64}  # 128 characters each
BAD = {"NUL": "a\x00b", "C0": "a\x01b", "newline": "a\nb", "DEL": "a\x7fb", "C1": "a\x85b",
       "129 characters": "A" * 129, "empty": ""}


@pytest.fixture
def key(db):
    return {"Authorization": f"Bearer {make_key(db, 'admin')}"}


def path_id(value: str) -> str:
    return quote(value, safe="")


def writes(mid: str, oid: str, rid: str):
    """One request per route that takes ids: (method, path, arguments, the ids it sends
    among member, order and refund — each stands for every id of its kind)."""
    member = "member"
    return [
        ("post", f"{BASE}/evaluate", {"json": order(oid, member=mid, placed_at=AT)},
         {member, "order"}),
        ("post", f"{BASE}/orders", {"json": order(oid, member=mid, amount="1000.00",
                                                  placed_at=AT)}, {member, "order"}),
        ("post", f"{BASE}/orders/{path_id(oid)}/refunds",
         {"json": {"refund_id": rid, "refunded_at": AT, "lines": [{"index": 0, "quantity": 1}]}},
         {"order", "refund"}),
        ("post", f"{BASE}/activities", {"json": {
            "event_id": rid, "member_id": mid, "friend_id": oid, "activity": "referral",
            "occurred_at": AT}}, {member, "order", "refund"}),
        ("post", f"{BASE}/redemptions", {"json": {
            "member_id": mid, "points": 500, "order_total": "500.00", "order_id": rid,
            "idempotency_key": rid, "as_of": AT}}, {member, "refund"}),
        ("post", f"{BASE}/redemptions", {"json": {
            "member_id": mid, "reward_id": oid, "idempotency_key": oid, "as_of": AT}},
         {member, "order"}),
        ("put", f"/v1/programs/card-rewards/members/{path_id(mid)}/auto-redemption",
         {"json": {}}, {member}),
        ("get", f"{BASE}/members/{path_id(mid)}", {}, {member}),
        ("get", f"{BASE}/members/{path_id(mid)}/ledger", {}, {member}),
        ("get", f"{BASE}/catalog", {"params": {"member_id": mid}}, {member}),
        ("get", f"/v1/programs/card-rewards/members/{path_id(mid)}/auto-redemption", {},
         {member}),
        ("get", f"{BASE}/admin/external-transfers", {"params": {"account": mid}}, {member}),
    ]


def send(client, key, method, path, kwargs):
    return getattr(client, method)(path, headers=key, **kwargs)


@pytest.mark.parametrize("kind", LONGEST)
def test_the_longest_ids_are_stored_by_every_route(client, db, key, kind):
    publish_card(db)
    mid, oid, rid = LONGEST[kind], LONGEST[kind][::-1], "R" + LONGEST[kind][1:]
    answers = [(path, send(client, key, method, path, kwargs))
               for method, path, kwargs, _ in writes(mid, oid, rid)]
    assert [(path, r.text) for path, r in answers if r.status_code >= 500] == []
    status = [r.status_code for _, r in answers]
    # quote, order, refund, referral (the friend is the order id), hold; the reward id is
    # no catalog reward (422); auto-redemption enrols; the reads find the member.
    assert status == [200, 201, 201, 201, 201, 422, 200, 200, 200, 200, 200, 200], answers
    entries = client.get(f"{BASE}/members/{path_id(mid)}/ledger", headers=key,
                         params={"limit": 500}).json()["entries"]
    assert f"{oid}/{rid}" in {e["source"]["ref"] for e in entries}  # the refund's lots
    hold = answers[4][1].json()
    assert hold["member_id"] == mid and hold["order_id"] == rid
    cancel = client.post(f"{BASE}/redemptions/{hold['id']}/cancel", headers=key,
                         json={"reason": "𝄞 changed mind", "cancelled_at": AT})
    assert cancel.status_code == 201, cancel.text
    replay = send(client, key, *writes(mid, oid, rid)[4][:3])
    assert replay.status_code == 200 and replay.json()["id"] == hold["id"]


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("where", ["member", "order", "refund"])
def test_ids_that_cannot_be_stored_are_a_clean_422(client, db, key, bad, where):
    publish_card(db)
    assert client.post(f"{BASE}/orders", headers=key, json=order(
        "O-1", member="M-1", amount="1000.00", placed_at=AT)).status_code == 201
    ids = {"member": "M-1", "order": "O-1", "refund": "R-1", where: BAD[bad]}
    for method, path, kwargs, sends in writes(ids["member"], ids["order"], ids["refund"]):
        r = send(client, key, method, path, kwargs)
        assert r.status_code < 500, (path, r.text)
        if where not in sends:
            continue
        if BAD[bad] == "" and f"/{path_id(BAD[bad])}/" in path + "/":
            assert r.status_code in (404, 405), (path, r.text)  # an empty path segment
            continue
        assert r.status_code == 422 and r.json()["code"] == "invalid_request", (path, r.text)


@pytest.mark.parametrize("row_id", ["0" * 19, "99999999999999999999", "²", "٣", "1a", "-1"])
def test_row_ids_are_ascii_digits_within_bigint(client, db, key, row_id):
    for method, path in [("get", f"{BASE}/redemptions/{quote(row_id)}"),
                         ("post", f"{BASE}/redemptions/{quote(row_id)}/cancel"),
                         ("post", f"{BASE}/fulfilment/{quote(row_id)}/acknowledge"),
                         ("post", f"{BASE}/admin/external-transfers/{quote(row_id)}/retry"),
                         ("get", f"{BASE}/members/M-1/ledger?cursor={quote(row_id)}"),
                         ("get", f"{BASE}/fulfilment/queue?cursor={quote(row_id)}"),
                         ("get", f"/v1/audit?cursor={quote(row_id)}")]:
        r = getattr(client, method)(path, headers=key)
        assert r.status_code == 422, (path, r.text)


def test_texts_stored_with_a_redemption_or_a_ruleset_are_storable(client, db, key):
    """Free texts kept with a record (a cancel reason, an acknowledgement, a ruleset
    message) refuse control characters (PostgreSQL text cannot hold NUL): 422, not 500."""
    from tests.store.helpers import retail_version

    assert client.post(f"{BASE}/orders", headers=key, json=order(
        "O-1", member="M-1", amount="1000.00", placed_at=AT)).status_code == 201
    mug = client.post(f"{BASE}/redemptions", headers=key, json={
        "member_id": "M-1", "reward_id": "REWARD-101", "as_of": AT}).json()["id"]
    acked = client.post(f"{BASE}/fulfilment/{mug}/acknowledge", headers=key,
                        json={"by": "ops\x00", "note": "box \x00 1"})
    cancelled = client.post(f"{BASE}/redemptions/{mug}/cancel", headers=key,
                            json={"reason": "a\x00b"})
    published = client.post("/v1/rulesets", headers=key,
                            json={"sources": retail_version(2), "message": "v2 \x00"})
    for r, pointer in ((acked, "/by"), (cancelled, "/reason"), (published, "/message")):
        assert r.status_code == 422 and r.json()["pointer"] == pointer, r.text
    published = client.post("/v1/rulesets", headers=key, json={
        "sources": retail_version(2), "message": "line one\n\tline two 𝄞"})
    assert published.status_code == 201, published.text


@pytest.mark.parametrize("bad", BAD)
def test_audit_filters_and_approval_messages_that_cannot_be_stored_are_a_clean_422(
        client, key, bad):
    for name in ("actor", "action"):
        r = client.get("/v1/audit", headers=key, params={name: BAD[bad]})
        assert r.status_code == 422 and r.json()["errors"][0]["parameter"] == name, r.text
    for kind in LONGEST.values():  # the longest actor or action: a clean empty page
        r = client.get("/v1/audit", headers=key, params={"actor": kind, "action": kind})
        assert r.status_code == 200 and r.json()["entries"] == [], r.text
    approve = client.post("/v1/rulesets/retail/1/approve", headers=key,
                          json={"message": "ok \x00"})
    assert approve.status_code == 422 and approve.json()["pointer"] == "/message", approve.text
