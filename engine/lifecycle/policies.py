"""Decisions of the points economy that the store and the simulator both take.

The store (store/checkout/refunds.py, orders.py, activities.py, redemptions.py) and the simulator
(engine/replay.py with engine/ledger.py's PointBook) keep members' points in books of
their own. What a refund takes back once points were spent, how a debt is repaid, when a
negative balance stops redemptions, which activity bonuses leave with a refunded order,
who may refer whom, when a birthday bonus is due and whether a refund is dated in time
are decided here, once, and both call these functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.evaluation.redeem import negative_balance
from engine.language.model import Campaign, Redemption
from engine.program import Program
from engine.rules.facts import activity_fact

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
                      tier: str | None, at: datetime) -> Campaign | None:
    """The `referral` campaign that sets the terms of a referral by `member_id` at `at`:
    the first one, in campaign order, whose compiled schedule and eligibility hold for
    the referrer then (the rule engine's `activity` decision: dates, days of the week,
    tiers, segments — an activity has no order, so a channel or minimum-order
    eligibility never holds)."""
    group = program.questions.activity
    if not group.rules:
        return None
    fired = group.decide(activity_fact(program, "referral", member_id, attributes, tier, at))
    return next((c for c in program.model.campaigns if c.rule_id in fired), None)


def referral_terms(program: Program, member_id: str, attributes: Mapping[str, Any],
                   tier: str | None, at: datetime) -> ReferralTerms | None:
    """The referral activity's points and friend bonus for a referral by `member_id`
    (holding `tier`, with `attributes`) at `at`: a referral campaign that applies
    (`referral_campaign`) replaces them, under its own rule id; None when the program
    has no `earning.activities.referral`."""
    activity = program.model.earning.activities.get("referral")
    if activity is None:
        return None
    campaign = referral_campaign(program, member_id, attributes, tier, at)
    if campaign is None:
        return ReferralTerms(activity.points, activity.friend_bonus, "earning.activities.referral")
    return ReferralTerms(campaign.points or activity.points,
                         campaign.friend_bonus or activity.friend_bonus, campaign.rule_id)


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str
    conflict: bool  # depends on what happened before (409), not on the request alone (422)


def referral_refusal(referrer: str, friend: str | None,
                     referrer_of: Callable[[str], str | None]) -> Refusal | None:
    """Why `referrer` may not refer `friend`, or None. A friend is referred once per
    program (so earns the friend bonus once, and a referrer earns once per friend), and
    referrals never go in a circle (A refers B, then B — or anyone B referred, however
    far down — refers A). `referrer_of(member)` answers who referred a member."""
    if not friend:
        return Refusal("friend_required", "a referral names the referred friend (friend_id)",
                       False)
    if friend == referrer:
        return Refusal("self_referral", "a member cannot refer themselves", False)
    first = referrer_of(friend)
    if first is not None:
        return Refusal("already_referred", f"member {friend!r} was already referred (by "
                       f"{first!r}); a friend is referred, and earns the friend bonus, once "
                       "per program", True)
    seen, up = {referrer}, referrer_of(referrer)
    while up is not None and up not in seen:
        if up == friend:
            return Refusal("circular_referral", f"member {friend!r} referred {referrer!r} "
                           "(directly or through members they referred); referrals may not "
                           "go in a circle", True)
        seen.add(up)
        up = referrer_of(up)
    return None


# --- birthdays ---------------------------------------------------------------------------

def birthday_refusal(birthday: Any, local_day: date) -> Refusal | None:
    """Why no birthday bonus is due on program-local `local_day`, or None: it needs a
    birthday on record (`birthday` attribute, YYYY-MM-DD) and is given in its month."""
    if birthday is None or birthday == "":
        return Refusal("birthday_unknown", "the birthday bonus needs the member's birthday "
                       "on record (attribute `birthday`, YYYY-MM-DD)", False)
    try:
        month = date.fromisoformat(str(birthday)).month
    except ValueError:
        return Refusal("birthday_unknown", f"the member's birthday {birthday!r} is not a "
                       "date (YYYY-MM-DD)", False)
    if month != local_day.month:
        return Refusal("not_birthday_month", "the birthday bonus is given in the member's "
                       "birthday month", False)
    return None
