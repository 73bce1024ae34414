"""Redemptions over HTTP: pay with points, rewards, refusals with reason codes, cancel."""

from __future__ import annotations

import pytest

from tests.api.conftest import make_key
from tests.store.helpers import order

BASE = "/v1/programs/retail"
AS_OF = "2026-11-20T12:00:00Z"


@pytest.fixture
def key(db):
    return {"Authorization": f"Bearer {make_key(db, 'evaluate', 'commit', 'redeem')}"}


def earn(client, key, order_id, member="CUST-1", amount="1000.00", **kw):
    r = client.post(f"{BASE}/orders", json=order(order_id, member=member, amount=amount, **kw),
                    headers=key)
    assert r.status_code == 201, r.text
    return r.json()["commit"]["balance"]


def redeem(client, key, **body):
    return client.post(f"{BASE}/redemptions", json={"as_of": AS_OF, **body}, headers=key)


def ledger_sum(client, key, member="CUST-1"):
    entries = client.get(f"{BASE}/members/{member}/ledger", headers=key,
                         params={"limit": 500}).json()["entries"]
    return sum(e["points"] for e in entries), entries


def held_in_lots(client, key, member="CUST-1"):
    """Points left per lot number, from the member summary."""
    summary = client.get(f"{BASE}/members/{member}", headers=key).json()
    return {lot["lot"]: lot["left"] for lot in summary["lots"]}


def test_pay_with_points_uses_oldest_lots_first_and_cancel_restores_them(client, key):
    earn(client, key, "O-1", placed_at="2026-10-01T10:00:00-04:00")
    balance = earn(client, key, "O-2", placed_at="2026-11-02T10:00:00-05:00")
    r = redeem(client, key, member_id="CUST-1", points=2100, order_total="5000.00")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "completed" and body["points"] == 2100 and body["value"] == "21.00"
    assert body["balance"] == balance - 2100
    expiries = [lot["expires_at"] for lot in body["lots"]]
    assert expiries == sorted(expiries) and sum(lot["points"] for lot in body["lots"]) == 2100
    assert body["lots"][0]["expires_at"].startswith("2028-10-01")
    total, entries = ledger_sum(client, key)
    assert total == body["balance"] and entries[0]["kind"] == "redeem"
    drawn = {d["lot"]: d["points"] for d in entries[0]["draws"]}
    assert drawn == {int(lot["lot_id"]): lot["points"] for lot in body["lots"]}
    lots_before = held_in_lots(client, key)

    c = client.post(f"{BASE}/redemptions/{body['id']}/cancel", json={"reason": "changed mind",
                    "cancelled_at": AS_OF}, headers=key)
    assert c.status_code == 201, c.text
    assert c.json()["status"] == "cancelled" and c.json()["balance"] == balance
    assert [h["status"] for h in c.json()["history"]] == ["completed", "cancelled"]
    total, entries = ledger_sum(client, key)
    assert total == balance and entries[0]["kind"] == "reverse" and entries[0]["points"] == 2100
    assert {d["lot"]: d["points"] for d in entries[0]["draws"]} == drawn  # back where from
    restored = held_in_lots(client, key)
    assert {lot: restored[lot] - lots_before.get(lot, 0) for lot in restored
            if restored[lot] != lots_before.get(lot, 0)} == drawn
    again = client.post(f"{BASE}/redemptions/{body['id']}/cancel", headers=key)
    assert again.status_code == 200 and again.json()["balance"] == balance


@pytest.mark.parametrize("body, status, code", [
    ({"points": 100}, 422, "BELOW_MINIMUM"),
    ({"points": 10**9}, 409, "INSUFFICIENT_POINTS"),
    ({"points": 600, "order_total": "10.00"}, 422, "EXCEEDS_ORDER_SHARE"),
    ({"reward_id": "REWARD-201"}, 422, "TIER_RESTRICTED"),
    ({"reward_id": "NOPE"}, 422, "UNKNOWN_REWARD"),
    ({"reward_id": "REWARD-001", "order_total": "10.00"}, 422, "BELOW_MIN_ORDER"),
])
def test_refusals_carry_the_reason_code(client, key, body, status, code):
    balance = earn(client, key, "O-1")
    r = redeem(client, key, member_id="CUST-1", **body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code and any(e["code"] == code for e in r.json()["errors"])
    assert client.get(f"{BASE}/members/CUST-1", headers=key).json()["balance"] == balance


def test_bad_bodies_are_422_and_unknown_member_is_404(client, key):
    assert redeem(client, key, member_id="X", points=500).json()["code"] == "unknown_member"
    both = redeem(client, key, member_id="X", points=500, reward_id="REWARD-001")
    assert both.status_code == 422 and both.json()["code"] == "invalid_request"
    neither = redeem(client, key, member_id="X")
    assert neither.status_code == 422


def test_reward_issues_a_code_valid_for_its_days_and_cancel_returns_stock(client, key):
    balance = earn(client, key, "O-1")
    r = redeem(client, key, member_id="CUST-1", reward_id="REWARD-101", quantity=2)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["points"] == 2000 and body["reward"]["code"].startswith("RW-")
    catalog = client.get(f"{BASE}/catalog", headers=key, params={"as_of": AS_OF}).json()
    mug = next(i for i in catalog["items"] if i["id"] == "REWARD-101")
    assert mug["stock_remaining"] == 498
    client.post(f"{BASE}/redemptions/{body['id']}/cancel", headers=key)
    catalog = client.get(f"{BASE}/catalog", headers=key, params={"as_of": AS_OF}).json()
    assert next(i for i in catalog["items"] if i["id"] == "REWARD-101")["stock_remaining"] == 500
    coupon = redeem(client, key, member_id="CUST-1", reward_id="REWARD-001").json()
    assert coupon["reward"]["valid_until"].startswith("2026-12-20")
    assert coupon["balance"] == balance - 500


def test_idempotency_key_replays_and_conflicts(client, key):
    earn(client, key, "O-1")
    first = redeem(client, key, member_id="CUST-1", points=500, idempotency_key="K-1")
    again = redeem(client, key, member_id="CUST-1", points=500, idempotency_key="K-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    clash = redeem(client, key, member_id="CUST-1", points=600, idempotency_key="K-1")
    assert clash.status_code == 409 and clash.json()["code"] == "redemption_conflict"


def test_redeem_needs_the_redeem_or_commit_scope(client, db):
    only_eval = {"Authorization": f"Bearer {make_key(db, 'evaluate')}"}
    r = redeem(client, only_eval, member_id="CUST-1", points=500)
    assert r.status_code == 403
