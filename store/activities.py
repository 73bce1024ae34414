"""Activity bonuses outside orders: account creation, reviews, referrals, birthdays,
social shares — each limited per period as the ruleset says; idempotent on `event_id`.

Who may refer whom, what a referral pays and when a birthday bonus is due are decided by
engine/lifecycle/policies.py, as in the simulator: a friend is referred once per program (the
`referrals` table), never in a circle, and the birthday bonus needs a birthday on record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import engine.calendar as calendar
import engine.lifecycle.policies as policies
import store.debt as debt
import store.ledger as ledger
import store.members as members
import store.usage as usage
from store.db import Database
from store.errors import Conflict, StoreError, Unprocessable
from store.lifecycle_models import ReferralRow
from store.models import ActivityEventRow, MemberRow
from store.orders import Outcome
from store.programs import ProgramCache
from store.state import request_hash
from store.tiering import effective_tier

ORDER_ACTIVITIES = {"first_purchase"}


def _find(session: Session, program_id: str, event_id: str) -> ActivityEventRow | None:
    return session.scalar(select(ActivityEventRow).where(
        ActivityEventRow.program == program_id, ActivityEventRow.event_id == event_id))


def _replay(row: ActivityEventRow, digest: str) -> Outcome:
    if row.request_hash != digest:
        raise Conflict("activity_conflict", f"activity event {row.event_id!r} was already "
                       "recorded with a different body", pointer="/event_id")
    return Outcome(row.result, created=False)


def record(db: Database, cache: ProgramCache, program_id: str, request: dict[str, Any]) -> Outcome:
    digest = request_hash(request)
    at = datetime.fromisoformat(request["occurred_at"])
    with db.reading() as session:
        prior = _find(session, program_id, request["event_id"])
        if prior is not None:
            return _replay(prior, digest)
        program = cache.resolve(session, program_id, at, request.get("ruleset_version"))
    try:
        with db.writing() as session:
            return _record(session, program, request, at, digest)
    except IntegrityError:
        with db.reading() as session:
            prior = _find(session, program_id, request["event_id"])
        if prior is None:
            raise
        return _replay(prior, digest)


def _points(program: Any, name: str, at: datetime) -> tuple[int, int, str]:
    """Points, friend bonus and rule for an activity (a referral campaign that applies to
    the referrer replaces a referral's: `_record`)."""
    activity = program.model.earning.activities.get(name)
    if activity is None or name in ORDER_ACTIVITIES:
        why = "comes with the member's first committed order" if name in ORDER_ACTIVITIES \
            else f"is not offered by {program.name}"
        raise Unprocessable("activity_not_offered", f"activity {name!r} {why}", pointer="/activity")
    return activity.points, activity.friend_bonus, f"earning.activities.{name}"


def _refused(refusal: policies.Refusal, pointer: str) -> StoreError:
    kind = Conflict if refusal.conflict else Unprocessable
    return kind(refusal.code, refusal.message, pointer=pointer)


def _referrer_of(session: Session, program_id: str) -> Callable[[str], str | None]:
    def referrer_of(member_id: str) -> str | None:
        return session.scalar(select(ReferralRow.referrer_id).where(
            ReferralRow.program == program_id, ReferralRow.friend_id == member_id))
    return referrer_of


def _check_limit(session: Session, program: Any, member: MemberRow, name: str, at: datetime) -> None:
    activity = program.model.earning.activities[name]
    if activity.limit is not None:
        counts = usage.member_usage(session, program, member.id, at)["activity_counts"]
        if counts.get(name, 0) >= activity.limit.count:
            raise Unprocessable("activity_limit_reached",
                                f"{name} is limited to {activity.limit.count} per "
                                f"{activity.limit.per}; the member has reached it",
                                pointer="/activity")
    if name == "birthday":
        refusal = policies.birthday_refusal((member.attributes or {}).get("birthday"),
                                            calendar.local(program, at).date())
        if refusal is not None:
            raise _refused(refusal, "/occurred_at" if refusal.code == "not_birthday_month"
                           else "/attributes/birthday")


def _credit(session: Session, member: MemberRow, points: int, rule: str, program: Any,
            ref: str, at: datetime) -> None:
    """A bonus lot; a member in debt repays it first."""
    if points <= 0:
        return
    owing = member.balance < 0
    ledger.append(session, member, "bonus", points, version=program.version, rule=rule,
                  source_type="activity", source_ref=ref, occurred_at=at,
                  expires_at=calendar.expiry_at(program, at))
    if owing:
        debt.settle(session, member, at)


def _record(session: Session, program: Any, request: dict[str, Any], at: datetime,
            digest: str) -> Outcome:
    name = request["activity"]
    points, friend_points, rule = _points(program, name, at)
    friend_id = request.get("friend_id") if name == "referral" else None
    ids = sorted({request["member_id"], friend_id or request["member_id"]})
    rows = {mid: members.lock_or_create(session, program.program, mid, None) for mid in ids}
    prior = _find(session, program.program, request["event_id"])
    if prior is not None:
        return _replay(prior, digest)
    member = rows[request["member_id"]]
    members.merge_attributes(member, request.get("attributes"))
    if name == "referral":
        refusal = policies.referral_refusal(member.member_id, friend_id,
                                            _referrer_of(session, program.program))
        if refusal is not None:
            raise _refused(refusal, "/friend_id")
    _check_limit(session, program, member, name, at)
    if name == "referral":  # a referral campaign's conditions are the referrer's, at `at`
        tier = effective_tier(program, member.tier, member.tier_since, at,
                              lambda s, e: members.window_stats(session, member.id, s, e))
        terms = policies.referral_terms(program, member.member_id, member.attributes or {},
                                        tier, at)
        assert terms is not None, "the referral activity is declared"
        points, friend_points, rule = terms.points, terms.friend_bonus, terms.rule
    ref = request["event_id"]
    _credit(session, member, points, rule, program, ref, at)
    usage.record_activity(session, program, member.id, name, at)
    friend = None
    if friend_id is not None:
        friend_row = rows[friend_id]
        _credit(session, friend_row, friend_points, f"{rule}.friend_bonus", program, ref, at)
        session.add(ReferralRow(program=program.program, friend_id=friend_id,
                                referrer_id=member.member_id, event_id=ref, occurred_at=at,
                                created_at=datetime.now(UTC)))
        friend = {"member_id": friend_row.member_id, "points": friend_points,
                  "balance": friend_row.balance}
    member.updated_at = datetime.now(UTC)
    result = {"event_id": ref, "activity": name, "member_id": member.member_id,
              "points": points, "rule": rule, "balance": member.balance, "friend": friend,
              "occurred_at": at.isoformat(), "ruleset_version": program.version}
    session.add(ActivityEventRow(program=program.program, event_id=ref, member_pk=member.id,
                                 activity=name, request_hash=digest, result=result,
                                 occurred_at=at, created_at=datetime.now(UTC)))
    session.flush()
    return Outcome(result, created=True)
