"""Rate limits over HTTP: a small bucket runs out (429 rate_limited with Retry-After),
then refills as the limiter's clock moves — per API key and budget, and per member; the
limits and the refusals are in /metrics. The clock is the limiter's own: no test waits."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.ratelimit import TokenBuckets
from store.settings import Settings
from tests.store.helpers import order

BASE = "/v1/programs/retail"
AT = "2026-11-17T14:30:00-05:00"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limited_client(db, **limits):
    """An app with these limits (on the database the `app` fixture published retail in)
    and the limiter's clock in the test's hands."""
    app = create_app(Settings(database_url=db.url, api_key_cache_seconds=0, jobs_enabled=False,
                              **limits), db)
    clock = Clock()
    app.state.services.limiter.clock = clock
    return TestClient(app, raise_server_exceptions=False), clock


def quote(client, key, member="M-1"):
    return client.post(f"{BASE}/evaluate", headers=key, json=order("Q", member=member,
                                                                    placed_at=AT))


def commit(client, key, order_id, member="M-1"):
    return client.post(f"{BASE}/orders", headers=key, json=order(order_id, member=member,
                                                                  placed_at=AT))


def assert_limited(r, retry_after):
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "rate_limited" and r.json()["status"] == 429
    assert r.headers["retry-after"] == retry_after


def test_a_keys_bucket_runs_out_then_refills(app, db, checkout_key):
    client, clock = limited_client(db, rate_limits={"quote": {"rate": 1, "burst": 2}},
                                   member_rate_limits={"quote": None})
    with client:
        assert [quote(client, checkout_key).status_code for _ in range(2)] == [200, 200]
        assert_limited(quote(client, checkout_key), "1")
        assert commit(client, checkout_key, "O-1").status_code == 201  # another budget
        clock.now += 0.5
        assert_limited(quote(client, checkout_key), "1")  # half a token is not one
        clock.now += 0.5
        assert quote(client, checkout_key).status_code == 200
        assert_limited(quote(client, checkout_key), "1")
        clock.now += 10  # refills up to the burst, no more
        assert [quote(client, checkout_key).status_code for _ in range(3)] == [200, 200, 429]


def test_each_key_has_its_own_bucket(app, db, checkout_key, evaluate_key):
    client, _ = limited_client(db, rate_limits={"quote": {"rate": 1, "burst": 1}},
                               member_rate_limits={"quote": None})
    with client:
        assert quote(client, checkout_key).status_code == 200
        assert_limited(quote(client, checkout_key), "1")
        assert quote(client, evaluate_key).status_code == 200


def test_a_members_bucket_runs_out_then_refills(app, db, checkout_key):
    client, clock = limited_client(db, member_rate_limits={"write": {"rate": 0.5, "burst": 1},
                                                           "read": {"rate": 1, "burst": 1}})
    with client:
        assert commit(client, checkout_key, "O-1").status_code == 201
        assert_limited(commit(client, checkout_key, "O-2"), "2")
        assert commit(client, checkout_key, "O-3", member="M-2").status_code == 201
        activity = client.post(f"{BASE}/activities", headers=checkout_key, json={
            "event_id": "E-1", "member_id": "M-1", "activity": "product_review",
            "occurred_at": AT})
        assert_limited(activity, "2")  # the same member's write budget
        member = f"{BASE}/members/M-1"
        assert client.get(member, headers=checkout_key).status_code == 200
        assert_limited(client.get(member, headers=checkout_key), "1")
        assert_limited(client.get(f"{member}/ledger", headers=checkout_key), "1")
        clock.now += 2
        assert commit(client, checkout_key, "O-2").status_code == 201
        assert client.get(f"{member}/ledger", headers=checkout_key).status_code == 200


def test_limits_and_refusals_are_in_the_metrics(app, db, checkout_key):
    client, _ = limited_client(db, rate_limits={"admin": {"rate": 3, "burst": 7}},
                               member_rate_limits={"quote": {"rate": 2, "burst": 1}})
    with client:
        def refused() -> float:
            text = client.get("/metrics").text
            found = re.search(r'^loyalty_rate_limited_total\{budget="quote",per="member"\} '
                              r'([\d.e+]+)$', text, re.MULTILINE)
            return float(found.group(1)) if found else 0.0

        before = refused()
        assert quote(client, checkout_key).status_code == 200
        assert_limited(quote(client, checkout_key), "1")
        assert refused() == before + 1
        text = client.get("/metrics").text
        assert 'loyalty_rate_limit{budget="admin",kind="burst",per="key"} 7.0' in text
        assert 'loyalty_rate_limit{budget="quote",kind="rate",per="member"} 2.0' in text


def test_without_limits_nothing_is_refused(app, db, checkout_key):
    client, _ = limited_client(db, rate_limits_enabled=False,
                               rate_limits={"quote": {"rate": 1, "burst": 1}})
    with client:
        assert {quote(client, checkout_key).status_code for _ in range(5)} == {200}


def test_limits_from_the_environment_keep_the_other_defaults(monkeypatch):
    monkeypatch.setenv("LOYALTY_RATE_LIMITS", '{"quote": {"rate": 5, "burst": 10}, '
                                              '"admin": null}')
    settings = Settings()
    assert settings.rate_limits["quote"].burst == 10 and settings.rate_limits["admin"] is None
    assert settings.rate_limits["write"] == Settings.model_fields["rate_limits"] \
        .default_factory()["write"]  # type: ignore[misc]
    monkeypatch.setenv("LOYALTY_RATE_LIMITS", '{"quote": {"rate": 0, "burst": 1}}')
    with pytest.raises(ValueError):
        Settings()


def test_buckets_are_bounded_least_recently_used_first():
    buckets = TokenBuckets(rate=1, burst=1, max_buckets=2)
    assert buckets.take("a", 0) == buckets.take("b", 0) == 0.0
    assert buckets.take("a", 0) == 1.0  # empty
    buckets.take("c", 0)  # "b" was used least recently: dropped
    assert buckets.take("a", 0) > 0 and buckets.take("b", 0) == 0.0
