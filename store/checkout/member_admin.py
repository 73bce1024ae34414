"""Administrative operations on one member: manual point adjustments, a tier override,
the member's status, and erasure on request. Each runs in one transaction under the
member's row lock and is audited (store/registry/audit.py) with who did it and why.

The lifecycle core decides what each does to the member's book (engine/lifecycle/admin.py);
this module persists its step like any other (store/ledger/books.py) and records the
audit entry. Erasure touches no book decision: it removes the member's personal
attributes from the member row, the book, the stored order requests and the requests a
shadow evaluation kept as samples, and keeps the ledger, the orders' amounts, cashback
and the books as they are.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import store.clock as clock
import store.ledger.books as books
import store.notify.messages as notify_messages
import store.notify.preferences as notify_preferences
import store.redemptions.rows as redemption_rows
import store.registry.audit as audit
from engine.lifecycle import (
    AdminRefused,
    AdminStep,
    MemberBook,
    UnknownTier,
    adjust,
    override_tier,
    set_status,
)
from engine.lifecycle.admin import ADJUST_RULE
from engine.program import Program
from store.db.database import Database
from store.errors import Conflict, NotFound, Unprocessable
from store.registry.programs import ProgramCache
from store.tables.core import LedgerEntryRow, MemberRow, OrderRow
from store.tables.shadow import ShadowRunRow, ShadowSampleRow

# refusals that depend on the member's state (409); the others are about the request (422)
_STATE = frozenset({"member_closed"})


def _lock(session: Session, program: str, member_id: str) -> MemberRow:
    row = session.scalar(select(MemberRow).where(
        MemberRow.program == program, MemberRow.member_id == member_id)
        .with_for_update().execution_options(populate_existing=True))
    if row is None:
        raise NotFound("unknown_member", f"{program} has no member {member_id!r}")
    return row


def _refused(exc: AdminRefused) -> Exception:
    kind = Conflict if exc.code in _STATE else Unprocessable
    return kind(exc.code, exc.message, pointer=exc.pointer)


def _answer(program: Program, row: MemberRow, **extra: Any) -> dict[str, Any]:
    return {"program": program.program, "member_id": row.member_id, "status": row.status,
            "tier": row.tier, "balance": row.balance, "ruleset_version": program.version,
            **extra}


def _persist(session: Session, program: Program, row: MemberRow, book: MemberBook,
             step: AdminStep, at: datetime, why: str,
             records: books.OrderRecords, reason: str | None = None) -> list[int]:
    """The step's changes, and the holds it released (`why`, or timed out); `reason`: an
    adjustment's, told by its event."""
    for record in step.released:
        timed_out = record.hold_expires_at is not None and record.hold_expires_at <= at
        redemption_rows.released(session, program.program, record.id, record.status,
                                 record.hold_expires_at if timed_out else at,  # type: ignore[arg-type]
                                 "hold timed out" if timed_out else why)
    step.released.clear()
    return books.save(session, program, row, book, step, records, reason=reason)


def adjustment(db: Database, cache: ProgramCache, program_id: str, member_id: str,
               points: int, reason: str, actor: str, at: datetime | None = None,
               ref: str | None = None) -> dict[str, Any]:
    """Credit (points > 0) or debit (< 0) a member by hand, as an `adjust` entry at `at`
    (default now). `ref` (the caller's adjustment id) makes it idempotent: an adjustment
    already recorded under it is answered again (`replayed`), not applied twice."""
    at = at or clock.now()
    ref = ref or f"adjust-{uuid.uuid4().hex[:16]}"
    with db.writing() as session:
        program = cache.resolve(session, program_id, at)
        row = _lock(session, program_id, member_id)
        done = session.scalar(select(LedgerEntryRow).where(
            LedgerEntryRow.program == program_id, LedgerEntryRow.source_type == "admin",
            LedgerEntryRow.source_ref == ref, LedgerEntryRow.rule == ADJUST_RULE))
        if done is not None:
            if done.member_pk != row.id or done.points != points:
                raise Conflict("adjustment_conflict", f"adjustment {ref!r} was recorded with "
                               "another member or points", pointer="/adjustment_id")
            return _answer(program, row, replayed=True, adjustment={
                "ref": ref, "points": points, "at": done.occurred_at.isoformat(),
                "ledger_entry_id": done.id})
        lc = books.lifecycle(program)
        book = books.book_of(lc, row, at)
        records = books.OrderRecords(session, program.program, row.id)
        try:
            step = adjust(lc, book, points, at, ref, records)
        except AdminRefused as exc:
            raise _refused(exc) from None
        ids = _persist(session, program, row, book, step, at, "adjusted", records, reason)
        audit.record(session, actor, "member.adjust", program_id, member_id=member_id,
                     points=points, reason=reason, ref=ref)
        return _answer(program, row, replayed=False, adjustment={
            "ref": ref, "points": points, "reason": reason, "at": at.isoformat(),
            "ledger_entry_id": ids[-1] if ids else None})


