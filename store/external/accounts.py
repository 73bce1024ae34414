"""Programs whose balances live in an external loyalty points API (the B2B portal
document), declared in the ruleset as `redemption.account: {type: external, service: …}`.

What changes for such a program:

- **The balance of record is the external account.** Quotes and the member summary read
  it (`GET /balance/{account}`); a redemption is eligible against it.
- **Redemptions debit it** through the saga in `store.external.points` (journal, debit,
  then the local redemption; credited back when the local part fails), so a redemption is
  never paid twice nor lost when the API fails or answers late.
- **Everything else is credited or debited through an outbox** (`external_transfers`):
  the points an order or an activity earns and what a refund takes back are still written
  to the platform's ledger (the journal of what this platform did to the account), and
  the `external_points` job (store/external/transfers.py) turns every such ledger entry
  into one transfer, keyed by the entry (`ledger:<id>`); a cancelled redemption or a
  released hold writes its credit (`redemption:<id>:restore`) in its own transaction.
  The job sends due transfers with their idempotency key, so a resend after a crash is
  applied once.
- The account id is the member attribute named by `account_attribute` (the company's
  `loyalty_account_id`), else the member id.

The API's base URL and key come from the operator, never the ruleset:
`LOYALTY_POINTS_API_URLS='{"loyalty-points-api": "https://points.example.com"}'` and
`LOYALTY_POINTS_API_KEYS` (same shape), or OAuth 2.0 client credentials in
`LOYALTY_POINTS_API_OAUTH` (store/external/oauth.py).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.orm import Session

import store.external.points as ext
import store.ids as ids
from engine.language.model import PointsAccount
from engine.program import Program
from store.errors import BadGateway, Unavailable, Unprocessable
from store.external.oauth import ClientCredentials, OAuthTokens
from store.tables.operations import ExternalTransferRow
from store.tables.redemptions import RedemptionRow


class PointsApiSettings(BaseSettings):
    """`LOYALTY_POINTS_API_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="LOYALTY_POINTS_API_", extra="ignore")

    urls: dict[str, str] = Field(default_factory=dict, description="service name → base URL "
                                 "(JSON), for rulesets whose `redemption.account` is external")
    keys: dict[str, str] = Field(default_factory=dict, description="service name → API key "
                                 "(JSON), sent as a bearer token")
    oauth: dict[str, ClientCredentials] = Field(
        default_factory=dict, description="service name → OAuth 2.0 client credentials "
        "(JSON: token_url, client_id, client_secret, scope?, audience?, auth?, "
        "refresh_margin_seconds?); used instead of a key")
    timeout_seconds: float = Field(2.0, description="per call (connect, read, write)")
    attempts: int = Field(4, ge=1, description="tries per call before its outcome is unknown")
    backoff_seconds: float = Field(0.1, description="first retry delay (full jitter, doubling)")
    breaker_threshold: int = Field(5, ge=1, description="failures in a row that open the breaker")
    breaker_reset_seconds: float = Field(10.0, description="how long an open breaker rests")
    reconcile_after_seconds: float = Field(
        60.0, description="age at which the job finishes a debit whose outcome stayed unknown")
    lease_seconds: float = Field(60.0, description="how long a job owns a transfer it sends")
    transfer_backoff_seconds: float = Field(5.0, description="first delay after a failed "
                                            "transfer; doubles per attempt, at most an hour")


_clients: dict[str, ext.ExternalPointsClient] = {}
_clients_lock = threading.Lock()


def settings() -> PointsApiSettings:
    return PointsApiSettings()


def client(service: str) -> ext.ExternalPointsClient:
    """The process's client for `service` (one breaker per service and process)."""
    with _clients_lock:
        found = _clients.get(service)
        if found is not None:
            return found
        config = settings()
        url = config.urls.get(service)
        if not url:
            raise Unavailable("external_points_not_configured", f"the points API {service!r} "
                              "has no URL; set LOYALTY_POINTS_API_URLS")
        credentials = config.oauth.get(service)
        made = ext.ExternalPointsClient(
            url, timeout=config.timeout_seconds, api_key=config.keys.get(service),
            oauth=OAuthTokens(credentials, config.timeout_seconds) if credentials else None,
            retry=ext.RetryPolicy(attempts=config.attempts, base_delay=config.backoff_seconds,
                                  max_delay=max(config.backoff_seconds * 8, 0.001)),
            breaker=ext.CircuitBreaker(threshold=config.breaker_threshold,
                                       reset_seconds=config.breaker_reset_seconds))
        _clients[service] = made
        return made


def reset_clients() -> None:
    """Forget the clients (settings changed; tests)."""
    with _clients_lock:
        for made in _clients.values():
            made.close()
        _clients.clear()


def config_of(program: Program) -> PointsAccount | None:
    """The program's external account declaration, or None (internal ledger)."""
    redemption = program.model.redemption
    account = redemption.account if redemption is not None else None
    return account if account is not None and account.external else None


def account_id(config: PointsAccount, member_id: str, attributes: dict[str, Any] | None) -> str:
    if config.account_attribute is None:
        return member_id
    value = (attributes or {}).get(config.account_attribute)
    if value in (None, ""):
        raise Unprocessable("external_account_missing", f"member {member_id!r} has no "
                            f"{config.account_attribute!r} attribute naming its account in "
                            f"{config.service}", pointer="/member_id")
    if not ids.storable(str(value)):
        raise Unprocessable("external_account_invalid", f"member {member_id!r} has a "
                            f"{config.account_attribute!r} attribute that is not an account "
                            f"id (1 to {ids.MAX_LENGTH} characters, no control characters)",
                            pointer="/member_id")
    return str(value)


def unavailable(exc: ext.ExternalPointsError, service: str | None) -> Exception:
    """The store error an API failure becomes (503 when it may pass, 502 otherwise)."""
    if isinstance(exc, ext.Rejected):
        if exc.status == 404:
            return Unprocessable("external_account_unknown", f"{service}: no such account "
                                 f"({exc})", pointer="/member_id")
        return BadGateway("external_points_rejected", f"{service} refused: {exc}")
    return Unavailable(exc.code, f"{service}: {exc}")


def balance(config: PointsAccount, account: str) -> int:
    assert config.service is not None
    try:
        return client(config.service).balance(account)
    except ext.ExternalPointsError as exc:
        raise unavailable(exc, config.service) from exc


def restore(session: Session, row: RedemptionRow, at: datetime, points: int | None = None,
            key: str | None = None) -> None:
    """A redemption paid by an external account was cancelled, its hold released, or its
    order refunded: owe the account the points back (sent by the job)."""
    assert row.external_service is not None and row.external_account is not None
    owe_credit(session, row.program, row.external_service, row.external_account,
               row.points if points is None else points,
               key or f"redemption:{row.id}:restore", redemption_pk=row.id)


def owe_credit(session: Session, program: str, service: str, account: str, points: int,
               key: str, redemption_pk: int | None = None) -> None:
    """Owe `account` `points` (a credit transfer the job sends with `key`), in the caller's
    transaction: a cancelled redemption or order item."""
    session.add(ExternalTransferRow(
        program=program, service=service, account=account, direction="credit",
        points=points, idempotency_key=key, redemption_pk=redemption_pk, status="pending",
        attempts=0, next_attempt_at=datetime.now(UTC), created_at=datetime.now(UTC),
        updated_at=datetime.now(UTC)))


def live_balance(config: PointsAccount, member_id: str,
                 attributes: dict[str, Any] | None) -> tuple[str | None, int | None, str | None]:
    """(account, balance, why not) for read paths, which answer even when the API does
    not: the balance is then None and `why not` says what failed."""
    account = None
    try:
        account = account_id(config, member_id, attributes)
        return account, balance(config, account), None
    except (Unavailable, BadGateway, Unprocessable) as exc:
        return account, None, f"{exc.code}: {exc.message}"


def quote_balance(result: dict[str, Any], why_not: str) -> dict[str, Any]:
    """A quote of an external-account program whose balance could not be read: nothing
    may be redeemed on it (reason `BALANCE_UNAVAILABLE`), and the member's balance is
    unknown (null)."""
    block = result.get("redemption")
    if isinstance(block, dict):
        block.update(eligible=False, max_points=0, max_value="0.00")
        block["reasons"] = [{"code": "BALANCE_UNAVAILABLE", "message": "The external points "
                             f"account cannot be read now ({why_not}); try again.",
                             "rule": "redemption.account"}, *block.get("reasons", [])]
    if isinstance(result.get("member"), dict):
        result["member"].update(points_balance=None, projected_balance=None)
    return result
