"""The external points client with OAuth 2.0 client credentials, against a token endpoint
and the points API on loopback (tests/token_server.py, tests/points_api.py): the token is
fetched once and reused, fetched again shortly before it expires and — once — when the
API answers 401; a token endpoint that fails or refuses sends nothing."""

from __future__ import annotations

import pytest

import store.external.points as ext
from store.external import accounts as external_accounts
from store.external.oauth import ClientCredentials, OAuthTokens
from tests.loopback import LoopbackServer
from tests.points_api import PointsApi
from tests.token_server import CLIENT_ID, CLIENT_SECRET, Gate, TokenServer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def servers(clock):
    """(token server state, its loopback server, points state, gated API's loopback)."""
    tokens = TokenServer(lifetime=60, clock=clock)
    points = PointsApi({"ACC-1": 1000})
    gate = Gate(points, tokens)
    with LoopbackServer(tokens) as token_http, LoopbackServer(gate) as api_http:
        yield tokens, token_http, points, gate, api_http


def client(servers, clock, secret=CLIENT_SECRET, auth="basic", margin=30.0, attempts=2):
    _, token_http, _, _, api_http = servers
    credentials = ClientCredentials(token_url=f"{token_http.url}/oauth/token",
                                    client_id=CLIENT_ID, client_secret=secret, auth=auth,
                                    scope="points", refresh_margin_seconds=margin)
    return ext.ExternalPointsClient(
        api_http.url, timeout=1.0, oauth=OAuthTokens(credentials, 1.0, clock),
        retry=ext.RetryPolicy(attempts=attempts, base_delay=0.001, max_delay=0.001),
        breaker=ext.CircuitBreaker(threshold=100))


@pytest.mark.parametrize("auth", ["basic", "body"])
def test_the_token_is_fetched_once_and_reused(servers, clock, auth):
    tokens, _, _, gate, _ = servers
    made = client(servers, clock, auth=auth)
    assert [made.balance("ACC-1") for _ in range(3)] == [1000, 1000, 1000]
    assert made.oauth.fetches == 1 and gate.seen == ["tok-1"] * 3
    assert tokens.forms[0]["grant_type"] == "client_credentials"
    assert tokens.forms[0]["scope"] == "points"
    sent_secret = "client_secret" in tokens.forms[0]
    assert sent_secret == (auth == "body")


def test_a_new_token_is_fetched_before_the_old_one_expires(servers, clock):
    _, _, _, gate, _ = servers
    made = client(servers, clock, margin=30)
    made.balance("ACC-1")
    clock.now += 29  # 31 s left of 60: still used
    made.balance("ACC-1")
    clock.now += 2  # 29 s left: within the margin, a new one is fetched first
    made.balance("ACC-1")
    assert gate.seen == ["tok-1", "tok-1", "tok-2"]
    assert made.oauth.fetches == 2


def test_a_401_fetches_a_new_token_once_and_the_debit_is_applied_once(servers, clock):
    tokens, _, points, gate, _ = servers
    made = client(servers, clock)
    made.balance("ACC-1")
    tokens.revoke()  # the API now refuses tok-1 before it expires
    made.debit("ACC-1", 100, "redemption:K1")
    assert gate.seen == ["tok-1", "tok-1", "tok-2"]
    assert points.balances["ACC-1"] == 900
    assert [entry[1] for entry in points.log] == ["redemption:K1"]


def test_a_second_401_is_a_refusal_not_a_loop(servers, clock):
    tokens, _, points, gate, _ = servers
    tokens.lifetime = 0  # every token is dead on arrival: the API refuses them all
    made = client(servers, clock)
    with pytest.raises(ext.Rejected) as refused:
        made.debit("ACC-1", 100, "redemption:K2")
    assert refused.value.status == 401
    assert made.oauth.fetches == 2 and len(gate.seen) == 2
    assert points.log == []


def test_a_token_endpoint_that_refuses_sends_nothing(servers, clock):
    _, _, points, gate, _ = servers
    made = client(servers, clock, secret="wrong-secret-0123456789")
    with pytest.raises(ext.Unavailable) as failed:
        made.debit("ACC-1", 100, "redemption:K3")
    assert "invalid_client" in str(failed.value)
    assert "wrong-secret" not in str(failed.value)
    assert gate.seen == [] and points.log == []


def test_a_token_endpoint_that_is_down_is_retried_then_unavailable(servers, clock):
    _, token_http, _, gate, _ = servers
    token_http.fail(times=1)
    made = client(servers, clock, attempts=2)
    assert made.balance("ACC-1") == 1000  # the second attempt got a token
    token_http.fail(times=2)
    made.oauth.rejected("tok-1")
    with pytest.raises(ext.Unavailable):
        made.balance("ACC-1")
    assert gate.seen == ["tok-1"]


def test_the_service_settings_choose_oauth(servers, clock, monkeypatch):
    _, token_http, _, gate, api_http = servers
    monkeypatch.setenv("LOYALTY_POINTS_API_URLS", f'{{"loyalty-points-api": "{api_http.url}"}}')
    monkeypatch.setenv("LOYALTY_POINTS_API_KEYS", '{"loyalty-points-api": "static-key"}')
    monkeypatch.setenv("LOYALTY_POINTS_API_OAUTH", '{"loyalty-points-api": {"token_url": "'
                       f'{token_http.url}/token", "client_id": "{CLIENT_ID}", '
                       f'"client_secret": "{CLIENT_SECRET}"}}}}')
    external_accounts.reset_clients()
    try:
        made = external_accounts.client("loyalty-points-api")
        assert made.balance("ACC-1") == 1000
        assert gate.seen == ["tok-1"]  # the token, not the static key
    finally:
        external_accounts.reset_clients()
