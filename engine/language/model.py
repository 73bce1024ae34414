"""Typed, immutable form of a validated ruleset: one frozen dataclass per section.

`engine/language/build.py` builds it from the loader's plain data (validation has
already checked shapes and references). Nothing here decides anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from engine.calendar import period_of


class Frozen:
    """The base of the model's frozen dataclasses: a copy or a pickle is made through the
    constructor. (mypyc compiles this module; a compiled frozen dataclass refuses the
    assignments that pickle's default way of restoring an object makes.)"""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        own: Any = self  # a dataclass: every subclass is one
        return type(self), tuple(getattr(self, f.name) for f in fields(own) if f.init)


@dataclass(frozen=True)
class Limit(Frozen):
    count: int
    per: str  # day | week | month | quarter | year | lifetime


@dataclass(frozen=True)
class Tier(Frozen):
    id: str
    name: str
    index: int
    min_spend: Decimal
    min_orders: int
    multiplier: Decimal
    free_shipping_threshold: Decimal | None
    birthday_discount_percent: Decimal | None
    flags: Mapping[str, bool]
    upgrade_bonus: int


@dataclass(frozen=True)
class Tiers(Frozen):
    window: str
    downgrade_policy: str
    levels: tuple[Tier, ...]
    _by_id: Mapping[str | None, Tier] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {tier.id: tier for tier in self.levels})

    def get(self, tier_id: str | None) -> Tier | None:
        return self._by_id.get(tier_id)


@dataclass(frozen=True)
class Activity(Frozen):
    name: str
    points: int
    friend_bonus: int
    limit: Limit | None


@dataclass(frozen=True)
class Cashback(Frozen):
    percent: Decimal
    categories: Mapping[str, Decimal]
    tiers: Mapping[str, Decimal]
    max_per_order: Decimal | None


@dataclass(frozen=True)
class Earning(Frozen):
    base_rate: Decimal
    categories: Mapping[str, Decimal]
    excluded_categories: frozenset[str]
    exclude_shipping: bool
    exclude_tax: bool
    activities: Mapping[str, Activity]
    cashback: Cashback | None


@dataclass(frozen=True)
class Rotation(Frozen):
    id: str
    start: date
    end: date
    categories: frozenset[str]
    multiplier: Decimal
    cap_spend: Decimal | None
    cap_period: str  # rotation | month | quarter

    rule_id: str = field(init=False, repr=False, compare=False)  # its rules' prefix

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule_id", f"seasonal_categories.{self.id}")

    def cap_key(self, day: date) -> str:
        """The key of the cap period containing program-local `day`: the rotation itself,
        or the calendar month or quarter."""
        return self.id if self.cap_period == "rotation" else period_of(self.cap_period, day)


@dataclass(frozen=True)
class Monthly(Frozen):
    nth: int
    weekday: int  # 0 = Monday
    days: int


@dataclass(frozen=True)
class Schedule(Frozen):
    start: date | None = None
    end: date | None = None
    days_of_week: frozenset[int] | None = None
    monthly: Monthly | None = None


@dataclass(frozen=True)
class Eligibility(Frozen):
    tiers: frozenset[str] | None = None
    segments: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    min_order: Decimal | None = None


@dataclass(frozen=True)
class Campaign(Frozen):
    id: str
    name: str
    type: str
    multiplier: Decimal | None
    categories: frozenset[str] | None
    points: int
    threshold: Decimal | None
    friend_bonus: int
    target_spend: Decimal | None
    window_days: int | None
    schedule: Schedule
    eligibility: Eligibility
    stacking: str
    limit_per_member: int | None
    max_points: int | None
    budget_points: int | None
    priority: int
    participation: str = "open"  # open | opt_in (only enrolled members take part)
    requires_code: bool = False  # applies only to orders presenting one of its codes

    rule_id: str = field(init=False, repr=False, compare=False)  # its rules' prefix

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule_id", f"campaigns.{self.id}")


@dataclass(frozen=True)
class Reward(Frozen):
    id: str
    name: str
    type: str
    points: int
    value: Decimal | None
    stock: int | None
    min_order: Decimal | None
    valid_days: int | None
    tiers: frozenset[str] | None
    availability: str | None
    fulfilment: str

    rule_id: str = field(init=False, repr=False, compare=False)  # its rules' prefix

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule_id", f"redemption.catalog.{self.id}")


@dataclass(frozen=True)
class AutoRedemption(Frozen):
    threshold: int
    unit: int
    methods: tuple[str, ...]
    frequency: Limit | None


@dataclass(frozen=True)
class PointsAccount(Frozen):
    """Where balances live: `internal` (the platform's ledger) or `external` (a points
    API named `service`; the account id is the member attribute `account_attribute`,
    or the member id)."""

    type: str
    service: str | None = None
    account_attribute: str | None = None

    @property
    def external(self) -> bool:
        return self.type == "external"


