"""Balances kept in an external loyalty points API (the B2B portal document):
`GET /balance/{account}`, `POST /debit`, `POST /credit`.

The client: OAuth 2.0 client credentials or a static API key (store/external/oauth.py), a
timeout on every call, retries with exponential backoff and full jitter on
timeouts, connection failures, 5xx and 429, a circuit breaker that stops calling a
failing API for a while, and an `Idempotency-Key` on every debit and credit — a retry
resends the same key, so a debit whose answer was lost is applied once.

The saga (`redeem`): journal the debit (table `external_debits`), debit, run the order;
when the order fails after the debit, credit the points back under `<key>:reverse`.
When the debit's outcome stays unknown (the API never answered), the order is not run
and the journal keeps `debiting`; `reconcile` later *settles* the debit by resending it
under the same key (applied at most once, whatever happened before) and then credits it
back — so the account ends exactly where it started, never debited twice or credited for
nothing.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from store.db.database import Database
from store.external.oauth import OAuthTokens, TokenUnavailable
from store.tables.operations import ExternalDebitRow

T = TypeVar("T")


class ExternalPointsError(Exception):
    code = "external_points_error"


class Unavailable(ExternalPointsError):
    """No answer after every retry: the call's outcome is unknown."""

    code = "external_points_unavailable"


class CircuitOpen(Unavailable):
    """Not sent: the API failed too often lately."""

    code = "external_points_circuit_open"


class Rejected(ExternalPointsError):
    """The API answered with a refusal (4xx other than 408/429), e.g. too few points."""

    code = "external_points_rejected"

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status, self.body = status, body


