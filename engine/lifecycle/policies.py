"""Decisions of the points economy that the store and the simulator both take.

The store (store/checkout/refunds.py, orders.py, activities.py, redemptions.py) and the simulator
(engine/replay.py with engine/ledger.py's PointBook) keep members' points in books of
their own. What a refund takes back once points were spent, how a debt is repaid, when a
negative balance stops redemptions, which activity bonuses leave with a refunded order,
who may refer whom, when a birthday bonus is due and whether a refund is dated in time
are decided here, once, and both call these functions.

Who may refer whom and when a birthday bonus is due are asked of the rule engine: this
module computes the facts of referrals (`referral_facts`, with the walk up the
referrals) and birthdays (`birthday_facts`) — engine/rules/questions.py `activity_facts`
those of every activity — the compiled refusal rules (`activity_refusal_rules`) decide
which reasons hold, and `activity_refusal` reports the first with its message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.evaluation.record import Record
from engine.evaluation.redeem import negative_balance
from engine.language.model import Campaign, Limit, Redemption
from engine.program import Program
from engine.rules.facts import activity_fact
from engine.rules.questions import (
    ACTIVITY,
    BIRTHDAY_IS_DATE,
    BIRTHDAY_ON_RECORD,
    CLOSES_CIRCLE,
    FRIEND_IS_REFERRER,
    FRIEND_NAMED,
    FRIEND_REFERRED,
    IN_BIRTHDAY_MONTH,
    ActivityQuestions,
    activity_refusal_group,
)

CLAWBACK, FORFEIT_REMAINING = "clawback", "forfeit_remaining"
DEFAULT_REFUND_POLICY = FORFEIT_REMAINING  # engine/language/model.py fills it in when absent
# Activity bonuses that come with an order and leave with it once it is refunded in full.
REVERSED_WITH_ORDER = frozenset({"first_purchase"})
ZERO, ONE = Decimal(0), Decimal(1)


# --- refunds after redemption ------------------------------------------------------------

def refund_policy(redemption: Redemption | None) -> str:
    """The program's `redemption.refund_policy` (programs without redemption: the default)."""
    return redemption.refund_policy if redemption is not None else DEFAULT_REFUND_POLICY


def to_reverse(policy: str, owed: int, held: int, collectible: int) -> int:
    """Points a refund takes back now for one lot that owes `owed` points to the refunded
    share of its order, still holds `held` and has `collectible` points neither reversed
    yet nor lost to expiry (held, or spent on redemptions). `clawback`: all it owes but
    what expired (what the lot no longer holds is taken from the member's other points,
    then becomes debt; points that expired are gone either way, so expiry never makes a
    debt); `forfeit_remaining`: only what the lot still holds (never more than is
    collectible either)."""
    if owed <= 0:
        return 0
    return min(owed, max(collectible if policy == CLAWBACK else min(held, collectible), 0))


def repayment(debt: int, points: int) -> int:
    """Of `points` coming to a member who owes `debt`, the part that repays the debt:
    new and returned points repay it before anything else."""
    return min(max(debt, 0), max(points, 0))


def may_redeem(balance: int) -> bool:
    return negative_balance(balance) is None


def bonus_share(activity: str, order_share: Decimal) -> Decimal:
    """Share of an order's activity bonus (first purchase) that a refund of
    `order_share` of the order takes back: all of it once the whole order is refunded,
    nothing before. Upgrade bonuses are not activity bonuses and stay."""
    return ONE if activity in REVERSED_WITH_ORDER and order_share >= ONE else ZERO


def refund_before_order(placed_at: datetime, refunded_at: datetime) -> str | None:
    """Why a refund dated before its order is refused, or None."""
    if refunded_at >= placed_at:
        return None
    return (f"the refund is dated {refunded_at.isoformat()}, before its order was placed "
            f"({placed_at.isoformat()})")


# --- referrals ---------------------------------------------------------------------------