def status(db: Database, cache: ProgramCache, program_id: str, member_id: str,
           new_status: str, reason: str, actor: str, at: datetime | None = None
           ) -> dict[str, Any]:
    """Suspend, reactivate or close a member at `at` (default now); closing forfeits the
    balance. Setting the status a member has changes nothing but the audit log."""
    at = at or clock.now()
    with db.writing() as session:
        program = cache.resolve(session, program_id, at)
        row = _lock(session, program_id, member_id)
        lc = books.lifecycle(program)
        book = books.book_of(lc, row, at)
        records = books.OrderRecords(session, program.program, row.id)
        ref = f"status-{uuid.uuid4().hex[:16]}"
        try:
            step = set_status(lc, book, new_status, at, ref, records)
        except AdminRefused as exc:
            raise _refused(exc) from None
        _persist(session, program, row, book, step, at, f"member {new_status}",
                 records)
        audit.record(session, actor, "member.status", program_id, member_id=member_id,
                     before=step.before, after=new_status, reason=reason,
                     points_forfeited=-step.points)
        return _answer(program, row, before=step.before,
                       points_forfeited=-step.points, at=at.isoformat())


def tier_override(db: Database, cache: ProgramCache, program_id: str, member_id: str,
                  tier: str | None, until: datetime | None, reason: str,
                  actor: str) -> dict[str, Any]:
    """Hold `tier` until `until` whatever qualification says (`tier` None: lift it)."""
    at = clock.now()
    with db.writing() as session:
        program = cache.resolve(session, program_id, at)
        row = _lock(session, program_id, member_id)
        lc = books.lifecycle(program)
        book = books.book_of(lc, row, at)
        records = books.OrderRecords(session, program.program, row.id)
        before = book.tier
        try:
            step = override_tier(lc, book, tier, until, at, records)
        except AdminRefused as exc:
            raise _refused(exc) from None
        except UnknownTier as exc:
            raise Unprocessable("unknown_tier", f"the program has no tier {exc}",
                                pointer="/tier") from None
        _persist(session, program, row, book, step, at, "tier override", records)
        audit.record(session, actor, "member.tier_override", program_id, member_id=member_id,
                     tier=tier, until=until.isoformat() if until else None, before=before,
                     reason=reason)
        return _answer(program, row, before=before, override={
            "tier": tier, "until": until.isoformat() if until else None} if tier else None)


def _without_attributes(request: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored request without its member's attributes (None: it had none)."""
    member = (request or {}).get("member")
    if not (isinstance(member, dict) and member.get("attributes")):
        return None
    return {**(request or {}), "member": {k: v for k, v in member.items()
                                          if k != "attributes"}}


def erase(db: Database, program_id: str, member_id: str, reason: str,
          actor: str) -> dict[str, Any]:
    """Remove the member's personal attributes (member row, book, the member part of the
    stored order requests, the email address of their notification preferences, the text
    of their messages); the ledger, amounts and books stay as they are."""
    at = clock.now()
    with db.writing() as session:
        row = _lock(session, program_id, member_id)
        erased = sorted((row.attributes or {}).keys())
        row.attributes = {}
        if row.book is not None:
            row.book = {**row.book, "attributes": {}}
        orders = 0
        for order in session.scalars(select(OrderRow).where(OrderRow.member_pk == row.id)):
            if (kept := _without_attributes(order.request)) is not None:
                order.request = kept
                orders += 1
        samples = session.scalars(select(ShadowSampleRow).join(
            ShadowRunRow, ShadowRunRow.id == ShadowSampleRow.run_id).where(
            ShadowRunRow.program == program_id, ShadowSampleRow.member_id == member_id))
        for sample in samples:  # requests a shadow evaluation kept as examples
            if (kept := _without_attributes(sample.request)) is not None:
                sample.request = kept
        notify_preferences.erase(session, program_id, member_id)  # the email address
        notify_messages.erase(session, program_id, member_id)  # what messages said
        row.erased_at, row.updated_at = at, datetime.now(UTC)
        audit.record(session, actor, "member.erase", program_id, member_id=member_id,
                     attributes=erased, reason=reason)
        return {"program": program_id, "member_id": member_id, "erased_at": at.isoformat(),
                "attributes_removed": erased, "orders_touched": orders}

