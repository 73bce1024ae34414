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
  the `external_points` job turns every such ledger entry into one transfer, keyed by the
  entry (`ledger:<id>`); a cancelled redemption or a released hold writes its credit
  (`redemption:<id>:restore`) in its own transaction. The job sends due transfers with
  their idempotency key, so a resend after a crash is applied once.
- The account id is the member attribute named by `account_attribute` (the company's
  `loyalty_account_id`), else the member id.

The API's base URL and key come from the operator, never the ruleset:
`LOYALTY_POINTS_API_URLS='{"loyalty-points-api": "https://points.example.com"}'` and
`LOYALTY_POINTS_API_KEYS` (same shape), or OAuth 2.0 client credentials in
`LOYALTY_POINTS_API_OAUTH` (store/external/oauth.py).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

import store.external.points as ext
import store.ids as ids
from engine.language.model import PointsAccount
from engine.program import Program
from store.db.database import Database
from store.errors import BadGateway, Unavailable, Unprocessable
from store.external.oauth import ClientCredentials, OAuthTokens
from store.tables.core import LedgerEntryRow, MemberRow
from store.tables.operations import ExternalTransferRow
from store.tables.redemptions import RedemptionRow

SYNCED_KINDS = ("earn", "bonus", "reverse", "adjust")
SEND_LIMIT = 500  # transfers one run of the job sends at most


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


# --- the job ---------------------------------------------------------------------------

_declared: dict[tuple[str, int], PointsAccount | None] = {}  # versions are immutable


def _external_versions(db: Database) -> dict[tuple[str, int], PointsAccount]:
    """Every published version whose balances are external (read from the model alone:
    nothing is compiled)."""
    import store.registry.versions as registry
    from engine.language.build import build
    from engine.language.loader import load_sources

    found: dict[tuple[str, int], PointsAccount] = {}
    with db.reading() as session:
        for info in registry.versions(session):
            key = (info.program, info.version)
            if key not in _declared:
                model = build(load_sources(registry.sources_of(session, *key)).data)
                account = model.redemption.account if model.redemption else None
                _declared[key] = account if account is not None and account.external else None
            if _declared[key] is not None:
                found[key] = _declared[key]  # type: ignore[assignment]
    return found


def is_external(db: Database, program: str) -> bool:
    """Whether any published version of `program` keeps its balances externally."""
    return any(p == program for p, _ in _external_versions(db))


def enqueue_ledger(db: Database, versions: dict[tuple[str, int], PointsAccount],
                   batch: int = 500) -> int:
    """One pending transfer per ledger entry of an external-account program version that
    has none yet (earn/bonus/adjust: credit; reverse of an order: debit)."""
    made = 0
    for (program, version), config in versions.items():
        while True:
            with db.writing() as session:
                rows = session.execute(
                    select(LedgerEntryRow.id, LedgerEntryRow.kind, LedgerEntryRow.points,
                           LedgerEntryRow.source_type, MemberRow.member_id, MemberRow.attributes)
                    .join(MemberRow, MemberRow.id == LedgerEntryRow.member_pk)
                    .outerjoin(ExternalTransferRow,
                               ExternalTransferRow.ledger_entry_id == LedgerEntryRow.id)
                    .where(LedgerEntryRow.program == program,
                           LedgerEntryRow.ruleset_version == version,
                           LedgerEntryRow.kind.in_(SYNCED_KINDS), LedgerEntryRow.points != 0,
                           ExternalTransferRow.id.is_(None))
                    .order_by(LedgerEntryRow.id).limit(batch)).all()
                now = datetime.now(UTC)
                values = []
                for row in rows:
                    entry_id, points = int(row.id), int(row.points)
                    try:
                        account = account_id(config, str(row.member_id), row.attributes)
                        status, error = "pending", None
                    except Unprocessable as exc:
                        account, status, error = "", "rejected", exc.message[:500]
                    values.append({
                        "program": program, "service": config.service, "account": account,
                        "direction": "credit" if points > 0 else "debit", "points": abs(points),
                        "idempotency_key": f"ledger:{entry_id}", "ledger_entry_id": entry_id,
                        "redemption_pk": None, "status": status, "attempts": 0,
                        "last_error": error, "next_attempt_at": now, "created_at": now,
                        "updated_at": now})
                if values:
                    session.execute(insert(ExternalTransferRow), values)
                made += len(values)
            if len(rows) < batch:
                break
    return made


def _claim(db: Database, lease: float, limit: int, program: str | None = None,
           retry_now: bool = False) -> list[int]:
    """Lease due transfers; with `retry_now`, pending ones waiting out a backoff too
    (never one another job holds the lease of)."""
    now = datetime.now(UTC)
    due = ExternalTransferRow.next_attempt_at <= now
    if retry_now:
        due = or_(due, ExternalTransferRow.status == "pending")
    query = select(ExternalTransferRow.id).where(
        ExternalTransferRow.status.in_(("pending", "sending")), due)
    if program is not None:
        query = query.where(ExternalTransferRow.program == program)
    with db.writing() as session:
        ids = list(session.scalars(query.order_by(ExternalTransferRow.id).limit(limit)
                                   .with_for_update(skip_locked=True)))
        if ids:
            session.execute(update(ExternalTransferRow).where(ExternalTransferRow.id.in_(ids))
                            .values(status="sending", updated_at=now,
                                    next_attempt_at=now + timedelta(seconds=lease)))
    return ids