@dataclass(frozen=True)
class ReferralTerms:
    """What one referral pays: the referrer's points and the friend's bonus, by rule."""

    points: int
    friend_bonus: int
    rule: str

    @property
    def friend_rule(self) -> str:
        return f"{self.rule}.friend_bonus"


def referral_campaign(program: Program, member_id: str, attributes: Mapping[str, Any],
                      tier: str | None, at: datetime, record: Record | None = None
                      ) -> Campaign | None:
    """The `referral` campaign that sets the terms of a referral by `member_id` at `at`:
    the first one, in campaign order, whose compiled schedule and eligibility hold for
    the referrer then (the rule engine's `activity` decision: dates, days of the week,
    tiers, segments — an activity has no order, so a channel or minimum-order
    eligibility never holds). `record` keeps the decision (question `referral_campaigns`)."""
    group = program.questions.activity
    if not group.rules:
        return None
    fact = activity_fact(program, "referral", member_id, attributes, tier, at)
    fired = group.decide(fact)
    if record is not None:
        record.add("referral_campaigns", group, fact, fired)
    return next((c for c in program.model.campaigns if c.rule_id in fired), None)


def referral_terms(program: Program, member_id: str, attributes: Mapping[str, Any],
                   tier: str | None, at: datetime, record: Record | None = None
                   ) -> ReferralTerms | None:
    """The referral activity's points and friend bonus for a referral by `member_id`
    (holding `tier`, with `attributes`) at `at`: a referral campaign that applies
    (`referral_campaign`) replaces them, under its own rule id; None when the program
    has no `earning.activities.referral`."""
    activity = program.model.earning.activities.get("referral")
    if activity is None:
        return None
    campaign = referral_campaign(program, member_id, attributes, tier, at, record)
    if campaign is None:
        return ReferralTerms(activity.points, activity.friend_bonus, "earning.activities.referral")
    return ReferralTerms(campaign.points or activity.points,
                         campaign.friend_bonus or activity.friend_bonus, campaign.rule_id)


# --- activity refusals: who may refer whom, when a birthday bonus is due -----------------

@dataclass(frozen=True)
class Refusal:
    code: str
    message: str
    conflict: bool  # depends on what happened before (409), not on the request alone (422)
    rule: str = ""  # the compiled refusal rule reported (engine/rules/questions.py)


CONFLICTS = frozenset({"already_referred", "circular_referral"})


@dataclass(frozen=True)
class ActivityAsk:
    """One activity's refusal question: the fact its refusal rules are asked about
    (engine/rules/questions.py `activity_facts`, `referral_facts`, `birthday_facts`) and what their messages name."""

    name: str
    fact: dict[str, Any]
    program: str = ""
    referrer: str = ""
    friend: str | None = None
    first_referrer: str | None = None  # who referred the friend already
    birthday: Any = None
    limit: Limit | None = None


def closes_circle(referrer: str, friend: str, referrer_of: Callable[[str], str | None]) -> bool:
    """Whether `friend` is `referrer`'s referrer or further up that chain, however far
    (the walk up the referrals; the rule decides that it refuses)."""
    seen, up = {referrer}, referrer_of(referrer)
    while up is not None and up not in seen:
        if up == friend:
            return True
        seen.add(up)
        up = referrer_of(up)
    return False


def referral_facts(referrer: str, friend: str | None, referrer_of: Callable[[str], str | None]
                   ) -> tuple[dict[str, Any], str | None]:
    """The fields of a referral's refusal fact (flags: a friend named, the friend is the
    referrer, the friend has a referrer, the referral would close a circle), and who
    referred the friend already (None: nobody)."""
    if not friend:
        return {FRIEND_NAMED: 0}, None
    first = referrer_of(friend)
    return {FRIEND_NAMED: 1, FRIEND_IS_REFERRER: int(friend == referrer),
            FRIEND_REFERRED: int(first is not None),
            CLOSES_CIRCLE: int(closes_circle(referrer, friend, referrer_of))}, first


