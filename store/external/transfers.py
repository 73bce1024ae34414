"""The `external_points` job: the outbox of transfers to an external points API.

For a program whose balances live in an external points API (store/external/accounts.py),
every ledger entry that moves points (earn, bonus, reverse, adjust) of a published version
becomes one pending transfer (`external_transfers`, keyed by the entry: `ledger:<id>`);
the job claims due transfers, sends each with its idempotency key (so a resend after a
crash is applied once) and records the answer. A transfer the API refuses is kept, with
why, for an operator to retry.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, or_, select, update

import store.external.points as ext
from engine.language.model import PointsAccount
from store.db.database import Database
from store.errors import Unavailable, Unprocessable
from store.external.accounts import PointsApiSettings, account_id, client, settings
from store.tables.core import LedgerEntryRow, MemberRow
from store.tables.operations import ExternalTransferRow

SYNCED_KINDS = ("earn", "bonus", "reverse", "adjust")
SEND_LIMIT = 500  # transfers one run of the job sends at most

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
