"""Redemption rows: what the store keeps of a redemption the lifecycle core made (its
record, status, history, reward code, delivery), and its view.

The core names a redemption before it exists (its id is in the ledger entry that drew
the points), so the row is inserted first, empty (`placeholder`), and filled from the
core's record once the core decided; a refused redemption rolls its row back with the
transaction.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import store.events.redemptions as redemption_events
import store.external.accounts as external_accounts
import store.ledger.books as books
import store.redemptions.fulfilment as fulfilment
from engine.evaluation.redeem import money
from engine.lifecycle import MemberBook, RedemptionRecord, Step
from engine.lifecycle.records import redemption_json
from engine.program import Program
from store.db.types import money_text
from store.idempotency import request_hash
from store.tables.core import LedgerEntryRow, LotAllocationRow, MemberRow
from store.tables.redemptions import RedemptionEventRow, RedemptionRow

# the kinds of redemption that give a catalog reward (a code, a delivery): a reward
# redeemed for points, and a milestone's gift (0 points)
REWARD_KINDS = ("reward", "gift")


def placeholder(session: Session, program: Program, member: MemberRow, at: datetime) -> str:
    """An empty row for a redemption the core is about to make; returns its id."""
    now = datetime.now(UTC)
    row = RedemptionRow(
        program=program.program, member_pk=member.id, kind="points", reward_id=None,
        quantity=1, points=0, value=Decimal(0), status="pending", order_id=None,
        order_total=None, idempotency_key=None, request_hash="",
        ruleset_version=program.version, occurred_at=at, created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    # held here until the transaction ends: the session's identity map holds rows weakly,
    # and `row_of` would read a row dropped from it back from the database
    session.info.setdefault(_PLACED, {})[str(row.id)] = row
    return str(row.id)


_PLACED = "loyalty.redemptions.placed"  # session.info key: {id: row} of `placeholder`


def row_of(session: Session, redemption_id: str) -> RedemptionRow:
    row = session.info.get(_PLACED, {}).get(redemption_id)
    if row is None:
        row = session.get(RedemptionRow, int(redemption_id))
    assert row is not None, "the core names redemptions this transaction inserted"
    return row


def event(session: Session, row: RedemptionRow, status: str, at: datetime,
          **detail: Any) -> None:
    """Record a status in the redemption's history, and publish its domain event."""
    session.add(RedemptionEventRow(redemption_pk=row.id, status=status, at=at, detail=detail))
    redemption_events.publish_status(session, row, status, at)


def fill(row: RedemptionRow, record: RedemptionRecord, value: Decimal,
         valid_days: int | None = None) -> None:
    """The row as the core's record says (kind, points, status, hold, reward code)."""
    row.kind, row.points, row.value, row.status = record.kind, record.points, value, \
        record.status
    row.reward_id, row.quantity, row.order_id = record.reward_id, record.quantity, \
        record.order_id
    row.hold_expires_at, row.occurred_at = record.hold_expires_at, record.at
    row.record = redemption_json(record)
    row.updated_at = datetime.now(UTC)
    if record.kind in REWARD_KINDS:
        row.reward_code = "RW-" + secrets.token_hex(8).upper()
        row.valid_until = record.at + timedelta(days=valid_days) if valid_days else None


def automatic(session: Session, program: Program, record: RedemptionRecord, method: str,
              order_id: str) -> dict[str, Any]:
    """An automatic redemption an order triggered; returns its part of the commit block."""
    config = program.model.redemption
    assert config is not None
    row = row_of(session, record.id)
    fill(row, record, record.points * config.point_value)
    row.request_hash = request_hash({"automatic": order_id, "redemption": record.id})
    detail: dict[str, Any] = {"method": method, "trigger": {"order_id": order_id}}
    if record.counted_in is not None:
        detail["counted_in"] = record.counted_in  # a cancel gives the use back to it
    event(session, row, "completed", record.at, **detail)
    return {"id": record.id, "points": record.points, "value": money(row.value),
            "method": method}


def gift(session: Session, program: Program, record: RedemptionRecord, order_id: str,
         milestone: str) -> None:
    """A milestone's catalog reward the order gave (0 points): completed at once, and
    routed to fulfilment like any reward redemption."""
    config = program.model.redemption
    reward = config.reward(record.reward_id) if config and record.reward_id else None
    assert reward is not None, "a milestone's reward is in the catalog (validated)"
    row = row_of(session, record.id)
    fill(row, record, reward.value or Decimal(0), reward.valid_days)
    row.request_hash = request_hash({"gift": order_id, "redemption": record.id})
    event(session, row, "completed", record.at, milestone=milestone,
          trigger={"order_id": order_id})
    fulfilment.enqueue(session, row, reward)


