"""Automatic redemption (the rewards & redemption document): a member opts in with a
threshold, a unit, a payout method and a frequency limit, within what the ruleset's
`redemption.automatic` allows; after each order commit that leaves the balance at or
above the threshold, `unit` points are redeemed — one redemption per unit — as long as
the balance stays at or above the threshold and the frequency limit allows.

The trigger runs inside the order's transaction, under the member's row lock, so it is
exact under concurrency and recorded at most once per order (a retried commit replays
the stored result and triggers nothing).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import engine.calendar as calendar
import store.ledger as ledger
import store.lots as lots
import store.members as members
from engine.evaluation.redeem import AutoSettingsInvalid, auto_settings, money
from store.db import Database
from store.errors import NotFound, Unprocessable
from store.lifecycle_models import AutoRedemptionRow
from store.models import MemberRow, UsageCounterRow
from store.programs import ProgramCache
from store.redemption_models import RedemptionEventRow, RedemptionRow
from store.state import request_hash
from store.upsert import increment

COUNTER = ("auto", "redemption.automatic")  # usage counter kind and key, per period


def _offer(program: Any) -> Any:
    redemption = program.model.redemption
    if redemption is None or redemption.automatic is None:
        raise Unprocessable("auto_redemption_not_offered",
                            f"{program.program}@{program.version} declares no automatic "
                            "redemption (`redemption.automatic`)")
    return redemption.automatic


def validate(program: Any, request: dict[str, Any]) -> dict[str, Any]:
    """The member's settings with the ruleset's defaults filled in; refuses what the
    ruleset does not allow (each refusal points at its field)."""
    try:
        return auto_settings(_offer(program), request)
    except AutoSettingsInvalid as exc:
        raise Unprocessable(exc.code, exc.message, pointer=exc.pointer) from None


def _view(row: AutoRedemptionRow, member_id: str) -> dict[str, Any]:
    return {"program": row.program, "member_id": member_id, "enabled": row.enabled,
            "threshold": row.threshold, "unit": row.unit, "method": row.method,
            "frequency": {"count": row.frequency_count, "per": row.frequency_per}
            if row.frequency_count is not None else None,
            "updated_at": row.updated_at.isoformat()}


def configure(db: Database, cache: ProgramCache, program_id: str, member_id: str,
              request: dict[str, Any]) -> dict[str, Any]:
    """Create or replace a member's settings (the member is enrolled if new)."""
    now = datetime.now(UTC)
    with db.writing() as session:
        program = cache.resolve(session, program_id, now)
        settings = validate(program, request)
        member = members.lock_or_create(session, program_id, member_id, None)
        row = session.scalar(select(AutoRedemptionRow).where(
            AutoRedemptionRow.member_pk == member.id))
        if row is None:
            row = AutoRedemptionRow(program=program_id, member_pk=member.id, created_at=now)
            session.add(row)
        frequency = settings["frequency"]
        row.enabled, row.threshold, row.unit = settings["enabled"], settings["threshold"], \
            settings["unit"]
        row.method, row.updated_at = settings["method"], now
        row.frequency_count = frequency["count"] if frequency else None
        row.frequency_per = frequency["per"] if frequency else None
        session.flush()
        return _view(row, member_id)


def get(db: Database, program_id: str, member_id: str) -> dict[str, Any]:
    with db.reading() as session:
        member = members.get(session, program_id, member_id)
        row = session.scalar(select(AutoRedemptionRow).where(
            AutoRedemptionRow.member_pk == member.id))
        if row is None:
            raise NotFound("auto_redemption_not_configured",
                           f"member {member_id!r} has not opted in to automatic redemption")
        return _view(row, member_id)


def _used(session: Session, member_pk: int, period: str) -> int:
    return int(session.scalar(select(UsageCounterRow.count).where(
        UsageCounterRow.member_pk == member_pk, UsageCounterRow.kind == COUNTER[0],
        UsageCounterRow.key == COUNTER[1], UsageCounterRow.period == period)) or 0)


def trigger(session: Session, program: Any, member: MemberRow, order_id: str,
            at: datetime) -> list[dict[str, Any]]:
    """Inside an order commit: redeem unit-sized steps while the balance is at or above
    the member's threshold and the frequency limit allows. Returns what was redeemed."""
    redemption = program.model.redemption
    if redemption is None or redemption.automatic is None:
        return []
    config = session.scalar(select(AutoRedemptionRow).where(
        AutoRedemptionRow.member_pk == member.id))
    if config is None or not config.enabled or member.balance < config.threshold:
        return []
    period = calendar.period_key(program, config.frequency_per or "lifetime", at) \
        if config.frequency_count is not None else "lifetime"
    used = _used(session, member.id, period) if config.frequency_count is not None else 0
    session.flush()  # the commit's lots and expiries must be visible to the FIFO draw
    done: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    while min(member.balance, lots.spendable(session, member.id, at)) >= config.threshold:
        if config.frequency_count is not None and used >= config.frequency_count:
            break
        points = config.unit
        row = RedemptionRow(
            program=program.program, member_pk=member.id, kind="automatic", reward_id=None,
            quantity=1, points=points, value=points * redemption.point_value,
            status="completed", order_id=order_id, order_total=None, idempotency_key=None,
            request_hash=request_hash({"automatic": order_id, "step": len(done)}),
            ruleset_version=program.version, occurred_at=at, created_at=now, updated_at=now)
        session.add(row)
        session.flush()
        entry = ledger.append(session, member, "redeem", -points, version=program.version,
                              rule="redemption.automatic", source_type="redemption",
                              source_ref=str(row.id), occurred_at=at)
        session.flush()
        lots.consume(session, member.id, entry, points, at)
        row.ledger_entry_id = entry.id
        detail: dict[str, Any] = {"method": config.method, "trigger": {"order_id": order_id}}
        if config.frequency_count is not None:
            detail["counted_in"] = period  # a cancel gives the use back to this period
        session.add(RedemptionEventRow(redemption_pk=row.id, status="completed", at=at,
                                       detail=detail))
        used += 1
        if config.frequency_count is not None:
            increment(session, UsageCounterRow.__table__,
                      {"member_pk": member.id, "kind": COUNTER[0], "key": COUNTER[1],
                       "period": period}, {"amount": Decimal(0), "count": 1, "points": points})
        done.append({"id": str(row.id), "points": points, "value": money(row.value),
                     "method": config.method})
    return done


def uncount(session: Session, row: RedemptionRow) -> None:
    """An automatic redemption was cancelled: it no longer counts against the frequency
    limit of the period it was counted in (recorded on its `completed` event)."""
    event = session.scalar(select(RedemptionEventRow).where(
        RedemptionEventRow.redemption_pk == row.id, RedemptionEventRow.status == "completed")
        .order_by(RedemptionEventRow.id).limit(1))
    period = (event.detail or {}).get("counted_in") if event is not None else None
    if period is None:
        return
    counter = session.scalar(select(UsageCounterRow).where(
        UsageCounterRow.member_pk == row.member_pk, UsageCounterRow.kind == COUNTER[0],
        UsageCounterRow.key == COUNTER[1], UsageCounterRow.period == period)
        .with_for_update())
    if counter is not None and counter.count > 0:
        counter.count -= 1
        counter.points = max(0, (counter.points or 0) - row.points)