@dataclass
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.1
    max_delay: float = 2.0

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max, base·2^attempt)]."""
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** attempt))


@dataclass
class CircuitBreaker:
    """Closed → open after `threshold` failures in a row; open for `reset_seconds`; then
    half-open: one trial call, which closes it (success) or opens it again (failure)."""

    threshold: int = 5
    reset_seconds: float = 10.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened_at: float | None = None
    trial: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half_open" if self.clock() - self.opened_at >= self.reset_seconds else "open"

    def before_call(self) -> None:
        with self._lock:
            state = self.state
            if state == "open" or (state == "half_open" and self.trial):
                raise CircuitOpen("the external points API failed repeatedly; not calling it "
                                  f"for {self.reset_seconds:g} s")
            if state == "half_open":
                self.trial = True

    def success(self) -> None:
        with self._lock:
            self.failures, self.opened_at, self.trial = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self.failures += 1
            if self.trial or self.failures >= self.threshold:
                self.opened_at, self.trial = self.clock(), False


class ExternalPointsClient:
    def __init__(self, base_url: str, *, timeout: float = 2.0, api_key: str | None = None,
                 retry: RetryPolicy | None = None, breaker: CircuitBreaker | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 oauth: OAuthTokens | None = None) -> None:
        """`api_key`: a static bearer token; `oauth`: OAuth 2.0 client credentials
        (store/external/oauth.py), which take precedence."""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key and not oauth else {}
        self.http = httpx.Client(base_url=base_url, timeout=timeout, headers=headers)
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker()
        self.sleep = sleep
        self.oauth = oauth

    def close(self) -> None:
        self.http.close()
        if self.oauth is not None:
            self.oauth.close()

    def balance(self, account: str) -> int:
        return int(self._call("GET", f"/balance/{account}")["balance"])

    def debit(self, account: str, points: int, key: str, reference: str | None = None) -> Any:
        return self._call("POST", "/debit", {"account": account, "points": points,
                                             "reference": reference}, key)

    def credit(self, account: str, points: int, key: str, reference: str | None = None) -> Any:
        return self._call("POST", "/credit", {"account": account, "points": points,
                                              "reference": reference}, key)

    def _call(self, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
        headers = {"Idempotency-Key": key} if key else {}
        last = "no attempt"
        for attempt in range(self.retry.attempts):
            if attempt:
                self.sleep(self.retry.delay(attempt))
            self.breaker.before_call()
            try:
                response = self._send(method, path, body, headers)
            except TokenUnavailable as exc:  # not sent: no token to send it with
                last = str(exc)
                continue
            except httpx.HTTPError as exc:  # timeouts, refused, reset, no answer
                self.breaker.failure()
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code >= 500 or response.status_code in (408, 429):
                self.breaker.failure()
                last = f"HTTP {response.status_code}"
                continue
            self.breaker.success()  # it answered: a refusal is not an outage
            if response.is_success:
                return response.json()
            raise Rejected(response.status_code, response.json() if response.content else None)
        raise Unavailable(f"{method} {path}: no answer after {self.retry.attempts} attempts "
                          f"({last})")

    def _send(self, method: str, path: str, body: Any, headers: dict[str, str]) -> httpx.Response:
        """One request; with OAuth, under the current token — and when the API answers
        401 to it, once more under a new one (it was revoked or expired early)."""
        if self.oauth is None:
            return self.http.request(method, path, json=body, headers=headers)
        token = self.oauth.token()
        response = self.http.request(method, path, json=body,
                                     headers={**headers, "Authorization": f"Bearer {token}"})
        if response.status_code != 401:
            return response
        self.oauth.rejected(token)
        token = self.oauth.token()
        return self.http.request(method, path, json=body,
                                 headers={**headers, "Authorization": f"Bearer {token}"})


# --- the saga -----------------------------------------------------------------------

def _set(db: Database, row_id: int, status: str, expect: tuple[str, ...] | None = None,
         **values: Any) -> bool:
    """Move a journal row to `status` (only from one of `expect`, when given)."""
    with db.writing() as session:
        row = session.get(ExternalDebitRow, row_id, with_for_update=True)
        assert row is not None
        if expect is not None and row.status not in expect:
            return False
        row.status, row.updated_at = status, datetime.now(UTC)
        for name, value in values.items():
            setattr(row, name, value)
        return True


def _journal(db: Database, program: str, account: str, points: int, key: str,
             reference: str | None) -> tuple[int, str, bool]:
    """(row id, status, created). A key seen before returns its row."""
    now = datetime.now(UTC)
    try:
        with db.writing() as session:
            row = ExternalDebitRow(program=program, idempotency_key=key, account=account,
                                   points=points, reference=reference, status="debiting",
                                   created_at=now, updated_at=now)
            session.add(row)
            session.flush()
            return row.id, row.status, True
    except IntegrityError:
        with db.reading() as session:
            found = session.scalar(select(ExternalDebitRow).where(
                ExternalDebitRow.program == program, ExternalDebitRow.idempotency_key == key))
            assert found is not None
            return found.id, found.status, False


def redeem(db: Database, client: ExternalPointsClient, program: str, account: str, points: int,
           key: str, place_order: Callable[[], T], reference: str | None = None) -> T | None:
    """Debit `points`, then `place_order()`; credit back if the order fails. Raises what
    failed (Rejected / Unavailable / the order's exception). A key already journaled is
    not debited again: a finished saga returns None, an unfinished one raises Unavailable
    (`reconcile` finishes it)."""
    row_id, status, created = _journal(db, program, account, points, key, reference)
    if not created:
        if status in ("committed", "compensated", "rejected"):
            return None
        raise Unavailable(f"debit {key!r} is in progress ({status}); reconcile finishes it")
    try:
        answer = client.debit(account, points, key, reference)
    except Rejected as exc:
        _set(db, row_id, "rejected", last_error=str(exc)[:500])
        raise
    except Unavailable as exc:  # outcome unknown: the order must not run
        _set(db, row_id, "debiting", last_error=str(exc)[:500])
        raise
    if not _set(db, row_id, "debited", expect=("debiting",),
                external_id=str((answer or {}).get("transaction_id") or "")):
        raise Unavailable(f"debit {key!r} was reconciled (credited back) meanwhile")
    try:
        result = place_order()
    except Exception as failure:
        _set(db, row_id, "compensating", last_error=f"order failed: {failure}"[:500])
        try:
            _compensate(db, client, row_id, account, points, key, reference)
        except ExternalPointsError:
            pass  # stays `compensating`; reconcile retries the credit
        raise
    _set(db, row_id, "committed")
    return result


def _compensate(db: Database, client: ExternalPointsClient, row_id: int, account: str,
                points: int, key: str, reference: str | None) -> None:
    client.credit(account, points, f"{key}:reverse", reference)
    _set(db, row_id, "compensated")


def reconcile(db: Database, client: ExternalPointsClient, program: str,
              older_than_seconds: float = 60.0) -> dict[str, int]:
    """Finish unfinished sagas left for `older_than_seconds` (longer than a saga's own
    retries take): an unknown debit is settled (resent under its key, so it is applied
    exactly once) and credited back; a pending compensation is credited."""
    cutoff = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
    with db.reading() as session:
        rows = session.execute(select(
            ExternalDebitRow.id, ExternalDebitRow.status, ExternalDebitRow.account,
            ExternalDebitRow.points, ExternalDebitRow.idempotency_key,
            ExternalDebitRow.reference).where(
            ExternalDebitRow.program == program,
            ExternalDebitRow.status.in_(("debiting", "compensating")),
            ExternalDebitRow.updated_at <= cutoff)
            .order_by(ExternalDebitRow.id)).all()
    done: dict[str, int] = {}
    for row_id, status, account, points, key, reference in rows:
        try:
            if status == "debiting":
                try:
                    client.debit(account, points, key, reference)
                except Rejected as exc:  # it was never applied, and now never will be
                    _set(db, row_id, "rejected", expect=("debiting",), last_error=str(exc)[:500])
                    done["rejected"] = done.get("rejected", 0) + 1
                    continue
                if not _set(db, row_id, "compensating", expect=("debiting",)):
                    continue  # the saga itself moved on meanwhile
            _compensate(db, client, row_id, account, points, key, reference)
            done["compensated"] = done.get("compensated", 0) + 1
        except Unavailable:
            done["still_pending"] = done.get("still_pending", 0) + 1
    return done
