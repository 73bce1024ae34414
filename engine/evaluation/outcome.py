"""The typed outcome of one evaluation: what an order earns, what it uses up, what it
does to the member's tier and what may be redeemed.

The evaluation (engine/evaluation/evaluator.py, result.py) builds it; every reader takes
it as it is: the lifecycle core books it (engine/lifecycle/orders.py), the simulator
counts it (engine/simulation/tally.py), explain renders its trace from it
(engine/evaluation/explain.py), and the result JSON (docs/semantics.md) — what the API,
`loyalty evaluate` and the stored order rows show — is rendered from it only when asked
(engine/evaluation/render.py `result_json`). Money is Decimal, points are int;
nothing here is a string until it is rendered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from engine.evaluation.earn import ZERO, LineResult
from engine.evaluation.request import Request
from engine.program import Program

__all__ = [
    "ActivityBonus", "Assessment", "Bonus", "CampaignUse", "CapUse", "ChallengeSpend",
    "Earn", "Outcome", "Refusal", "TierAdvance", "Upgrade", "Usage",
]


@dataclass(slots=True)
class Refusal:
    """Why a redemption is refused: a machine-readable code, a message, the rule."""

    code: str
    message: str
    rule: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "rule": self.rule}


@dataclass(slots=True)
class Assessment:
    """What may be redeemed (points, or `quantity` of catalog reward `reward_id`), and
    why not. `offered` is false for a program without redemption."""

    eligible: bool
    max_points: int
    points: int
    value: Decimal
    max_value: Decimal = ZERO
    reward_id: str | None = None
    quantity: int | None = None
    reasons: list[Refusal] = field(default_factory=list)
    offered: bool = True


@dataclass(slots=True)
class Bonus:
    """Fixed points an order collects: a fixed-bonus or spend-threshold campaign (then
    `campaign` names it) or a custom rule's `bonus_points`."""

    rule: str
    points: int
    campaign: str | None = None


@dataclass(slots=True)
class Earn:
    """The order's points: per line (`LineResult.awarded`, rounded), per rule, bonuses,
    and the cashback in money."""

    points: int = 0
    lines: list[LineResult] = field(default_factory=list)
    bonuses: list[Bonus] = field(default_factory=list)
    by_rule: dict[str, int] = field(default_factory=dict)
    cashback: Decimal = ZERO

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, points: int = 0, lines: list[LineResult] | None = None,
                 bonuses: list[Bonus] | None = None, by_rule: dict[str, int] | None = None,
                 cashback: Decimal = ZERO) -> None:
        self.points = points
        self.lines = [] if lines is None else lines
        self.bonuses = [] if bonuses is None else bonuses
        self.by_rule = {} if by_rule is None else by_rule
        self.cashback = cashback

    @property
    def spend(self) -> Decimal:
        """The order's eligible spend (what counts towards tiers and challenges)."""
        return sum((r.eligible for r in self.lines), ZERO)


@dataclass(slots=True)
class CampaignUse:
    """A campaign the order used: the points it gave, and whether it advanced the tier
    (a tier challenge whose goal the order reached)."""

    id: str
    type: str
    points: int
    rule: str
    tier_advance: bool = False


@dataclass(slots=True)
class CodeUse:
    """A coupon code the request presents: its campaign (None: not a valid code) and its
    status — `applied` (its campaign applied to the order: a commit uses it),
    `not_applied` (valid, but its campaign did not apply), `unknown`, `used_up`."""

    code: str
    campaign: str | None
    status: str


@dataclass(slots=True)
class ActivityBonus:
    """An activity bonus that comes with the order (the first purchase)."""

    activity: str
    rule: str
    points: int

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, activity: str, rule: str, points: int) -> None:
        self.activity = activity
        self.rule = rule
        self.points = points


@dataclass(slots=True)
class TierAdvance:
    """A tier challenge met by this order moves the member one tier up."""

    rule: str
    campaign: str
    from_tier: str | None
    to: str


@dataclass(slots=True)
class Upgrade:
    """The member's tier after the order is above the one before: the upgrade bonus of
    every tier reached for the first time (`rules`, one per tier)."""

    from_tier: str | None
    to: str | None
    bonus_points: int
    rules: tuple[str, ...]
    rule: str


