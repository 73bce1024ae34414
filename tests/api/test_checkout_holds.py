"""Checkout holds: a redemption with an `order_id` holds points until the order commits
(captured), is cancelled (released) or times out (released); while it lives it counts
against the balance."""

from __future__ import annotations

import pytest

from tests.api.conftest import make_key
from tests.store.helpers import order

BASE = "/v1/programs/retail"
AT = "2026-11-20T12:00:00-05:00"          # the checkout: hold, then the order, same instant
LATER = "2026-11-20T13:00:00-05:00"        # after a 30-minute hold ran out


@pytest.fixture
def key(db):
    return {"Authorization": f"Bearer {make_key(db, 'evaluate', 'commit', 'redeem')}"}


def commit(client, key, order_id, placed_at=AT, member="CUST-1", amount="1000.00"):
    r = client.post(f"{BASE}/orders", headers=key,
                    json=order(order_id, member=member, amount=amount, placed_at=placed_at))
    assert r.status_code in (200, 201), r.text
    return r


def hold(client, key, order_id, points=1000, **extra):
    return client.post(f"{BASE}/redemptions", headers=key, json={
        "member_id": "CUST-1", "points": points, "order_id": order_id, "order_total": "500.00",
        "as_of": AT, **extra})


def balance(client, key, as_of=AT):
    return client.get(f"{BASE}/members/CUST-1", headers=key, params={"as_of": as_of}).json()["balance"]


def ledger_sum(client, key):
    entries = client.get(f"{BASE}/members/CUST-1/ledger", headers=key,
                         params={"limit": 500}).json()["entries"]
    return sum(e["points"] for e in entries)


@pytest.fixture
def earned(client, key):
    commit(client, key, "EARN-1", placed_at="2026-11-02T10:00:00-05:00")
    return balance(client, key)


def test_committing_the_order_captures_the_hold(client, key, earned):
    h = hold(client, key, "CHK-1")
    assert h.status_code == 201, h.text
    assert h.json()["status"] == "held" and h.json()["balance"] == earned - 1000
    r = commit(client, key, "CHK-1", amount="500.00")
    assert r.status_code == 201
    assert r.json()["commit"]["captured_redemptions"] == [h.json()["id"]]
    after = client.get(f"{BASE}/redemptions/{h.json()['id']}", headers=key).json()
    assert after["status"] == "captured"
    assert [e["status"] for e in after["history"]] == ["held", "captured"]
    assert after["history"][1]["order_id"] == "CHK-1"
    # The captured points stay spent: cancelling is refused, a retry captures nothing new.
    c = client.post(f"{BASE}/redemptions/{h.json()['id']}/cancel", headers=key)
    assert c.status_code == 409 and c.json()["code"] == "redemption_captured"
    replay = commit(client, key, "CHK-1", amount="500.00")
    assert replay.status_code == 200 and replay.json() == r.json()
    earned_now = r.json()["commit"]["points_awarded"]
    assert balance(client, key, LATER) == earned - 1000 + earned_now == ledger_sum(client, key)


def test_cancelling_releases_the_hold_and_the_order_then_captures_nothing(client, key, earned):
    h = hold(client, key, "CHK-2").json()
    c = client.post(f"{BASE}/redemptions/{h['id']}/cancel", headers=key,
                    json={"reason": "customer removed points", "cancelled_at": AT})
    assert c.status_code == 201 and c.json()["status"] == "released"
    assert c.json()["balance"] == earned
    r = commit(client, key, "CHK-2", amount="500.00")
    assert "captured_redemptions" not in r.json()["commit"]
    assert r.json()["commit"]["balance"] == earned + r.json()["commit"]["points_awarded"]
    assert ledger_sum(client, key) == r.json()["commit"]["balance"]


def test_a_hold_that_timed_out_is_released_not_captured(client, key, earned):
    h = hold(client, key, "CHK-3", hold_minutes=30).json()
    # Instants are shown in UTC, whatever offset the caller sent, on create and on GET.
    assert h["hold_expires_at"] == "2026-11-20T17:30:00+00:00"
    shown = client.get(f"{BASE}/redemptions/{h['id']}", headers=key).json()
    assert shown["hold_expires_at"] == h["hold_expires_at"]
    assert shown["occurred_at"] == h["occurred_at"] == "2026-11-20T17:00:00+00:00"
    r = commit(client, key, "CHK-3", placed_at=LATER, amount="500.00")
    assert "captured_redemptions" not in r.json()["commit"]
    after = client.get(f"{BASE}/redemptions/{h['id']}", headers=key).json()
    assert after["status"] == "released"
    assert after["history"][-1]["reason"] == "hold timed out"
    assert r.json()["commit"]["balance"] == earned + r.json()["commit"]["points_awarded"]
    assert ledger_sum(client, key) == r.json()["commit"]["balance"]


