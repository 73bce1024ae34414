"""An order in another currency than its program's is refused: 422 currency_mismatch
pointing at /order/currency, and nothing is recorded."""

from __future__ import annotations

import pytest

from tests.store.helpers import order

BASE = "/v1/programs/retail"


@pytest.mark.parametrize("route", ["evaluate", "orders"])
@pytest.mark.parametrize("currency", ["JPY", "XXX"])
def test_another_currency_is_422_currency_mismatch(client, checkout_key, route, currency):
    body = order("O-1")
    body["order"]["currency"] = currency
    response = client.post(f"{BASE}/{route}", json=body, headers=checkout_key)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "currency_mismatch" and problem["pointer"] == "/order/currency"
    assert problem["type"] == "/problems/currency_mismatch"
    assert client.get(f"{BASE}/members/CUST-1", headers=checkout_key).status_code == 404


def test_an_order_without_currency_is_in_the_programs(client, checkout_key):
    body = order("O-1")
    del body["order"]["currency"]
    quote = client.post(f"{BASE}/evaluate", json=body, headers=checkout_key)
    in_usd = client.post(f"{BASE}/evaluate", json=order("O-1"), headers=checkout_key)
    assert quote.status_code == 200, quote.text
    assert quote.json()["earn"] == in_usd.json()["earn"]
    committed = client.post(f"{BASE}/orders", json=body, headers=checkout_key)
    assert committed.status_code == 201, committed.text