def captured(session: Session, program: Program, record: RedemptionRecord, order_id: str,
             at: datetime) -> str:
    """A checkout hold the order captured: a completed sale, whose goods are routed."""
    row = row_of(session, record.id)
    row.status, row.record, row.updated_at = "captured", redemption_json(record), \
        datetime.now(UTC)
    event(session, row, "captured", at, order_id=order_id)
    config = program.model.redemption
    reward = config.reward(row.reward_id) if row.reward_id and config else None
    if reward is not None:
        fulfilment.enqueue(session, row, reward)
    return record.id


def released(session: Session, program: str, redemption_id: str, status: str,
             at: datetime, reason: str | None) -> RedemptionRow | None:
    """A redemption the core put back (cancelled, or a hold released): its status, its
    history, an external account owed the points, a reward's delivery called off."""
    row = session.get(RedemptionRow, int(redemption_id)) if redemption_id.isdigit() else None
    if row is None or row.program != program:
        return None
    row.status, row.updated_at = status, datetime.now(UTC)
    if row.record is not None:
        row.record = {**row.record, "status": status}
    event(session, row, status, at, **({"reason": reason} if reason else {}))
    if row.external_account is not None:
        external_accounts.restore(session, row, at)  # the account is credited by the job
    if row.kind in REWARD_KINDS:
        fulfilment.cancel(session, row)
    return row


def save(session: Session, program: Program, member: MemberRow, book: MemberBook, step: Step,
         records: books.OrderRecords | None = None) -> list[int]:
    """`books.save`, and the holds the step released because their time ran out."""
    for record in step.released:
        at = record.hold_expires_at or book.last_at or datetime.now(UTC)
        released(session, program.program, record.id, record.status, at, "hold timed out")
    step.released.clear()
    return books.save(session, program, member, book, step, records)


def view(session: Session, row: RedemptionRow) -> dict[str, Any]:
    member = session.get(MemberRow, row.member_pk)
    assert member is not None
    history = session.scalars(select(RedemptionEventRow).where(
        RedemptionEventRow.redemption_pk == row.id).order_by(RedemptionEventRow.id))
    return {
        "id": str(row.id), "program": row.program, "member_id": member.member_id,
        "status": row.status, "kind": row.kind, "points": row.points,
        "value": money_text(row.value),
        "reward_id": row.reward_id, "quantity": row.quantity, "order_id": row.order_id,
        "order_total": money_text(row.order_total) if row.order_total is not None else None,
        "reward": {"code": row.reward_code,
                   "valid_until": row.valid_until.isoformat() if row.valid_until else None}
        if row.reward_code else None,
        "hold_expires_at": row.hold_expires_at.isoformat() if row.hold_expires_at else None,
        "lots": _lots(session, row),
        # An external account's balance is the points API's, not read here.
        "balance": member.balance if row.external_account is None else None,
        "account": {"type": "external", "service": row.external_service,
                    "account": row.external_account}
        if row.external_account is not None else {"type": "internal"},
        "ruleset_version": row.ruleset_version,
        "occurred_at": row.occurred_at.isoformat(),
        "history": [{"status": e.status, "at": e.at.isoformat(), **(e.detail or {})}
                    for e in history],
        "fulfilment": fulfilment.status_of(session, row.id)
        if row.kind in REWARD_KINDS else None,
    }


def _lots(session: Session, row: RedemptionRow) -> list[dict[str, Any]]:
    """The lots the redemption drew on: the member's lot numbers, from its record (rows
    written before books kept their lots by number name the old lot entries)."""
    if row.record is not None:
        return [{"lot_id": str(lot), "points": points, "expires_at": expires}
                for lot, points, expires, _earned, _source in row.record["draws"]]
    if row.ledger_entry_id is None:
        return []
    used = session.execute(select(LedgerEntryRow, LotAllocationRow.points).join(
        LotAllocationRow, LotAllocationRow.lot_entry_id == LedgerEntryRow.id).where(
        LotAllocationRow.debit_entry_id == row.ledger_entry_id).order_by(LotAllocationRow.id))
    return [{"lot_id": str(lot.id), "points": points,
             "expires_at": lot.expires_at.isoformat() if lot.expires_at else None}
            for lot, points in used]
