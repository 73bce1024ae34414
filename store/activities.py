"""Activity bonuses outside orders: account creation, reviews, referrals, birthdays,
social shares — each limited per period as the ruleset says; idempotent on `event_id`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import calendar
from store import ledger, members, usage
from store.db import Database
from store.errors import Conflict, Unprocessable
from store.models import ActivityEventRow, MemberRow
from store.orders import Outcome
from store.programs import ProgramCache
from store.state import request_hash

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
    """Points, friend bonus and rule for an activity; a running referral campaign sets them."""
    activity = program.model.earning.activities.get(name)
    if activity is None or name in ORDER_ACTIVITIES:
        why = "comes with the member's first committed order" if name in ORDER_ACTIVITIES \
            else f"is not offered by {program.name}"
        raise Unprocessable("activity_not_offered", f"activity {name!r} {why}", pointer="/activity")
    points, friend, rule = activity.points, activity.friend_bonus, f"earning.activities.{name}"
    if name == "referral":
        local_day = calendar.local(program, at).date()
        for c in program.model.campaigns:
            s = c.schedule
            if c.type == "referral" and (s.start is None or s.start <= local_day) \
                    and (s.end is None or local_day <= s.end):
                points, friend, rule = c.points or points, c.friend_bonus or friend, c.rule_id
    return points, friend, rule


def _check_limit(session: Session, program: Any, member: MemberRow, name: str, at: datetime) -> None:
    activity = program.model.earning.activities[name]
    if activity.limit is None:
        return
    counts = usage.member_usage(session, program, member.id, at)["activity_counts"]
    if counts.get(name, 0) >= activity.limit.count:
        raise Unprocessable("activity_limit_reached",
                            f"{name} is limited to {activity.limit.count} per "
                            f"{activity.limit.per}; the member has reached it", pointer="/activity")
    birthday = (member.attributes or {}).get("birthday")
    if name == "birthday" and birthday and \
            date.fromisoformat(str(birthday)).month != calendar.local(program, at).month:
        raise Unprocessable("not_birthday_month", "the birthday bonus is given in the member's "
                            "birthday month", pointer="/occurred_at")


def _record(session: Session, program: Any, request: dict[str, Any], at: datetime,
            digest: str) -> Outcome:
    name = request["activity"]
    points, friend_points, rule = _points(program, name, at)
    ids = sorted({request["member_id"], request.get("friend_id") or request["member_id"]})
    rows = {mid: members.lock_or_create(session, program.program, mid, None) for mid in ids}
    prior = _find(session, program.program, request["event_id"])
    if prior is not None:
        return _replay(prior, digest)
    member = rows[request["member_id"]]
    members.merge_attributes(member, request.get("attributes"))
    _check_limit(session, program, member, name, at)
    expires = calendar.expiry_at(program, at)
    ref = request["event_id"]
    ledger.append(session, member, "bonus", points, version=program.version, rule=rule,
                  source_type="activity", source_ref=ref, occurred_at=at, expires_at=expires)
    usage.record_activity(session, program, member.id, name, at)
    friend = None
    if name == "referral" and request.get("friend_id"):
        if request["friend_id"] == request["member_id"]:
            raise Unprocessable("self_referral", "a member cannot refer themselves",
                                pointer="/friend_id")
        friend_row = rows[request["friend_id"]]
        ledger.append(session, friend_row, "bonus", friend_points, version=program.version,
                      rule=f"{rule}.friend_bonus", source_type="activity", source_ref=ref,
                      occurred_at=at, expires_at=expires)
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