def birthday_facts(birthday: Any, local_day: date) -> dict[str, Any]:
    """The fields of a birthday bonus's refusal fact on program-local `local_day`: a
    birthday on record (`birthday` attribute), a date (YYYY-MM-DD), in its month (1/0)."""
    if birthday is None or birthday == "":
        return {BIRTHDAY_ON_RECORD: 0}
    try:
        month = date.fromisoformat(str(birthday)).month
    except ValueError:
        return {BIRTHDAY_ON_RECORD: 1, BIRTHDAY_IS_DATE: 0}
    return {BIRTHDAY_ON_RECORD: 1, BIRTHDAY_IS_DATE: 1,
            IN_BIRTHDAY_MONTH: int(month == local_day.month)}


def _limit_message(ask: ActivityAsk) -> str:
    count, per = (ask.limit.count, ask.limit.per) if ask.limit else (0, "lifetime")
    return f"{ask.name} is limited to {count} per {per}; the member has reached it"


_MESSAGES: dict[str, Callable[[ActivityAsk], str]] = {  # by rule id, or by code
    "earning.activities.referral.friend":
        lambda a: "a referral names the referred friend (friend_id)",
    "earning.activities.referral.self": lambda a: "a member cannot refer themselves",
    "earning.activities.referral.once":
        lambda a: f"member {a.friend!r} was already referred (by {a.first_referrer!r}); a "
                  "friend is referred, and earns the friend bonus, once per program",
    "earning.activities.referral.circle":
        lambda a: f"member {a.friend!r} referred {a.referrer!r} (directly or through members "
                  "they referred); referrals may not go in a circle",
    "earning.activities.with_order":
        lambda a: f"activity {a.name!r} comes with the member's first committed order",
    "earning.activities.offered": lambda a: f"activity {a.name!r} is not offered by {a.program}",
    "earning.activities.first_purchase.first_order":
        lambda a: "the first-purchase bonus comes with the member's first order only",
    "earning.activities.birthday.on_record":
        lambda a: "the birthday bonus needs the member's birthday on record (attribute "
                  "`birthday`, YYYY-MM-DD)",
    "earning.activities.birthday.date":
        lambda a: f"the member's birthday {a.birthday!r} is not a date (YYYY-MM-DD)",
    "earning.activities.birthday.month":
        lambda a: "the birthday bonus is given in the member's birthday month",
    "activity_limit_reached": _limit_message,
}


def activity_refusal(questions: ActivityQuestions, ask: ActivityAsk,
                     record: Record | None = None) -> Refusal | None:
    """Why the activity of `ask` is refused, or None: the rule engine decides which
    refusal rules hold for `ask.fact` (engine/rules/questions.py
    `activity_refusal_rules`), and the first in their order is reported; `record` keeps
    that decision (question `activity_refusals`)."""
    fired = questions.group.decide(ask.fact)
    if record is not None:
        record.add("activity_refusals", questions.group, ask.fact, fired)
    reason = questions.first(fired)
    if reason is None:
        return None
    message = _MESSAGES.get(reason.id) or _MESSAGES[reason.code]
    return Refusal(reason.code, message(ask), reason.code in CONFLICTS, reason.id)


def referral_refusal(referrer: str, friend: str | None,
                     referrer_of: Callable[[str], str | None]) -> Refusal | None:
    """Why `referrer` may not refer `friend`, or None. A friend is referred once per
    program (so earns the friend bonus once, and a referrer earns once per friend), and
    referrals never go in a circle (A refers B, then B — or anyone B referred, however
    far down — refers A). `referrer_of(member)` answers who referred a member. Decided
    by the referral's refusal rules (`activity_refusal`)."""
    facts, first = referral_facts(referrer, friend, referrer_of)
    ask = ActivityAsk("referral", {ACTIVITY: "referral", **facts}, referrer=referrer,
                      friend=friend, first_referrer=first)
    return activity_refusal(activity_refusal_group(()), ask)
