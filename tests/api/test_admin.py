"""`POST /v1/programs/{program}/admin/expire`: admin only, idempotent, reports what it did."""

from __future__ import annotations

from tests.store.helpers import order

BASE = "/v1/programs/retail"


def test_expire_endpoint_expires_once_and_needs_admin(client, checkout_key, admin_key,
                                                      server_clock):
    for i in range(3):
        r = client.post(f"{BASE}/orders", headers=checkout_key,
                        json=order(f"O-{i}", member=f"M-{i}", placed_at="2026-01-06T12:00:00Z"))
        assert r.status_code == 201, r.text
    denied = client.post(f"{BASE}/admin/expire", headers=checkout_key, json={})
    assert denied.status_code == 403 and denied.json()["code"] == "forbidden_scope"
    early = client.post(f"{BASE}/admin/expire", headers=admin_key,
                        json={"as_of": "2027-01-01T00:00:00Z"})
    assert early.status_code == 200 and early.json()["points_expired"] == 0
    due = {"as_of": "2028-02-01T00:00:00Z", "batch_size": 2}
    first = client.post(f"{BASE}/admin/expire", headers=admin_key, json=due)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["program"] == "retail" and body["members"] == 3 and body["batches"] == 2
    assert body["points_expired"] > 0
    again = client.post(f"{BASE}/admin/expire", headers=admin_key, json=due).json()
    assert again["points_expired"] == 0 and again["members"] == 0
    member = client.get(f"{BASE}/members/M-0", headers=admin_key,
                        params={"as_of": "2028-02-01T00:00:00Z"}).json()
    ledger = client.get(f"{BASE}/members/M-0/ledger", headers=admin_key).json()["entries"]
    assert member["balance"] == 0 == sum(e["points"] for e in ledger)
    assert {e["kind"] for e in ledger} >= {"expire"}


def test_expire_endpoint_without_body_and_bad_input(client, admin_key):
    r = client.post(f"{BASE}/admin/expire", headers=admin_key)
    assert r.status_code == 200 and r.json()["points_expired"] == 0
    naive = client.post(f"{BASE}/admin/expire", headers=admin_key,
                        json={"as_of": "2028-02-01T00:00:00"})
    assert naive.status_code == 422 and naive.json()["pointer"] == "/as_of"
    unknown = client.post("/v1/programs/nope/admin/expire", headers=admin_key, json={})
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_program"


def test_expire_endpoint_for_one_member(client, checkout_key, admin_key, server_clock):
    for i in range(2):
        r = client.post(f"{BASE}/orders", headers=checkout_key,
                        json=order(f"O-{i}", member=f"M-{i}", placed_at="2026-01-06T12:00:00Z"))
        assert r.status_code == 201, r.text
    due = {"as_of": "2028-02-01T00:00:00Z", "member_id": "M-1"}
    one = client.post(f"{BASE}/admin/expire", headers=admin_key, json=due).json()
    assert one["members"] == 1 and one["points_expired"] > 0
    assert client.post(f"{BASE}/admin/expire", headers=admin_key, json=due).json()[
        "members"] == 0  # nothing due any more
    unknown = client.post(f"{BASE}/admin/expire", headers=admin_key,
                          json={**due, "member_id": "M-9"}).json()
    assert unknown["members"] == 0
    rest = client.post(f"{BASE}/admin/expire", headers=admin_key,
                       json={"as_of": due["as_of"]}).json()
    assert rest["members"] == 1 and rest["points_expired"] == one["points_expired"]
