"""The short cache of companies' balances: in a worker's memory, or in the Redis that runs
on loopback (shared by workers); entries end after their TTL; a cache that cannot be
reached is skipped, never an error; `fresh` always reads the points API."""

from __future__ import annotations

import secrets

import pytest
import redis

import store.b2b.balances as balances
from engine import load_program
from store.external import accounts as external_accounts
from tests.loopback import LoopbackServer
from tests.points_api import PointsApi
from tests.store.b2b_helpers import b2b_sources, make_company, publish_b2b

REDIS = "redis://127.0.0.1:6379/0"


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_local_entries_end_after_their_ttl():
    clock = Clock()
    cache = balances.LocalBalances(10, clock)
    cache.put("k", 5)
    clock.now += 9.9
    assert cache.get("k") == 5
    clock.now += 0.2
    assert cache.get("k") is None
    cache.put("k", 6)
    cache.forget("k")
    assert cache.get("k") is None


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_redis_entries_are_shared_and_expire():
    key = f"loyalty:test:{secrets.token_hex(8)}"
    one, two = balances.RedisBalances(REDIS, 0.2), balances.RedisBalances(REDIS, 0.2)
    one.put(key, 1234)
    assert two.get(key) == 1234  # another worker sees it
    ttl_ms = two.client.pttl(key)
    assert 0 < ttl_ms <= 200
    two.forget(key)
    assert one.get(key) is None


def test_an_unreachable_redis_is_skipped():
    cache = balances.RedisBalances("redis://127.0.0.1:1/0", 10)  # nothing listens on port 1
    cache.put("k", 1)
    assert cache.get("k") is None
    cache.forget("k")


def test_reads_go_through_the_cache_and_fresh_reads_do_not(db, monkeypatch):
    publish_b2b(db)
    company = make_company(db, "ACME", "ACC-ACME")
    program = load_program(b2b_sources())
    api = PointsApi({"ACC-ACME": 700})
    with LoopbackServer(api) as server:
        monkeypatch.setenv("LOYALTY_POINTS_API_URLS", f'{{"loyalty-points-api": "{server.url}"}}')
        external_accounts.reset_clients()
        try:
            cache = balances.LocalBalances(60)
            assert balances.read(cache, program, company) == balances.Balance(700)
            api.balances["ACC-ACME"] = 300
            assert balances.read(cache, program, company) == balances.Balance(700, cached=True)
            assert balances.read(cache, program, company, fresh=True) == balances.Balance(300)
            assert balances.read(cache, program, company).points == 300  # refreshed
            balances.forget(cache, company)
            api.balances["ACC-ACME"] = 100
            assert balances.read(cache, program, company) == balances.Balance(100)
            reads = [r for r in server.requests if r.path == "/balance/ACC-ACME"]
            assert len(reads) == 3
        finally:
            external_accounts.reset_clients()
