"""What the evaluator needs to know about a member beyond the request.

In server mode the store builds it from the ledger and usage counters; the simulator
keeps one per member in memory; a stateless CLI request may carry it as `member.state`.
Everything optional has a neutral default, so a bare request still evaluates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(slots=True)
class MemberState:
    tier: str | None = None
    balance: int = 0
    # Lifetime committed orders; None = unknown (then no first-purchase bonus is given).
    orders_count: int | None = None
    # Spend and orders inside the tier qualification window containing the order;
    # None = unknown (then no tier upgrade is predicted from qualification).
    qualifying_spend: Decimal | None = None
    qualifying_orders: int | None = None
    cap_usage: dict[str, Decimal] = field(default_factory=dict)
    campaign_usage: dict[str, int] = field(default_factory=dict)
    campaign_budget_used: dict[str, int] = field(default_factory=dict)
    challenge_spend: dict[str, Decimal] = field(default_factory=dict)
    reward_stock: dict[str, int] = field(default_factory=dict)
    activity_counts: dict[str, int] = field(default_factory=dict)
    # Tiers whose upgrade bonus the member has already received (each is paid once).
    awarded_upgrades: frozenset[str] = frozenset()
    tier_since: datetime | None = None
    # Opt-in campaigns the member is enrolled in.
    enrolments: frozenset[str] = frozenset()
    # Coupon codes found valid (uses left) for this request: code → its campaign; and
    # the others the request presents: code → why not ("unknown", "used_up").
    codes: dict[str, str] = field(default_factory=dict)
    refused_codes: dict[str, str] = field(default_factory=dict)

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, tier: str | None = None, balance: int = 0,
                 orders_count: int | None = None, qualifying_spend: Decimal | None = None,
                 qualifying_orders: int | None = None,
                 cap_usage: dict[str, Decimal] | None = None,
                 campaign_usage: dict[str, int] | None = None,
                 campaign_budget_used: dict[str, int] | None = None,
                 challenge_spend: dict[str, Decimal] | None = None,
                 reward_stock: dict[str, int] | None = None,
                 activity_counts: dict[str, int] | None = None,
                 awarded_upgrades: frozenset[str] = frozenset(),
                 tier_since: datetime | None = None, enrolments: frozenset[str] = frozenset(),
                 codes: dict[str, str] | None = None,
                 refused_codes: dict[str, str] | None = None) -> None:
        self.tier = tier
        self.balance = balance
        self.orders_count = orders_count
        self.qualifying_spend = qualifying_spend
        self.qualifying_orders = qualifying_orders
        self.cap_usage = {} if cap_usage is None else cap_usage
        self.campaign_usage = {} if campaign_usage is None else campaign_usage
        self.campaign_budget_used = {} if campaign_budget_used is None else campaign_budget_used
        self.challenge_spend = {} if challenge_spend is None else challenge_spend
        self.reward_stock = {} if reward_stock is None else reward_stock
        self.activity_counts = {} if activity_counts is None else activity_counts
        self.awarded_upgrades = awarded_upgrades
        self.tier_since = tier_since
        self.enrolments = enrolments
        self.codes = {} if codes is None else codes
        self.refused_codes = {} if refused_codes is None else refused_codes

    def code_campaigns(self, presented: tuple[str, ...]) -> frozenset[str]:
        """The campaigns whose valid codes are among `presented`."""
        codes = self.codes
        return frozenset(codes[c] for c in presented if c in codes) if codes else frozenset()


def _decimal(value: Any) -> Decimal:
    return value if type(value) is Decimal else Decimal(str(value))


def _decimals(data: Mapping[str, Any] | None) -> dict[str, Decimal]:
    return {str(k): _decimal(v) for k, v in data.items()} if data else {}


def _ints(data: Mapping[str, Any] | None) -> dict[str, int]:
    return {str(k): int(v) for k, v in data.items()} if data else {}


def from_request(member: Mapping[str, Any]) -> MemberState:
    """State of a stateless request: `member.tier`, `member.points_balance`, `member.state`."""
    raw = member.get("state")
    if not raw:  # the common stateless request: nothing to convert
        return MemberState(tier=member.get("tier"),
                           balance=int(member.get("points_balance") or 0))
    qualifying = raw.get("qualifying") or {}
    return MemberState(
        tier=member.get("tier"),
        balance=int(member.get("points_balance") or 0),
        orders_count=raw.get("orders_count"),
        qualifying_spend=_decimal(qualifying["spend"]) if "spend" in qualifying else None,
        qualifying_orders=qualifying.get("orders"),
        cap_usage=_decimals(raw.get("cap_usage")),
        campaign_usage=_ints(raw.get("campaign_usage")),
        campaign_budget_used=_ints(raw.get("campaign_budget_used")),
        challenge_spend=_decimals(raw.get("challenge_spend")),
        reward_stock=_ints(raw.get("reward_stock")),
        activity_counts=_ints(raw.get("activity_counts")),
        awarded_upgrades=frozenset(raw.get("awarded_upgrades") or ()),
        enrolments=frozenset(raw.get("enrolments") or ()),
        codes={str(k).upper(): str(v) for k, v in (raw.get("codes") or {}).items()},
    )
