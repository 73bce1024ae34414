"""Enrolments: a member joins the program at an instant, with their attributes and
optionally a starting tier and the member who referred them (by id, or by their referral
code: store/campaigns/codes.py); idempotent on `event_id`.

The lifecycle core starts the member's book (`engine.lifecycle.enrol`: a new book, or —
for a member known already as someone's referred friend — the attributes added and the
tier granted from then), then pays the account-creation bonus and the referrer's
referral as activities (`record_activity`). A refused bonus or referral does not undo
the enrolment: the answer says why it was refused, as the simulator counts it. The
history format's `enroll` event is this call (`loyalty import`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import store.campaigns.codes as coupon_codes
import store.ledger.books as books
import store.ledger.members as members
import store.redemptions.rows as redemption_rows
from engine.lifecycle import (
    ActivityRefused,
    MemberBook,
    MemberInactive,
    UnknownTier,
    enrol,
    record_activity,
)
from engine.program import Program
from store.checkout.activities import referrer_of, save_referral
from store.db.database import Database
from store.errors import Conflict, Unprocessable
from store.idempotency import Idempotent, Outcome, by_event_id
from store.registry.programs import ProgramCache
from store.tables.core import MemberRow
from store.tables.operations import EnrolmentRow


def _idempotent(program_id: str, request: dict[str, Any]) -> Idempotent[EnrolmentRow]:
    return by_event_id(EnrolmentRow, program_id, request, "enrolment_conflict", "enrolment")


def enrol_member(db: Database, cache: ProgramCache, program_id: str,
                 request: dict[str, Any]) -> Outcome:
    once = _idempotent(program_id, request)
    at = datetime.fromisoformat(request["enrolled_at"])

    def write() -> Outcome:
        with db.writing() as session:
            replayed = once.earlier(session)
            if replayed is not None:
                return replayed
            program = cache.resolve(session, program_id, at)
            return _enrol(session, program, request, at, once.digest)
    return once.run(db, write)


def _refusal(exc: ActivityRefused | MemberInactive) -> dict[str, Any]:
    return {"refused": {"code": exc.code, "message": exc.message}}


def _enrol(session: Session, program: Program, request: dict[str, Any], at: datetime,
           digest: str) -> Outcome:
    member_id, referrer_id = request["member_id"], request.get("referred_by")
    if request.get("referral_code"):  # the same referral, named by the referrer's code
        referrer_id = coupon_codes.referrer_by_code(session, program.program,
                                                    request["referral_code"])
    ids = sorted({member_id, referrer_id or member_id})
    rows = {mid: members.lock_or_create(session, program.program, mid, None) for mid in ids}
    member = rows[member_id]
    if session.scalar(select(EnrolmentRow.id).where(EnrolmentRow.member_pk == member.id)):
        raise Conflict("already_enrolled", f"member {member_id!r} is enrolled already",
                       pointer="/member_id")
    lc = books.lifecycle(program)
    records = books.OrderRecords(session, program.program, member.id)
    try:
        book, step = enrol(lc, books.book_of(lc, member, at) if member.book else None,
                           member_id, at, request.get("attributes"), request.get("tier"))
    except UnknownTier as exc:
        raise Unprocessable("unknown_tier", str(exc), pointer="/tier") from None
    redemption_rows.save(session, program, member, book, step, records)
    event_id = request["event_id"]
    bonus = _account_creation(session, program, member, book, event_id, at, records)
    referral = None
    if referrer_id is not None:
        referral = _referral(session, program, rows[referrer_id], member, book, event_id, at)
    result = {"event_id": event_id, "member_id": member_id, "enrolled_at": at.isoformat(),
              "tier": book.tier, "balance": book.balance, "account_creation": bonus,
              "referral": referral, "ruleset_version": program.version}
    session.add(EnrolmentRow(program=program.program, event_id=event_id, member_pk=member.id,
                             request_hash=digest, result=result, occurred_at=at,
                             created_at=datetime.now(UTC)))
    session.flush()
    return Outcome(result, created=True)


def _account_creation(session: Session, program: Program, member: MemberRow,
                      book: MemberBook, event_id: str, at: datetime,
                      records: books.OrderRecords) -> dict[str, Any]:
    lc = books.lifecycle(program)
    try:
        step = record_activity(lc, book, "account_creation", event_id, at, records=records)
    except ActivityRefused as exc:
        return _refusal(exc)
    redemption_rows.save(session, program, member, book, step, records)
    return {"points": step.points, "rule": step.rule}


def _referral(session: Session, program: Program, referrer: MemberRow, member: MemberRow,
              book: MemberBook, event_id: str, at: datetime) -> dict[str, Any]:
    """The referrer's referral of the new member. A referrer not seen before starts a
    book at `at` even when the referral is refused (as in the simulator)."""
    lc = books.lifecycle(program)
    ref = f"{event_id}:referral"
    theirs = books.book_of(lc, referrer, at)
    records = books.OrderRecords(session, program.program, referrer.id)
    out: dict[str, Any] = {"referrer_id": referrer.member_id}
    try:
        step = record_activity(lc, theirs, "referral", ref, at, book,
                               referrer_of(session, program.program), records=records)
    except (ActivityRefused, MemberInactive) as exc:  # a suspended referrer earns nothing
        if referrer.book is None:
            books.store_book(referrer, theirs, lc)
        return {**out, **_refusal(exc)}
    redemption_rows.save(session, program, referrer, theirs, step, records)
    assert step.friend_step is not None, "a paid referral pays the friend too"
    save_referral(session, program, referrer, member, book, step.friend_step, ref, at)
    return {**out, "points": step.points, "friend_points": step.friend_points,
            "rule": step.rule}
