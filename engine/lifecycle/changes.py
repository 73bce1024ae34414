"""What a lifecycle step changed, as typed values.

The core returns these next to the new book; the store appends them to its journals
(ledger entries, lot allocations, shared counters) in the same transaction, the
simulator adds them up for its report. Neither decides anything from them: every
decision was taken by the core.

They are values: nothing changes one after it is made. The classes are not frozen only
because a frozen dataclass's constructor costs three times as much, and the simulator
makes a few of these for every event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(slots=True)
class Draw:
    """Points taken from (or, for a restore, given back to) one lot. `lot` 0 is the
    member's debt: a clawback that found no lot to take from."""

    lot: int
    points: int
    expires_at: datetime | None
    earned_at: datetime
    source: str


@dataclass(slots=True)
class Entry:
    """One line of the member's points ledger. Credits (`earn`, `bonus`, `adjust` > 0)
    name the lot they filled; debits (`redeem`, `expire`, `reverse` < 0) list the lots
    they drew from; a `reverse` > 0 gives points back to the lots in `draws`."""

    kind: str  # earn bonus redeem expire reverse adjust
    points: int
    rule: str | None
    source_type: str  # order refund activity redemption expiry tier admin
    source_ref: str
    at: datetime
    lot: int | None = None
    expires_at: datetime | None = None
    draws: tuple[Draw, ...] = ()

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, kind: str, points: int, rule: str | None, source_type: str,
                 source_ref: str, at: datetime, lot: int | None = None,
                 expires_at: datetime | None = None, draws: tuple[Draw, ...] = ()) -> None:
        self.kind = kind
        self.points = points
        self.rule = rule
        self.source_type = source_type
        self.source_ref = source_ref
        self.at = at
        self.lot = lot
        self.expires_at = expires_at
        self.draws = draws


@dataclass(slots=True)
class TierChange:
    before: str | None
    after: str | None
    at: datetime
    cause: str  # order refund challenge time enroll

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, before: str | None, after: str | None, at: datetime,
                 cause: str) -> None:
        self.before = before
        self.after = after
        self.at = at
        self.cause = cause


@dataclass(slots=True)
class BudgetMove:
    """Points a campaign's shared budget gains (positive) or gets back (negative)."""

    campaign: str
    points: int


@dataclass(slots=True)
class StockMove:
    """Units of a stocked reward issued (positive) or put back (negative)."""

    reward: str
    quantity: int


@dataclass(slots=True)
class CodeMove:
    """A use of a coupon code taken by an order (+1) or given back by its full refund
    (−1). The caller holds the codes: taking a use fails when none is left."""

    code: str
    campaign: str
    uses: int


@dataclass(slots=True)
class CashbackMove:
    """Money owed to the member: issued by an order (positive) or reversed by its refund
    (negative), as the core decided it; the store keeps one cashback entry per move."""

    amount: Decimal  # issued (positive) or reversed (negative)
    source_type: str = "order"  # order refund
    source_ref: str = ""  # the order id, or the refund's reference
    at: datetime | None = None


@dataclass(slots=True)
class MilestoneReached:
    """A milestone of the ruleset's `engagement:` section the member reached (once):
    its reward (points — credited by an `Entry` of kind `bonus`, source_type `milestone`
    right after it —, a badge or a catalog reward), the order that reached it, and the
    trace: the rule that fired and the counts it was decided on. A catalog reward is
    given as a redemption of 0 points (kind `gift`, with a `StockMove` after this change
    when the reward is stocked): `gift` says `issued`, or `out_of_stock` when no unit was
    left (the milestone is reached all the same); None without a catalog reward."""

    milestone: str
    name: str
    at: datetime
    points: int | None
    badge: str | None
    reward_id: str | None
    source_ref: str  # the order that reached it
    rule: str  # engagement.milestones.<id>
    facts: tuple[tuple[str, Any], ...]  # the fact fields the rule read, with their values
    gift: str | None = None  # issued | out_of_stock, for a catalog reward


@dataclass(slots=True)
class AlertRaised:
    """A proactive alert (an event type of the catalog marked alert: points.expiring,
    tier.within_reach, reward.affordable, campaign.starting) and its payload, JSON-ready
    as the catalog lists it. Raised once per occasion (`key`, kept in the book)."""

    type: str
    at: datetime
    key: str
    payload: dict[str, Any]

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, type: str, at: datetime, key: str, payload: dict[str, Any]) -> None:
        self.type = type
        self.at = at
        self.key = key
        self.payload = payload


Change = (Entry | TierChange | BudgetMove | StockMove | CashbackMove | CodeMove
          | MilestoneReached | AlertRaised)
