"""Activity bonuses outside orders: account creation, reviews, referrals, birthdays,
social shares — each limited per period as the ruleset says; idempotent on `event_id`.

Everything is decided by the lifecycle core (engine/lifecycle/activities.py), as in the
simulator: limits, who may refer whom (a friend once per program, never in a circle),
what a referral pays (a running referral campaign's compiled conditions), when a
birthday bonus is due. The store keeps who referred whom in the `referrals` table too,
whose unique friend settles two referrals of one friend racing each other."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import store.ledger.books as books
import store.ledger.members as members
import store.redemptions.rows as redemption_rows
from engine.lifecycle import ActivityRefused, MemberBook, Step, record_activity
from engine.program import Program
from store.db.database import Database
from store.errors import Conflict, Unprocessable
from store.idempotency import Idempotent, Outcome, by_event_id
from store.registry.programs import ProgramCache
from store.tables.core import ActivityEventRow, MemberRow
from store.tables.operations import ReferralRow


def _idempotent(program_id: str, request: dict[str, Any]) -> Idempotent[ActivityEventRow]:
    return by_event_id(ActivityEventRow, program_id, request, "activity_conflict",
                       "activity event")


def record(db: Database, cache: ProgramCache, program_id: str, request: dict[str, Any]) -> Outcome:
    once = _idempotent(program_id, request)
    at = datetime.fromisoformat(request["occurred_at"])
    with db.reading() as session:
        replayed = once.earlier(session)
        if replayed is not None:
            return replayed
        program = cache.resolve(session, program_id, at, request.get("ruleset_version"))

    def write() -> Outcome:
        with db.writing() as session:
            return _record(session, program, request, at, once)
    return once.run(db, write)


def referrer_of(session: Session, program_id: str) -> Callable[[str], str | None]:
    def referrer_of(member_id: str) -> str | None:
        return session.scalar(select(ReferralRow.referrer_id).where(
            ReferralRow.program == program_id, ReferralRow.friend_id == member_id))
    return referrer_of


def save_referral(session: Session, program: Program, referrer: MemberRow, friend: MemberRow,
                  book: MemberBook, step: Step, event_id: str, at: datetime) -> None:
    """A paid referral's side of the friend: their step (the orders whose points expired
    meanwhile told so) and who referred them (one row per friend: two referrals of one
    friend racing each other cannot both land)."""
    records = books.OrderRecords(session, program.program, friend.id)
    books.lifecycle(program).note(step, records)
    redemption_rows.save(session, program, friend, book, step, records)
    session.add(ReferralRow(program=program.program, friend_id=friend.member_id,
                            referrer_id=referrer.member_id, event_id=event_id, occurred_at=at,
                            created_at=datetime.now(UTC)))


def _record(session: Session, program: Program, request: dict[str, Any], at: datetime,
            once: Idempotent[ActivityEventRow]) -> Outcome:
    name, member_id = request["activity"], request["member_id"]
    friend_id = request.get("friend_id") if name == "referral" else None
    ids = sorted({member_id, friend_id or member_id})
    rows = {mid: members.lock_or_create(session, program.program, mid, None) for mid in ids}
    replayed = once.earlier(session)
    if replayed is not None:
        return replayed
    lc = books.lifecycle(program)
    member = rows[member_id]
    book = books.book_of(lc, member, at)
    book.attributes.update(request.get("attributes") or {})
    friend_row = rows[friend_id] if friend_id is not None else None
    friend_book = books.book_of(lc, friend_row, at) if friend_row is not None else None
    ref = request["event_id"]
    records = books.OrderRecords(session, program.program, member.id)
    try:
        step = record_activity(lc, book, name, ref, at, friend_book,
                               referrer_of(session, program.program), records=records)
    except ActivityRefused as exc:
        kind = Conflict if exc.conflict else Unprocessable
        raise kind(exc.code, exc.message, pointer=exc.pointer) from None
    redemption_rows.save(session, program, member, book, step, records)
    friend = None
    if friend_row is not None and friend_book is not None and step.friend_step is not None:
        save_referral(session, program, member, friend_row, friend_book, step.friend_step,
                      ref, at)
        friend = {"member_id": friend_row.member_id, "points": step.friend_points,
                  "balance": friend_row.balance}
    result = {"event_id": ref, "activity": name, "member_id": member.member_id,
              "points": step.points, "rule": step.rule, "balance": member.balance,
              "friend": friend, "occurred_at": at.isoformat(),
              "ruleset_version": program.version}
    session.add(ActivityEventRow(program=program.program, event_id=ref, member_pk=member.id,
                                 activity=name, request_hash=once.digest, result=result,
                                 occurred_at=at, created_at=datetime.now(UTC)))
    session.flush()
    return Outcome(result, created=True)