@dataclass(frozen=True)
class Redemption(Frozen):
    rate_points: int
    rate_value: Decimal
    min_points: int
    max_order_fraction: Decimal | None
    expiry_months: int | None
    automatic: AutoRedemption | None
    catalog: tuple[Reward, ...]
    account: PointsAccount = PointsAccount("internal")
    refund_policy: str = "forfeit_remaining"  # clawback | forfeit_remaining

    point_value: Decimal = field(init=False, repr=False, compare=False)  # of one point

    def __post_init__(self) -> None:
        object.__setattr__(self, "point_value", self.rate_value / self.rate_points)

    def reward(self, reward_id: str) -> Reward | None:
        for reward in self.catalog:
            if reward.id == reward_id:
                return reward
        return None


@dataclass(frozen=True)
class Effect(Frozen):
    kind: str  # bonus_points | multiplier | deny_redemption | grant_reward | tag
    value: Any


@dataclass(frozen=True)
class CustomRule(Frozen):
    id: str
    description: str
    when: Mapping[str, Any]
    then: tuple[Effect, ...]
    line_level: bool

    rule_id: str = field(init=False, repr=False, compare=False)  # its rules' prefix

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule_id", f"rules.{self.id}")


# ---------------------------------------------------------------- engagement

@dataclass(frozen=True)
class MilestoneReward(Frozen):
    """What reaching a milestone gives: points (a `bonus` ledger entry), a badge kept on
    the member's book, or a catalog reward (its id); exactly one is set."""

    points: int | None = None
    badge: str | None = None
    reward_id: str | None = None


@dataclass(frozen=True)
class Milestone(Frozen):
    """A goal each member reaches once. `measure` is what is counted: `orders` (orders
    placed), `spend` (lifetime qualifying spend), `points` (points ever earned),
    `streak_months` (an order in each of that many consecutive program-local months) or
    `first_in_category` (a first order with a line in `category`); `target` is the count
    or amount to reach (1 for a first in a category)."""

    id: str
    name: str
    measure: str  # orders | spend | points | streak_months | first_in_category
    target: Decimal
    reward: MilestoneReward
    category: str | None = None

    rule_id: str = field(init=False, repr=False, compare=False)  # its rules' prefix

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule_id", f"engagement.milestones.{self.id}")


@dataclass(frozen=True)
class Alerts(Frozen):
    """Proactive alerts; None: not raised. `expiring_days`: points expiring within that
    many days (once per batch of lots expiring the same day); `tier_spend` / `tier_orders`:
    at most this much spend or these many orders short of the next tier;
    `reward_affordable`: the balance now covers a catalog reward it did not cover before;
    `campaign_days`: a campaign the member is eligible for starts within that many days."""

    expiring_days: int | None = None
    tier_spend: Decimal | None = None
    tier_orders: int | None = None
    reward_affordable: bool = False
    campaign_days: int | None = None


@dataclass(frozen=True)
class Template(Frozen):
    """One locale's message: a subject (email), a text body and an optional HTML body."""

    subject: str | None
    text: str
    html: str | None = None


@dataclass(frozen=True)
class Notification(Frozen):
    """Which event type produces a message, on which channels, of which kind
    (`transactional`: always sent; `marketing`: not to members who opted out), with a
    template per locale."""

    id: str
    event: str
    channels: tuple[str, ...]  # email | webhook
    kind: str  # transactional | marketing
    templates: Mapping[str, Template]
    # payload fields the event must have these values in (e.g. direction: up); none: any
    match: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QuietHours(Frozen):
    """Program-local hours when nothing is sent (a message waits until `end`); `start`
    after `end` spans midnight."""

    start: str  # "HH:MM"
    end: str


@dataclass(frozen=True)
class FrequencyCap(Frozen):
    """At most `count` messages to a member per `per` (day | week | month), counting the
    messages of kind `applies_to` (`marketing`, or `all`); beyond it they are suppressed."""

    count: int
    per: str
    applies_to: str = "marketing"


@dataclass(frozen=True)
class Engagement(Frozen):
    milestones: tuple[Milestone, ...] = ()
    alerts: Alerts = field(default_factory=Alerts)
    notifications: tuple[Notification, ...] = ()
    fallback_locale: str = "en"
    quiet_hours: QuietHours | None = None
    frequency_cap: FrequencyCap | None = None

    def milestone(self, milestone_id: str) -> Milestone | None:
        return next((m for m in self.milestones if m.id == milestone_id), None)


@dataclass(frozen=True)
class Ruleset(Frozen):
    program: str
    version: int
    name: str
    effective_from: datetime | None
    timezone: str
    currency: str
    rounding: str
    rounding_scope: str
    tiers: Tiers | None
    earning: Earning
    rotations: tuple[Rotation, ...]
    campaigns: tuple[Campaign, ...]
    redemption: Redemption | None
    rules: tuple[CustomRule, ...]
    approvals_required: int = 0  # approvals a version needs before activation (four eyes)
    # declared earning bounds: quantity (max_points_per_unit, …) → its limit (engine.verify)
    invariants: Mapping[str, Decimal] = field(default_factory=dict)
    engagement: Engagement = field(default_factory=Engagement)
    data: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