def test_the_expiry_job_releases_timed_out_holds(client, key, earned, db):
    admin = {"Authorization": f"Bearer {make_key(db, 'admin')}"}
    h = hold(client, key, "CHK-4", hold_minutes=5).json()
    early = client.post(f"{BASE}/admin/expire", headers=admin, json={"as_of": AT}).json()
    assert early["holds_released"] == 0
    job = client.post(f"{BASE}/admin/expire", headers=admin, json={"as_of": LATER}).json()
    assert job["holds_released"] == 1
    assert client.get(f"{BASE}/redemptions/{h['id']}", headers=key).json()["status"] == "released"
    assert balance(client, key, LATER) == earned == ledger_sum(client, key)


def test_a_live_hold_counts_against_the_balance(client, key, earned):
    h = hold(client, key, "CHK-5", points=earned - 400)
    assert h.status_code == 201, h.text
    refused = client.post(f"{BASE}/redemptions", headers=key, json={
        "member_id": "CUST-1", "points": 500, "order_total": "500.00", "as_of": AT})
    assert refused.status_code == 409 and refused.json()["code"] == "INSUFFICIENT_POINTS"
    client.post(f"{BASE}/redemptions/{h.json()['id']}/cancel", headers=key)
    ok = client.post(f"{BASE}/redemptions", headers=key, json={
        "member_id": "CUST-1", "points": 500, "order_total": "500.00", "as_of": AT})
    assert ok.status_code == 201, ok.text


def test_a_hold_for_an_order_already_committed_is_refused(client, key, earned):
    commit(client, key, "CHK-6", amount="500.00")
    r = hold(client, key, "CHK-6")
    assert r.status_code == 409 and r.json()["code"] == "order_already_committed"
    assert r.json()["pointer"] == "/order_id"


def test_another_members_order_with_the_same_id_does_not_capture(client, key, earned):
    h = hold(client, key, "CHK-7").json()
    r = commit(client, key, "CHK-7", member="SOMEONE-ELSE", amount="50.00")
    assert "captured_redemptions" not in r.json()["commit"]
    assert client.get(f"{BASE}/redemptions/{h['id']}", headers=key).json()["status"] == "held"


def test_refunding_the_order_gives_back_the_points_that_paid_for_it(client, key, earned):
    h = hold(client, key, "CHK-9", points=1000).json()
    r = commit(client, key, "CHK-9", amount="500.00").json()  # one line: 1 × 500.00
    awarded = r["commit"]["points_awarded"]
    # A whole refund: the 1,000 points come back with the goods, the earned ones go.
    full = client.post(f"{BASE}/orders/CHK-9/refunds", headers=key,
                       json={"refund_id": "RF-1", "refunded_at": LATER})
    assert full.status_code == 201, full.text
    assert full.json()["points_restored"] == 1000
    assert full.json()["points_reversed"] == awarded
    shown = client.get(f"{BASE}/redemptions/{h['id']}", headers=key).json()
    assert shown["status"] == "refunded"
    assert [e["status"] for e in shown["history"]] == ["held", "captured", "refunded"]
    again = client.post(f"{BASE}/redemptions/{h['id']}/cancel", headers=key)
    assert again.status_code == 409 and again.json()["code"] == "redemption_refunded"
    assert ledger_sum(client, key) == balance(client, key, LATER)


def test_a_partial_refund_gives_back_its_share_of_the_points(client, key, earned):
    h = hold(client, key, "CHK-11", points=1000).json()
    r = client.post(f"{BASE}/orders", headers=key, json=order(
        "CHK-11", amount="125.00", placed_at=AT, quantity=4))  # 4 × 125.00
    assert r.status_code == 201
    one = client.post(f"{BASE}/orders/CHK-11/refunds", headers=key, json={
        "refund_id": "RF-1", "refunded_at": LATER, "lines": [{"index": 0, "quantity": 1}]})
    assert one.json()["points_restored"] == 250
    shown = client.get(f"{BASE}/redemptions/{h['id']}", headers=key).json()
    assert shown["status"] == "captured" and shown["history"][-1]["status"] == "partially_refunded"
    rest = client.post(f"{BASE}/orders/CHK-11/refunds", headers=key, json={
        "refund_id": "RF-2", "refunded_at": LATER})
    assert rest.json()["points_restored"] == 750
    assert client.get(f"{BASE}/redemptions/{h['id']}", headers=key).json()["status"] == "refunded"
    assert ledger_sum(client, key) == balance(client, key, LATER)
