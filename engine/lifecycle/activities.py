"""Enrolment, and activity bonuses outside orders: account creation, reviews, social
shares, birthdays and referrals, each limited per period as the ruleset says.

A referral pays the referrer the activity's points and the referred friend the friend
bonus; a `referral` campaign replaces both while its compiled conditions hold for the
referrer at the activity's instant (schedule and eligibility, decided by the rule engine:
engine/lifecycle/policies.py `referral_terms`; the first such campaign in the ruleset's
order wins).
A friend earns the friend bonus once per program, a referrer once per friend, and a
referral back to one's own referrer is refused.

Whether an activity is refused is the rule engine's decision: `_ask` computes the facts
(the activity offered, the uses left in its limit's period, the birthday flags, the
referral flags: engine/lifecycle/policies.py), the compiled refusal rules
(engine/rules/questions.py `activity_refusal_rules`) answer which reasons hold, and the
first in their order is raised as `ActivityRefused` with its code, message and pointer.
The decisions are kept in a `Record` (engine/evaluation/record.py: `activity_refusals`,
and `referral_campaigns` for a referral's terms) that the step carries, or the refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import engine.lifecycle.policies as policies
from engine.evaluation.record import Record
from engine.lifecycle.book import MemberBook
from engine.lifecycle.changes import Change
from engine.lifecycle.context import Lifecycle, Step
from engine.lifecycle.records import OrderRecord, RedemptionRecord
from engine.lifecycle.status import check_active
from engine.rules.questions import activity_facts


class ActivityRefused(ValueError):
    """`conflict`: the refusal depends on what happened before (a store answers 409), not
    on the request alone (422)."""

    def __init__(self, code: str, message: str, pointer: str, conflict: bool = False, *,
                 rule: str = "", record: Record | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.pointer = code, message, pointer
        self.conflict = conflict
        self.rule = rule  # the compiled refusal rule reported
        self.record = record  # the decisions taken (question `activity_refusals`)


@dataclass
class ActivityStep(Step):
    points: int = 0
    rule: str = ""
    friend_points: int = 0
    friend_step: Step | None = None
    # the rule engine's decisions: `activity_refusals` (none held), and for a referral
    # `referral_campaigns` when the program has referral campaigns
    record: Record = field(default_factory=Record)

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, changes: list[Change] | None = None,
                 released: list[RedemptionRecord] | None = None, noted: int = 0,
                 points: int = 0, rule: str = '', friend_points: int = 0,
                 friend_step: Step | None = None, record: Record | None = None) -> None:
        self.changes = [] if changes is None else changes
        self.released = [] if released is None else released
        self.noted = noted
        self.points = points
        self.rule = rule
        self.friend_points = friend_points
        self.friend_step = friend_step
        self.record = Record() if record is None else record


class UnknownTier(ValueError):
    """An enrolment names a tier the program does not have."""


def enrol(lc: Lifecycle, book: MemberBook | None, member_id: str, at: datetime,
          attributes: Mapping[str, Any] | None = None, tier: str | None = None,
          ) -> tuple[MemberBook, Step]:
    """A member's enrolment at `at`, with their attributes and a starting tier: a new
    book, or — for a member known before (someone's referred friend) — the attributes
    added to their book and the tier granted from `at`. The account-creation bonus and
    a referral at enrolment are activities of their own (`record_activity`)."""
    if tier is not None and (lc.tiers is None or tier not in lc.tiers.ids):
        known = ", ".join(lc.tiers.ids) if lc.tiers else "none"
        raise UnknownTier(f"unknown tier {tier!r} (the program's tiers: {known})")
    step = Step()
    if book is None:
        return lc.new_book(member_id, at, dict(attributes or {}), tier), step
    book.attributes.update(attributes or {})
    if tier is not None and lc.tiers is not None:
        lc.advance(book, at, step)
        lc.tiers.grant(book, at, tier)
        lc.tier_settled(book, at, "enroll", step)
    return book, step


POINTERS = {"friend_required": "/friend_id", "self_referral": "/friend_id",
            "already_referred": "/friend_id", "circular_referral": "/friend_id",
            "activity_not_offered": "/activity", "birthday_unknown": "/attributes/birthday",
            "not_birthday_month": "/occurred_at", "activity_limit_reached": "/activity"}


def _ask(lc: Lifecycle, book: MemberBook, name: str, at: datetime, friend: str | None,
         referrer_of: Callable[[str], str | None]) -> policies.ActivityAsk:
    """What the refusal rules are asked about activity `name` of `book` at `at`: the
    flags and counts are computed here, the decision is the rules'."""
    activity = lc.model.earning.activities.get(name)
    limit = activity.limit if activity is not None else None
    used = 0
    if limit is not None:
        held = book.activities.get(name)
        used = held[1] if held is not None and held[0] == lc.activity_period(name, at) else 0
    fact = activity_facts(name, activity is not None, limit, used)
    first, birthday = None, book.attributes.get("birthday")
    if name == "referral":
        facts, first = policies.referral_facts(book.member_id, friend, referrer_of)
        fact.update(facts)
    if name == "birthday":
        fact.update(policies.birthday_facts(birthday, lc.local(at).date()))
    return policies.ActivityAsk(name, fact, lc.program.name, book.member_id, friend, first,
                                birthday, limit)


def _check(lc: Lifecycle, book: MemberBook, name: str, at: datetime, friend: str | None,
           referrer_of: Callable[[str], str | None], record: Record) -> None:
    """Raise ActivityRefused when a refusal rule holds (engine/lifecycle/policies.py
    `activity_refusal`); `record` keeps the decision either way."""
    ask = _ask(lc, book, name, at, friend, referrer_of)
    refusal = policies.activity_refusal(lc.program.questions.refusals, ask, record)
    if refusal is not None:
        raise ActivityRefused(refusal.code, refusal.message, POINTERS[refusal.code],
                              refusal.conflict, rule=refusal.rule, record=record)


def record_activity(lc: Lifecycle, book: MemberBook, name: str, event_id: str, at: datetime,
                    friend: MemberBook | None = None,
                    referrer_of: Callable[[str], str | None] | None = None,
                    records: Mapping[str, OrderRecord] | None = None) -> ActivityStep:
    """Award activity `name` to `book` at `at`; a referral also pays `friend`.
    `referrer_of(member id)` says who referred a member (a referral never goes in a
    circle, however long)."""
    check_active(book)  # a suspended or closed member earns nothing
    record = Record()
    friend_id = friend.member_id if friend is not None else None
    _check(lc, book, name, at, friend_id,
           referrer_of or (lambda m: friend.referred_by if friend and m == friend_id
                           else book.referred_by if m == book.member_id else None), record)
    # a refused activity changes nothing, not even time
    step = ActivityStep(record=record)
    lc.advance(book, at, step)
    lc.note(step, records)
    activity = lc.model.earning.activities[name]
    pts, friend_pts, rule = activity.points, activity.friend_bonus, f"earning.activities.{name}"
    if name == "referral":
        terms = policies.referral_terms(lc.program, book.member_id, book.attributes,
                                        book.tier, at, record)
        if terms is not None:
            pts, friend_pts, rule = terms.points, terms.friend_bonus, terms.rule
    lc.credit(book, [("bonus", rule, pts)], at, "activity", event_id, f"activity:{event_id}",
              step)
    lc.count_activity(book, name, at)
    step.points, step.rule = pts, rule
    if name == "referral" and friend is not None:
        friend_step = Step()
        lc.advance(friend, at, friend_step)
        lc.credit(friend, [("bonus", f"{rule}.friend_bonus", friend_pts)], at, "activity",
                  event_id, f"activity:{event_id}", friend_step)
        friend.referred_by = book.member_id
        book.referred.append(friend.member_id)
        step.friend_points, step.friend_step = friend_pts, friend_step
    return step
