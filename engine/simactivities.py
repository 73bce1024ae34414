"""Enrolments, activity events and referrals in a simulation (the events of
engine/replay.py that are not orders, refunds or redemptions).

Activities are credited from the ruleset's `earning.activities` within their limits per
period; the birthday bonus needs a birthday on record and its month (engine/policies.py,
as the store). A referral — an `activity` event `referral` with its `friend_id`, or an
`enroll` event with `referred_by` — pays the referrer the referral points and the friend
the friend bonus (a running `referral` campaign sets both, engine/policies.py), once per
friend and never in a circle. Those decisions follow the referral events alone, in file
order (`ReferralGraph`): every worker of a parallel run reads every referral line
(engine/history.py marks the other workers' lines `foreign`), so each keeps the same
graph, decides the same, and credits the side of the referral that is its own member.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from engine import calendar
from engine.history import Event
from engine.model import Ruleset
from engine.policies import ReferralTerms, birthday_refusal, referral_refusal, referral_terms
from engine.simstats import month_key

if TYPE_CHECKING:
    from engine.replay import Member, Replay


@dataclass(frozen=True)
class Referral:
    referrer: str
    friend: str | None
    terms: ReferralTerms | None  # None: refused
    refused: str | None = None   # why (a store problem code, or limit_reached / no_points)


class ReferralGraph:
    """Who referred whom in the history, and each referrer's referrals per limit period."""

    def __init__(self, model: Ruleset) -> None:
        self.model = model
        self.referrer_of: dict[str, str] = {}
        self.counts: dict[str, list[Any]] = {}  # referrer → [period key, referrals in it]

    def decide(self, referrer: str, friend: str | None, day: date) -> Referral:
        """Accept (and record) or refuse one referral, in the store's order of checks."""
        terms = referral_terms(self.model, day)
        activity = self.model.earning.activities.get("referral")
        if terms is None or activity is None or not terms.points:
            return Referral(referrer, friend, None, "no_points")
        refusal = referral_refusal(referrer, friend, self.referrer_of.get)
        if refusal is not None:
            return Referral(referrer, friend, None, refusal.code)
        assert friend is not None
        if activity.limit is not None:
            key = calendar.period_of(activity.limit.per, day)
            seen = self.counts.get(referrer)
            if seen is None or seen[0] != key:
                seen = self.counts[referrer] = [key, 0]
            if seen[1] >= activity.limit.count:
                return Referral(referrer, friend, None, "limit_reached")
            seen[1] += 1
        self.referrer_of[friend] = referrer
        return Referral(referrer, friend, terms)


class Activities:
    """The activity side of one Replay."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay
        self.graph = ReferralGraph(replay.program.model)

    def referral(self, ev: Event, ts: float, loc: datetime) -> Referral:
        """Decide a referral event (every worker does, for every such event) and credit
        the side of it that is not the event's own member, when that member is ours."""
        other: str | None
        if ev.type == "enroll":
            decided = self.graph.decide(ev.data["referred_by"], ev.member_id, loc.date())
            other = decided.referrer
        else:
            decided = self.graph.decide(ev.member_id, ev.data.get("friend_id"), loc.date())
            other = decided.friend
        terms = decided.terms
        if terms is not None and other is not None and self.replay.owns(other):
            points, rule = (terms.points, terms.rule) if other == decided.referrer \
                else (terms.friend_bonus, terms.friend_rule)
            self.credit_other(other, points, rule, ev, ts, loc)
        return decided

    def credit_other(self, member_id: str, points: int, rule: str, ev: Event, ts: float,
                     loc: datetime) -> None:
        """Credit the member on the other side of a referral (enrolled implicitly if new).
        Their own time line is theirs: the credit neither moves it nor is refused by it."""
        replay = self.replay
        mem = replay.members.get(member_id)
        if mem is None:
            mem = replay.new_member(member_id, {}, None, ts)
            replay.stats.members_implicit += 1
        elif ts >= mem.last_ts:
            replay.advance(mem, ts, loc.year)
        if points > 0:
            replay.credit(mem, points, ts, ev.at, month_key(loc))
            replay.stats.by_rule[rule] += points

    def enrolled(self, mem: Member, ev: Event, ts: float, loc: datetime,
                 referral: Referral | None) -> None:
        """A new member: the account-creation bonus, and the friend bonus when referred."""
        month = month_key(loc)
        self.points(mem, "account_creation", ev.at, ts, loc, month)
        if referral is not None:
            self.own_side(mem, referral, referral.terms.friend_bonus if referral.terms else 0,
                          referral.terms.friend_rule if referral.terms else "", ev, ts, month)

    def activity(self, mem: Member, ev: Event, ts: float, loc: datetime,
                 referral: Referral | None) -> None:
        month = month_key(loc)
        if referral is None:
            self.points(mem, ev.data["activity"], ev.at, ts, loc, month)
            return
        terms = referral.terms
        self.own_side(mem, referral, terms.points if terms else 0, terms.rule if terms else "",
                      ev, ts, month)

    def own_side(self, mem: Member, referral: Referral, points: int, rule: str, ev: Event,
                 ts: float, month: str) -> None:
        """The event's own member's side of a referral, and its count."""
        stats = self.replay.stats
        if referral.terms is None:
            stats.activities[f"referral:{referral.refused}"] += 1
            return
        stats.activities["referral"] += 1
        if points > 0:
            self.replay.credit(mem, points, ts, ev.at, month)
            stats.by_rule[rule] += points

    def points(self, mem: Member, name: str, at: datetime, ts: float, loc: datetime,
               month: str) -> int:
        """An activity other than a referral, within its limit (and, for the birthday
        bonus, with a birthday on record and in its month)."""
        stats = self.replay.stats
        act = self.replay.program.model.earning.activities.get(name)
        if act is None or not act.points:
            stats.activities[f"{name}:no_points"] += 1
            return 0
        seen = None
        if act.limit is not None:
            key = calendar.period_of(act.limit.per, loc.date())
            seen = mem.activities.get(name)
            if seen is None or seen[0] != key:
                seen = mem.activities[name] = [key, 0]
            if seen[1] >= act.limit.count:
                stats.activities[f"{name}:limit_reached"] += 1
                return 0
        if name == "birthday":
            refusal = birthday_refusal(mem.attributes.get("birthday"), loc.date())
            if refusal is not None:
                stats.activities[f"{name}:{refusal.code}"] += 1
                return 0
        if seen is not None:
            seen[1] += 1
        self.replay.credit(mem, act.points, ts, at, month)
        stats.by_rule[f"earning.activities.{name}"] += act.points
        stats.activities[name] += 1
        return act.points
