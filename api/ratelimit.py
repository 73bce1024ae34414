"""Rate limits: token buckets per API key and per member, by budget.

Budgets: `quote` (POST …/evaluate), `write` (orders, refunds, activities, redemptions,
cancels, auto-redemption settings), `read` (GET routes) and `admin` (routes that need the
admin scope). Each budget has a bucket per key and, where the request names a member
(quotes, commits, activities, redemptions, member routes), one per program and member:
`rate` tokens a second up to `burst`; a request takes one token, and without one it is
refused with 429 `rate_limited` and `Retry-After` (whole seconds until a token is back).

The buckets live in each worker process (documented in docs/api.md: the effective limit
is the configured one times the number of workers): a check is a dict lookup and a few
arithmetic operations under a lock held for nothing else, with no round trip to a shared
store on the quote path. At most `MAX_BUCKETS` buckets per budget are kept, least
recently used dropped first (a dropped bucket comes back full).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable, Mapping

from api.metrics import RATE_LIMITED, RATE_LIMITS
from api.problems import ApiProblem
from store.settings import Bucket, Budget, Settings

MAX_BUCKETS = 100_000


class TokenBuckets:
    """One budget's buckets, by key."""

    def __init__(self, rate: float, burst: float, max_buckets: int = MAX_BUCKETS) -> None:
        self.rate, self.burst, self.max_buckets = rate, burst, max_buckets
        # Insertion-ordered: a bucket is re-inserted when used, so the first is the least
        # recently used.
        self._buckets: dict[Hashable, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: Hashable, now: float) -> float:
        """Take a token at `now`: 0.0 when one was there, else the seconds until one is."""
        with self._lock:
            found = self._buckets.pop(key, None)
            if found is None:
                tokens = self.burst
                if len(self._buckets) >= self.max_buckets:
                    del self._buckets[next(iter(self._buckets))]
            else:  # refilled since it was last used (the clock is monotonic), up to burst
                tokens = found[0] + (now - found[1]) * self.rate
                if tokens > self.burst:
                    tokens = self.burst
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


def _buckets(limits: Mapping[Budget, Bucket | None], per: str) -> dict[str, TokenBuckets]:
    made: dict[str, TokenBuckets] = {}
    for budget, bucket in limits.items():
        if bucket is not None:
            made[budget] = TokenBuckets(bucket.rate, bucket.burst)
            RATE_LIMITS.labels(budget, per, "rate").set(bucket.rate)
            RATE_LIMITS.labels(budget, per, "burst").set(bucket.burst)
    return made


class RateLimiter:
    """The process's buckets, from the settings; `clock` (seconds, monotonic) is
    replaceable so tests move time instead of waiting."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        enabled = settings.rate_limits_enabled
        self.per_key = _buckets(settings.rate_limits, "key") if enabled else {}
        self.per_member = _buckets(settings.member_rate_limits, "member") if enabled else {}

    def check_key(self, key_id: int, budget: str) -> None:
        buckets = self.per_key.get(budget)
        if buckets is not None:
            wait = buckets.take(key_id, self.clock())
            if wait:
                self._refuse(wait, budget, "key", "this API key")

    def check_member(self, program: str, member_id: str, budget: str) -> None:
        buckets = self.per_member.get(budget)
        if buckets is not None:
            wait = buckets.take((program, member_id), self.clock())
            if wait:
                self._refuse(wait, budget, "member", f"member {member_id!r} of {program}")

    def check_manager(self, program: str, manager_id: str, budget: str) -> None:
        """A B2B account manager spends the per-member budgets (their own buckets)."""
        buckets = self.per_member.get(budget)
        if buckets is not None:
            wait = buckets.take((program, "manager", manager_id), self.clock())
            if wait:
                self._refuse(wait, budget, "member", f"account manager {manager_id!r} of "
                             f"{program}")

    @staticmethod
    def _refuse(wait: float, budget: str, per: str, who: str) -> None:
        RATE_LIMITED.labels(budget, per).inc()
        seconds = max(1, math.ceil(wait))
        raise ApiProblem(429, "rate_limited", f"too many {budget} requests for {who}; "
                         f"retry after {seconds} s", headers={"Retry-After": str(seconds)})


def budget_of(method: str, scopes: tuple[str, ...]) -> str:
    """The budget a route spends, from its method and the scopes it requires."""
    if scopes == ("admin",):
        return "admin"
    if method in ("GET", "HEAD"):
        return "read"
    return "quote" if scopes == ("evaluate",) else "write"
