"""A company's balance on the portal, read from its external points account through a
short cache: the portal's pages and a manager's polling would otherwise call the points
API on every view.

The cache is Redis when `LOYALTY_B2B_BALANCE_CACHE_URL` is set (shared by every worker
and host), else a dictionary in each worker (fine where one worker serves). Entries live
`LOYALTY_B2B_BALANCE_CACHE_SECONDS`. A cache that fails (Redis down) is skipped, never
an error: the balance is then read from the API.

What is shown may be that many seconds old; what is *spent* never is: a debit reads the
balance afresh (`read(..., fresh=True)`) and the points API itself refuses to overdraw,
and `forget` drops the entry after every debit or credit the platform makes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis

import store.external.accounts as external_accounts
from engine.program import Program
from store.b2b.companies import Company
from store.errors import BadGateway, Unavailable, Unprocessable

log = logging.getLogger("loyalty.b2b")
MAX_LOCAL = 10_000


class BalanceCache(Protocol):
    ttl: float

    def get(self, key: str) -> int | None: ...

    def put(self, key: str, balance: int) -> None: ...

    def forget(self, key: str) -> None: ...


class LocalBalances:
    """In this worker's memory; `clock` is replaceable so tests move time."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._now = clock
        self._items: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> int | None:
        hit = self._items.get(key)
        return hit[1] if hit is not None and self._now() - hit[0] < self.ttl else None

    def put(self, key: str, balance: int) -> None:
        with self._lock:
            if len(self._items) >= MAX_LOCAL:
                self._items.clear()
            self._items[key] = (self._now(), balance)

    def forget(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)


class RedisBalances:
    """In Redis, shared by every worker; entries expire on their own (SET … PX)."""

    def __init__(self, url: str, ttl: float) -> None:
        self.ttl = ttl
        self.client = redis.Redis.from_url(url, socket_timeout=0.25,
                                           socket_connect_timeout=0.25)

    def get(self, key: str) -> int | None:
        try:
            found = self.client.get(key)
        except redis.RedisError as exc:
            log.warning("balance cache unavailable (%s); reading the points API", exc)
            return None
        return int(found) if isinstance(found, bytes | str | int) else None

    def put(self, key: str, balance: int) -> None:
        if self.ttl <= 0:
            return
        try:
            self.client.set(key, balance, px=max(1, int(self.ttl * 1000)))
        except redis.RedisError as exc:
            log.warning("balance cache unavailable (%s)", exc)

    def forget(self, key: str) -> None:
        try:
            self.client.delete(key)
        except redis.RedisError as exc:
            log.warning("balance cache unavailable (%s)", exc)


def cache_of(url: str | None, ttl: float) -> BalanceCache:
    return RedisBalances(url, ttl) if url else LocalBalances(ttl)


@dataclass(frozen=True)
class Balance:
    """The company's balance (None when it cannot be read, with the reason)."""

    points: int | None
    cached: bool = False
    unavailable: str | None = None


def key_of(program: str, account: str) -> str:
    return f"loyalty:b2b:balance:{program}:{account}"


def read(cache: BalanceCache, program: Program, company: Company,
         fresh: bool = False) -> Balance:
    """The company's balance from the cache, or from its external points account (and
    then kept `cache.ttl` seconds). `fresh`: always from the account (before a debit)."""
    config = external_accounts.config_of(program)
    if config is None:
        return Balance(None, unavailable="the program keeps no external points account")
    key = key_of(company.program, company.loyalty_account_id)
    if not fresh:
        hit = cache.get(key)
        if hit is not None:
            return Balance(hit, cached=True)
    try:
        points = external_accounts.balance(config, company.loyalty_account_id)
    except (Unavailable, BadGateway, Unprocessable) as exc:
        return Balance(None, unavailable=f"{exc.code}: {exc.message}")
    cache.put(key, points)
    return Balance(points)


def forget(cache: BalanceCache, company: Company) -> None:
    """Drop the cached balance (the platform just debited or credited the account)."""
    forget_account(cache, company.program, company.loyalty_account_id)


def forget_account(cache: BalanceCache | None, program: str, account: str) -> None:
    """Drop the cached balance of `account` in `program` (None: no cache to keep true)."""
    if cache is not None:
        cache.forget(key_of(program, account))