def send_due(db: Database, config: PointsApiSettings, limit: int = SEND_LIMIT,
             program: str | None = None, retry_now: bool = False) -> dict[str, int]:
    """Send the due transfers (of `program`, else of every program), claimed with a lease,
    so two jobs never send one at once; a job that died is taken over when its lease
    ends."""
    done = {"sent": 0, "rejected": 0, "retrying": 0}
    for transfer_id in _claim(db, config.lease_seconds, limit, program, retry_now):
        with db.reading() as session:
            row = session.get(ExternalTransferRow, transfer_id)
            assert row is not None
            service, account, direction, points, key, attempts = (
                row.service, row.account, row.direction, row.points, row.idempotency_key,
                row.attempts)
        try:
            api = client(service)
            call = api.credit if direction == "credit" else api.debit
            call(account, points, key, f"{direction}:{key}")
            status, error, due = "done", None, datetime.now(UTC)
        except ext.Rejected as exc:
            status, error, due = "rejected", str(exc)[:500], datetime.now(UTC)
        except (ext.Unavailable, Unavailable) as exc:
            delay = min(3600.0, config.transfer_backoff_seconds * 2 ** attempts)
            status, error = "pending", str(exc)[:500]
            due = datetime.now(UTC) + timedelta(seconds=delay)
        with db.writing() as session:
            session.execute(update(ExternalTransferRow).where(
                ExternalTransferRow.id == transfer_id, ExternalTransferRow.status == "sending")
                .values(status=status, last_error=error, next_attempt_at=due,
                        attempts=ExternalTransferRow.attempts + 1,
                        updated_at=datetime.now(UTC)))
        done["sent" if status == "done" else "rejected" if status == "rejected"
             else "retrying"] += 1
    return done


def run_job(db: Database, program: str | None = None, retry_now: bool = False
            ) -> dict[str, Any]:
    """The `external_points` job: queue ledger entries, send due transfers, finish debits
    whose outcome stayed unknown (`store.external.points.reconcile`) — for `program`
    alone when given, else for every program; `retry_now`: without waiting out the
    backoff of transfers that failed before."""
    config = settings()
    versions = {key: account for key, account in _external_versions(db).items()
                if program is None or key[0] == program}
    summary: dict[str, Any] = {"queued": enqueue_ledger(db, versions)}
    summary.update(send_due(db, config, program=program, retry_now=retry_now))
    services = {(name, c.service) for (name, _), c in versions.items()}
    reconciled: dict[str, int] = {}
    for name, service in sorted(services):  # type: ignore[type-var]
        try:
            api = client(str(service))
        except Unavailable:
            continue
        for outcome, count in ext.reconcile(db, api, name,
                                            config.reconcile_after_seconds).items():
            reconciled[outcome] = reconciled.get(outcome, 0) + count
    summary["reconciled"] = reconciled
    return summary


def pending(db: Database, program: str, account: str | None = None) -> dict[str, Any]:
    """Transfers not yet done (for the member summary and operators)."""
    with db.reading() as session:
        query = select(ExternalTransferRow).where(
            ExternalTransferRow.program == program,
            ExternalTransferRow.status.in_(("pending", "sending", "rejected")))
        if account is not None:
            query = query.where(ExternalTransferRow.account == account)
        rows = list(session.scalars(query.order_by(ExternalTransferRow.id).limit(1000)))
    owed = sum(r.points if r.direction == "credit" else -r.points
               for r in rows if r.status != "rejected")
    return {"points_owed": owed, "transfers": [
        {"id": str(r.id), "direction": r.direction, "points": r.points, "status": r.status,
         "attempts": r.attempts, "last_error": r.last_error, "key": r.idempotency_key}
        for r in rows]}


def unsent(db: Database, program: str) -> tuple[int, str | None]:
    """Transfers of `program` still to be sent (pending or being sent), and the last
    error one of them met."""
    owed = ExternalTransferRow.status.in_(("pending", "sending"))
    with db.reading() as session:
        count = session.scalar(select(func.count()).where(
            ExternalTransferRow.program == program, owed))
        error = session.scalar(select(ExternalTransferRow.last_error).where(
            ExternalTransferRow.program == program, owed,
            ExternalTransferRow.last_error.is_not(None))
            .order_by(ExternalTransferRow.updated_at.desc()).limit(1))
    return int(count or 0), error


def retry(db: Database, program: str, transfer_id: str) -> dict[str, Any]:
    """Send a rejected transfer again (an operator fixed the cause, e.g. the account)."""
    from store.errors import Conflict, NotFound

    with db.writing() as session:
        row = session.get(ExternalTransferRow, int(transfer_id)) \
            if transfer_id.isdigit() else None
        if row is None or row.program != program:
            raise NotFound("unknown_transfer", f"{program} has no transfer {transfer_id!r}")
        if row.status != "rejected":
            raise Conflict("transfer_not_rejected", f"transfer {transfer_id} is {row.status}; "
                           "only a rejected one is sent again")
        row.status, row.next_attempt_at = "pending", datetime.now(UTC)
        row.updated_at = datetime.now(UTC)
    return pending(db, program)


def owed_to(db: Database, program: str, account: str, member_pk: int) -> int:
    """Points still on their way to `account`: transfers queued and not yet done, plus
    this member's ledger entries the job has not queued yet."""
    queued = pending(db, program, account)["points_owed"]
    versions = [v for (p, v) in _external_versions(db) if p == program]
    if not versions:
        return queued
    with db.reading() as session:
        unqueued = session.scalar(
            select(func.sum(LedgerEntryRow.points))
            .outerjoin(ExternalTransferRow,
                       ExternalTransferRow.ledger_entry_id == LedgerEntryRow.id)
            .where(LedgerEntryRow.member_pk == member_pk,
                   LedgerEntryRow.ruleset_version.in_(versions),
                   LedgerEntryRow.kind.in_(SYNCED_KINDS), ExternalTransferRow.id.is_(None)))
    return queued + int(unqueued or 0)