@dataclass(slots=True)
class CapUse:
    """Spend that earned a seasonal rotation's multiplier, in the cap's period."""

    rule: str
    period: str
    spend: Decimal


@dataclass(slots=True)
class ChallengeSpend:
    id: str
    spend: Decimal

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, id: str, spend: Decimal) -> None:
        self.id = id
        self.spend = spend


@dataclass(slots=True)
class Usage:
    """What the order uses up: cap spend (and the caps it hit), challenge spend.
    Campaign uses are `Outcome.campaigns`."""

    caps: list[CapUse] = field(default_factory=list)
    caps_hit: list[str] = field(default_factory=list)
    challenges: list[ChallengeSpend] = field(default_factory=list)

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, caps: list[CapUse] | None = None, caps_hit: list[str] | None = None,
                 challenges: list[ChallengeSpend] | None = None) -> None:
        self.caps = [] if caps is None else caps
        self.caps_hit = [] if caps_hit is None else caps_hit
        self.challenges = [] if challenges is None else challenges


@dataclass(slots=True)
class Outcome:
    """One evaluation's outcome (docs/semantics.md), typed. `tags`, `grants` and `denials` are
    what the custom rules that fired say; `trace` is set when explain was asked for;
    `redemption` is assessed when first read."""

    program: Program
    request: Request
    local: datetime  # the request's instant, program-local
    tier: str | None
    tier_after: str | None
    qualified: str | None  # the tier the qualifying totals earn (None: not asked)
    balance: int
    qualifying_spend: Decimal  # with this order's
    qualifying_orders: int
    earn: Earn
    campaigns: list[CampaignUse]
    activities: list[ActivityBonus]
    advances: list[TierAdvance]
    upgrade: Upgrade | None
    usage: Usage
    assess: Callable[[], Assessment]  # the redemption assessment, asked when first read
    denials: list[Refusal] = field(default_factory=list)
    tags: list[tuple[str, Any]] = field(default_factory=list)
    grants: list[tuple[str, Any]] = field(default_factory=list)
    subtotal: Decimal | None = None
    total: Decimal | None = None
    trace: list[dict[str, Any]] | None = None
    codes: list[CodeUse] = field(default_factory=list)
    _redemption: Assessment | None = None

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, program: Program, request: Request, local: datetime, tier: str | None,
                 tier_after: str | None, qualified: str | None, balance: int,
                 qualifying_spend: Decimal, qualifying_orders: int, earn: Earn,
                 campaigns: list[CampaignUse], activities: list[ActivityBonus],
                 advances: list[TierAdvance], upgrade: Upgrade | None, usage: Usage,
                 assess: Callable[[], Assessment], denials: list[Refusal] | None = None,
                 tags: list[tuple[str, Any]] | None = None,
                 grants: list[tuple[str, Any]] | None = None, subtotal: Decimal | None = None,
                 total: Decimal | None = None, trace: list[dict[str, Any]] | None = None,
                 codes: list[CodeUse] | None = None,
                 _redemption: Assessment | None = None) -> None:
        self.program = program
        self.request = request
        self.local = local
        self.tier = tier
        self.tier_after = tier_after
        self.qualified = qualified
        self.balance = balance
        self.qualifying_spend = qualifying_spend
        self.qualifying_orders = qualifying_orders
        self.earn = earn
        self.campaigns = campaigns
        self.activities = activities
        self.advances = advances
        self.upgrade = upgrade
        self.usage = usage
        self.assess = assess
        self.denials = [] if denials is None else denials
        self.tags = [] if tags is None else tags
        self.grants = [] if grants is None else grants
        self.subtotal = subtotal
        self.total = total
        self.trace = trace
        self.codes = [] if codes is None else codes
        self._redemption = _redemption

    @property
    def redemption(self) -> Assessment:
        """What may be redeemed with this request, and why not. Assessed (and its
        decision recorded) when first read: booking an order does not need it."""
        if self._redemption is None:
            self._redemption = self.assess()
        return self._redemption

    @property
    def advanced(self) -> bool:
        return bool(self.advances)

    @property
    def projected_balance(self) -> int:
        upgrade = self.upgrade.bonus_points if self.upgrade else 0
        return (self.balance + self.earn.points + upgrade
                + sum(a.points for a in self.activities))
