"""Fulfilment routing (the B2B portal document): a reward redemption's goods go to the
member by one of two routes, chosen by the catalog item's `fulfilment`:

- `physical` / `manual` → the **manual queue**: operators list it and acknowledge each
  item once it is dispatched;
- `virtual` → the **fulfilment webhook** (`LOYALTY_FULFILMENT_WEBHOOK_URL`): a POST with an
  `Idempotency-Key`, retried with exponential backoff on timeouts, connection errors and
  5xx/408/429; other 4xx fail at once.

The route is recorded in the redemption's own transaction (an outbox: a crash after the
redemption loses no delivery). Deliveries happen outside any transaction: a short
transaction claims a pending item with a lease (so two dispatchers never send it at the
same time, and a dispatcher that died is taken over when its lease ends), the HTTP calls
follow, and each attempt's outcome is written in its own short transaction. Every step
is an event in the redemption's status history.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

import store.events.redemptions as redemption_events
from store.db.database import Database
from store.errors import Conflict, NotFound
from store.tables.core import MemberRow
from store.tables.operations import FulfilmentRow
from store.tables.redemptions import RedemptionEventRow, RedemptionRow

MANUAL_KINDS = frozenset({"physical", "manual"})
RETRY_STATUSES = frozenset({408, 429})


class FulfilmentSettings(BaseSettings):
    """Webhook delivery knobs, from `LOYALTY_FULFILMENT_*` environment variables. (Kept
    beside the code that uses them rather than in store/settings.py, which is being tuned
    separately; the same pydantic-settings conventions apply.)"""

    model_config = SettingsConfigDict(env_prefix="LOYALTY_FULFILMENT_", extra="ignore")

    webhook_url: str | None = Field(None, description="where virtual rewards are sent; unset: "
                                    "they wait as pending")
    timeout_seconds: float = Field(5.0, description="per attempt (connect, read, write)")
    max_attempts: int = Field(5, ge=1, description="attempts per delivery before `failed`")
    backoff_seconds: float = Field(0.5, description="first retry delay; doubles each time")
    lease_seconds: float = Field(120.0, description="how long a dispatcher owns an item")


def _event(session: Session, redemption_pk: int, status: str, **detail: Any) -> None:
    now = datetime.now(UTC)
    session.add(RedemptionEventRow(redemption_pk=redemption_pk, status=status, at=now,
                                   detail=detail))
    if status in redemption_events.EVENT_OF_STATUS:  # delivered, acknowledged: fulfilled
        row = session.get(RedemptionRow, redemption_pk)
        assert row is not None
        redemption_events.publish_status(session, row, status, now)


def route_of(reward: Any) -> str:
    return "manual" if reward.fulfilment in MANUAL_KINDS else "webhook"


def enqueue(session: Session, row: RedemptionRow, reward: Any) -> None:
    """Record how a completed reward redemption is fulfilled (in its own transaction)."""
    route = route_of(reward)
    now = datetime.now(UTC)
    session.add(FulfilmentRow(redemption_pk=row.id, program=row.program, route=route,
                              status="queued" if route == "manual" else "pending", attempts=0,
                              next_attempt_at=None if route == "manual" else now,
                              created_at=now, updated_at=now))
    _event(session, row.id, "queued_for_fulfilment", route=route, fulfilment=reward.fulfilment)


def cancel(session: Session, row: RedemptionRow) -> None:
    """The redemption was cancelled: an item not yet fulfilled leaves the queue (one being
    sent stops after the attempt in flight)."""
    item = session.scalar(select(FulfilmentRow).where(FulfilmentRow.redemption_pk == row.id)
                          .with_for_update())
    if item is None:
        return
    if item.status in ("queued", "pending", "sending", "failed"):
        item.status, item.updated_at = "cancelled", datetime.now(UTC)
        _event(session, row.id, "fulfilment_cancelled", route=item.route)
    else:
        _event(session, row.id, "cancelled_after_fulfilment", route=item.route,
               fulfilment_status=item.status)


def status_of(session: Session, redemption_pk: int) -> dict[str, Any] | None:
    item = session.scalar(select(FulfilmentRow).where(FulfilmentRow.redemption_pk == redemption_pk))
    if item is None:
        return None
    return {"route": item.route, "status": item.status, "attempts": item.attempts,
            "last_error": item.last_error}


def _item_view(item: FulfilmentRow, row: RedemptionRow, member_id: str) -> dict[str, Any]:
    return {"redemption_id": str(row.id), "member_id": member_id, "reward_id": row.reward_id,
            "quantity": row.quantity, "reward_code": row.reward_code, "route": item.route,
            "status": item.status, "attempts": item.attempts, "last_error": item.last_error,
            "queued_at": item.created_at.isoformat(), "updated_at": item.updated_at.isoformat()}


def queue(db: Database, program: str, status: str = "queued", route: str = "manual",
          after: int | None = None, limit: int = 50) -> dict[str, Any]:
    """The queue, oldest first; `after` is the cursor (a fulfilment id) of the last page."""
    with db.reading() as session:
        query = select(FulfilmentRow, RedemptionRow, MemberRow.member_id).join(
            RedemptionRow, RedemptionRow.id == FulfilmentRow.redemption_pk).join(
            MemberRow, MemberRow.id == RedemptionRow.member_pk).where(
            FulfilmentRow.program == program, FulfilmentRow.route == route,
            FulfilmentRow.status == status)
        if after is not None:
            query = query.where(FulfilmentRow.id > after)
        rows = session.execute(query.order_by(FulfilmentRow.id).limit(limit + 1)).all()
    items = [_item_view(item, row, member_id) for item, row, member_id in rows[:limit]]
    cursor = str(rows[limit - 1][0].id) if len(rows) > limit else None
    return {"program": program, "route": route, "status": status, "items": items,
            "next_cursor": cursor}


def acknowledge(db: Database, program: str, redemption_id: str,
                request: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """An operator dispatched a manual item. Acknowledging again answers the same."""
    with db.writing() as session:
        item = session.scalar(select(FulfilmentRow).join(
            RedemptionRow, RedemptionRow.id == FulfilmentRow.redemption_pk).where(
            FulfilmentRow.program == program,
            RedemptionRow.id == (int(redemption_id) if redemption_id.isdigit() else -1))
            .with_for_update())
        if item is None:
            raise NotFound("not_in_fulfilment", f"redemption {redemption_id} has no fulfilment "
                           f"in {program}")
        if item.route != "manual":
            raise Conflict("not_manual", f"redemption {redemption_id} is fulfilled by the "
                           "webhook, not the manual queue")
        created = item.status == "queued"
        if item.status == "cancelled":
            raise Conflict("fulfilment_cancelled", f"redemption {redemption_id} was cancelled")
        if created:
            item.status, item.updated_at = "acknowledged", datetime.now(UTC)
            _event(session, item.redemption_pk, "acknowledged",
                   **{k: v for k, v in request.items() if v is not None})
        row = session.get(RedemptionRow, item.redemption_pk)
        member = session.get(MemberRow, row.member_pk)  # type: ignore[union-attr]
        session.flush()
        return _item_view(item, row, member.member_id), created  # type: ignore[arg-type,union-attr]


def _claim(db: Database, program: str | None, lease: float, only: int | None) -> list[int]:
    """Take the due webhook items (pending, or sending with a lapsed lease) for this
    dispatcher; a conditional UPDATE per item so concurrent dispatchers never share one."""
    now = datetime.now(UTC)
    due = or_(FulfilmentRow.status == "pending", FulfilmentRow.status == "sending")
    with db.writing() as session:
        query = select(FulfilmentRow.id, FulfilmentRow.status).where(
            FulfilmentRow.route == "webhook", due, FulfilmentRow.next_attempt_at <= now)
        if program is not None:
            query = query.where(FulfilmentRow.program == program)
        if only is not None:
            query = query.where(FulfilmentRow.redemption_pk == only)
        claimed = []
        for item_id, status in session.execute(query.order_by(FulfilmentRow.id).limit(100)).all():
            won = session.execute(update(FulfilmentRow).where(
                FulfilmentRow.id == item_id, FulfilmentRow.status == status,
                FulfilmentRow.next_attempt_at <= now).values(
                status="sending", next_attempt_at=now + timedelta(seconds=lease),
                updated_at=now)).rowcount  # type: ignore[attr-defined]
            if won:
                claimed.append(item_id)
    return claimed


def _payload(session: Session, item: FulfilmentRow) -> dict[str, Any]:
    row = session.get(RedemptionRow, item.redemption_pk)
    assert row is not None
    member = session.get(MemberRow, row.member_pk)
    assert member is not None
    return {"event": "redemption.fulfil", "program": row.program, "redemption_id": str(row.id),
            "member_id": member.member_id, "reward_id": row.reward_id, "quantity": row.quantity,
            "reward_code": row.reward_code, "points": row.points,
            "valid_until": row.valid_until.isoformat() if row.valid_until else None}


def _attempt(client: httpx.Client, url: str, payload: dict[str, Any],
             key: str) -> tuple[bool, bool, str]:
    """(delivered, retryable, what happened)."""
    try:
        response = client.post(url, json=payload, headers={"Idempotency-Key": key})
    except httpx.HTTPError as exc:
        return False, True, f"{type(exc).__name__}: {exc}"[:400]
    if response.is_success:
        return True, False, f"HTTP {response.status_code}"
    retry = response.status_code >= 500 or response.status_code in RETRY_STATUSES
    return False, retry, f"HTTP {response.status_code}"


def _deliver(db: Database, settings: FulfilmentSettings, item_id: int,
             client: httpx.Client) -> str:
    with db.reading() as session:
        item = session.get(FulfilmentRow, item_id)
        assert item is not None
        payload, redemption_pk = _payload(session, item), item.redemption_pk
    key = f"{payload['program']}:redemption:{payload['redemption_id']}"
    delay = settings.backoff_seconds
    for attempt in range(1, settings.max_attempts + 1):
        delivered, retryable, what = _attempt(client, settings.webhook_url or "", payload, key)
        final = delivered or not retryable or attempt == settings.max_attempts
        with db.writing() as session:
            item = session.get(FulfilmentRow, item_id, with_for_update=True)
            assert item is not None
            if item.status != "sending":  # cancelled meanwhile: stop, and say if it got out
                _event(session, redemption_pk,
                       "delivered_after_cancel" if delivered else "delivery_stopped",
                       fulfilment_status=item.status, attempt=item.attempts + 1)
                return item.status
            item.attempts += 1
            item.updated_at = datetime.now(UTC)
            if delivered:
                item.status, item.last_error = "delivered", None
                _event(session, redemption_pk, "delivered", attempt=item.attempts, response=what)
            else:
                item.last_error = what
                _event(session, redemption_pk, "delivery_attempt_failed", attempt=item.attempts,
                       error=what)
                if final:
                    item.status = "failed"
                    _event(session, redemption_pk, "delivery_failed", attempts=item.attempts)
                else:  # keep the lease ahead of the backoff
                    item.next_attempt_at = datetime.now(UTC) + timedelta(
                        seconds=settings.lease_seconds + delay)
            status = item.status
        if final:
            return status
        time.sleep(delay)
        delay *= 2
    return "failed"


def dispatch(db: Database, program: str | None = None, redemption_id: int | None = None,
             settings: FulfilmentSettings | None = None) -> dict[str, int]:
    """Deliver the due webhook items (of `program`, or of one redemption); returns how
    many ended in each status. Without a webhook URL nothing is sent."""
    settings = settings or FulfilmentSettings()  # type: ignore[call-arg]
    outcome: dict[str, int] = {}
    if not settings.webhook_url:
        return outcome
    claimed = _claim(db, program, settings.lease_seconds, redemption_id)
    if not claimed:
        return outcome
    with httpx.Client(timeout=settings.timeout_seconds) as client:
        for item_id in claimed:
            status = _deliver(db, settings, item_id, client)
            outcome[status] = outcome.get(status, 0) + 1
    return outcome


def retry_failed(db: Database, program: str) -> int:
    """Put failed webhook deliveries back to pending (the next dispatch sends them)."""
    now = datetime.now(UTC)
    with db.writing() as session:
        failed = list(session.scalars(select(FulfilmentRow).where(
            FulfilmentRow.program == program, FulfilmentRow.route == "webhook",
            FulfilmentRow.status == "failed").with_for_update()))
        for item in failed:
            item.status, item.next_attempt_at, item.updated_at = "pending", now, now
            _event(session, item.redemption_pk, "delivery_retry_requested")
    return len(failed)
