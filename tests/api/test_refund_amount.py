"""Refunds by amount over HTTP: `amount` (more than 0, not with `lines`) reverses the
order's points in proportion, as `store/checkout/refunds.py` and the simulator do."""

from __future__ import annotations

import pytest

from tests.store.helpers import order

BASE = "/v1/programs/retail"
AT = "2026-11-18T10:00:00-05:00"


@pytest.fixture
def committed(client, checkout_key):
    r = client.post(f"{BASE}/orders", json=order("O-1", amount="200.00"), headers=checkout_key)
    assert r.status_code == 201, r.text
    return r.json()


def refund(client, key, **body):
    return client.post(f"{BASE}/orders/O-1/refunds", headers=key,
                       json={"refund_id": "R-1", "refunded_at": AT, **body})


def test_amount_reverses_its_share(client, checkout_key, committed):
    assert committed["earn"]["points"] == 400
    r = refund(client, checkout_key, amount="50.00")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["amount"] == "50.00" and body["points_reversed"] == 100
    assert body["refunded_share"] == "0.2500"
    again = refund(client, checkout_key, amount="50.00")
    assert again.status_code == 200 and again.json() == body
    clash = refund(client, checkout_key, amount="60.00")
    assert clash.status_code == 409 and clash.json()["code"] == "refund_conflict"


@pytest.mark.parametrize(("body", "pointer"), [
    ({"amount": "0"}, "/amount"),
    ({"amount": 0}, "/amount"),
    ({"amount": "-5.00"}, "/amount"),
    ({"amount": "1.00001"}, "/amount"),
    ({"amount": "10.00", "lines": [{"index": 0, "quantity": 1}]}, "/amount"),
])
def test_bad_amounts_are_refused_with_the_field(client, checkout_key, committed, body, pointer):
    r = refund(client, checkout_key, **body)
    assert r.status_code == 422, r.text
    assert r.json()["pointer"] == pointer


def test_more_than_is_left_refunds_the_rest_then_nothing_is_left(client, checkout_key,
                                                                  committed):
    r = refund(client, checkout_key, amount="500.00")
    assert r.status_code == 201, r.text
    assert r.json()["amount"] == "200.00" and r.json()["refunded_share"] == "1.0000"
    after = client.post(f"{BASE}/orders/O-1/refunds", headers=checkout_key,
                        json={"refund_id": "R-2", "refunded_at": AT, "amount": "1.00"})
    assert after.status_code == 422, after.text
    assert after.json()["pointer"] == "/amount"
