"""Dependencies, as Annotated aliases so handler signatures read as plain types."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

import store.b2b.keys as manager_keys
import store.registry.keys as keys
from api.problems import ApiProblem
from api.ratelimit import RateLimiter, budget_of
from store.b2b.balances import BalanceCache
from store.b2b.principals import Manager
from store.b2b.tokens import TokenVerifier
from store.db.database import Database
from store.registry.programs import ProgramCache
from store.settings import Settings
from store.shadow.tap import ShadowTap


@dataclass
class Services:
    """What the handlers need, built once per process by the app factory."""

    settings: Settings
    db: Database
    cache: ProgramCache
    key_cache: KeyCache
    limiter: RateLimiter
    shadow: ShadowTap
    manager_keys: ManagerKeyCache  # the B2B portal's personal keys (api/b2b/principal.py)
    tokens: TokenVerifier  # the B2B portal's JWT issuers
    balances: BalanceCache  # companies' balances, briefly (store/b2b/balances.py)


class KeyCache:
    """Verified keys are cached briefly by digest, so auth costs no query per request.
    Revocation therefore takes effect within `ttl` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: dict[str, tuple[float, keys.ApiKey | None]] = {}
        self._lock = threading.Lock()

    def cached(self, plaintext: str) -> tuple[bool, keys.ApiKey | None]:
        """(hit, key) without touching the database."""
        return self.cached_digest(keys.hash_key(plaintext))

    def cached_digest(self, digest: str) -> tuple[bool, keys.ApiKey | None]:
        hit = self._items.get(digest)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return True, hit[1]
        return False, None

    def verify(self, db: Database, plaintext: str) -> keys.ApiKey | None:
        return self.verify_digest(db, keys.hash_key(plaintext))

    def verify_digest(self, db: Database, digest: str) -> keys.ApiKey | None:
        """The key by its digest (a console session's), from the cache or the database."""
        hit, key = self.cached_digest(digest)
        if hit:
            return key
        now = time.monotonic()
        with db.reading() as session:
            found = keys.verify_digest(session, digest)
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[digest] = (now, found)
        return found


class ManagerKeyCache:
    """Verified personal keys are cached briefly by digest, so auth costs no query per
    request; a revoked key or a deactivated manager stops resolving within `ttl` s."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: dict[str, tuple[float, Manager | None]] = {}
        self._lock = threading.Lock()

    def cached(self, digest: str) -> tuple[bool, Manager | None]:
        hit = self._items.get(digest)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return True, hit[1]
        return False, None

    def clear(self) -> None:
        """Forget every verified key (this worker changed a key, a manager or a company;
        other workers follow within `ttl`)."""
        with self._lock:
            self._items.clear()

    def verify(self, db: Database, digest: str) -> Manager | None:
        hit, found = self.cached(digest)
        if hit:
            return found
        now = time.monotonic()
        with db.reading() as session:
            found = manager_keys.verify_digest(session, digest)
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[digest] = (now, found)
        return found


async def get_services(request: Request) -> Services:
    return request.app.state.services


StoreDep = Annotated[Services, Depends(get_services)]

BEARER = {"WWW-Authenticate": "Bearer"}
# Declared in the OpenAPI document by api.app (a security sub-dependency per request
# costs more than the header parsing it would do).
SECURITY_SCHEME = {"bearer": {"type": "http", "scheme": "bearer", "description": "an API key"}}


async def _authenticate(services: Services, header: str) -> keys.ApiKey:
    scheme, _, token = header.partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    if not token:
        raise ApiProblem(401, "unauthenticated",
                         "send an API key as `Authorization: Bearer <key>`", headers=BEARER)
    hit, key = services.key_cache.cached(token)
    if not hit:
        key = await run_in_threadpool(services.key_cache.verify, services.db, token)
    if key is None:
        raise ApiProblem(401, "invalid_key", "the API key is unknown or revoked", headers=BEARER)
    return key


def require(*scopes: str) -> Callable[..., Awaitable[keys.ApiKey]]:
    """A dependency admitting keys that hold any of `scopes` (admin holds all); a key
    bound to a program is refused any other program named in the path or the query
    (`403 forbidden_program`; routes that list programs show it only its own); then the
    key's rate limit for the route's budget. Async and without sub-dependencies: it is
    on every request's path."""

    async def check(request: Request) -> keys.ApiKey:
        services: Services = request.app.state.services
        key = await _authenticate(services, request.headers.get("authorization", ""))
        program = request.path_params.get("program") or request.query_params.get("program")
        if not key.serves(program):
            raise ApiProblem(403, "forbidden_program",
                             f"this key serves program {key.program!r} only, not {program!r}")
        if not any(key.allows(scope, program) for scope in scopes):
            raise ApiProblem(403, "forbidden_scope",
                             f"this key lacks the {' or '.join(scopes)} scope")
        services.limiter.check_key(key.id, budget_of(request.method, scopes))
        return key

    return check


ApiKeyDep = Annotated[keys.ApiKey, Depends(require(*keys.SCOPES))]
EvaluateKey = Annotated[keys.ApiKey, Depends(require("evaluate"))]
CommitKey = Annotated[keys.ApiKey, Depends(require("commit"))]
CatalogKey = Annotated[keys.ApiKey, Depends(require("evaluate", "redeem", "viewer"))]
AdminKey = Annotated[keys.ApiKey, Depends(require("admin"))]
