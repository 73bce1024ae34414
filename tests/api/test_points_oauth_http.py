"""A redemption over HTTP in the b2b-portal program whose points API takes OAuth 2.0
client credentials (LOYALTY_POINTS_API_OAUTH): the service fetches a token from a token
endpoint on loopback, debits the account with it, and when the API revokes the token
between two redemptions, fetches a new one and debits exactly once."""

from __future__ import annotations

import json

import pytest

from store.external import accounts as external_accounts
from tests.api.conftest import make_key
from tests.loopback import LoopbackServer
from tests.points_api import PointsApi
from tests.store.b2b_helpers import publish_b2b
from tests.token_server import CLIENT_ID, CLIENT_SECRET, Gate, TokenServer

BASE = "/v1/programs/b2b-portal"
AT = "2026-06-02T15:00:00Z"


@pytest.fixture
def gated(db, monkeypatch):
    tokens, points = TokenServer(lifetime=3600), PointsApi({"ACME": 100_000})
    gate = Gate(points, tokens)
    with LoopbackServer(tokens) as token_http, LoopbackServer(gate) as api_http:
        monkeypatch.setenv("LOYALTY_POINTS_API_URLS", json.dumps(
            {"loyalty-points-api": api_http.url}))
        monkeypatch.setenv("LOYALTY_POINTS_API_OAUTH", json.dumps({"loyalty-points-api": {
            "token_url": f"{token_http.url}/oauth/token", "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET}}))
        monkeypatch.setenv("LOYALTY_POINTS_API_BACKOFF_SECONDS", "0.01")
        external_accounts.reset_clients()
        publish_b2b(db)
        yield tokens, points, gate
        external_accounts.reset_clients()


def test_redemptions_debit_with_a_token_refreshed_after_a_401(client, db, gated):
    tokens, points, gate = gated
    key = {"Authorization": f"Bearer {make_key(db, 'evaluate', 'commit', 'redeem')}"}
    enrolled = client.post(f"{BASE}/orders", headers=key, json={
        "member": {"id": "CO-1", "attributes": {"loyalty_account_id": "ACME"}},
        "order": {"id": "ENROL", "placed_at": AT, "lines": [
            {"sku": "PAPER", "category": "supplies", "quantity": 1, "unit_price": "10.00"}]}})
    assert enrolled.status_code == 201, enrolled.text

    def redeem(idempotency_key):
        return client.post(f"{BASE}/redemptions", headers=key, json={
            "member_id": "CO-1", "as_of": AT, "reward_id": "PHYS-LAPTOP-BAG",
            "idempotency_key": idempotency_key})

    assert redeem("R-1").status_code == 201
    tokens.revoke()  # the API refuses tok-1 from now on
    second = redeem("R-2")
    assert second.status_code == 201, second.text
    assert [entry[1] for entry in points.log if entry[0] == "debit"] == \
        ["redemption:R-1", "redemption:R-2"]
    assert points.balances["ACME"] == 100_000 - 2 * 4500
    assert "tok-2" in gate.seen and gate.seen[-1] == "tok-2"
    assert len(tokens.issued) == 2  # one token, then one after the 401: no more
