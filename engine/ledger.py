"""An in-memory member book for simulations: point lots, orders, tier qualification.

Points are kept as FIFO lots (expiry time, points left), one per crediting event, in the
order they were earned (so the oldest lot is also the first to expire). Redemptions
consume the oldest lots first; expiry removes lots whose time has come. A refund takes
back the refunded share of the order's points from that order's own lots as far as they
hold it; under `refund_policy: clawback` the rest (what was redeemed, not what expired)
comes from the member's other lots, oldest first, and what they cannot cover becomes a
`debt` that later credits repay first — as in the store (store/debt.py; the decisions
are engine/policies.py's). The book therefore always satisfies

    issued - reversed - redeemed - expired == balance == points left in lots - debt

and a member with a debt has no points left in any lot (so expiry never deepens it).

Tier qualification follows the ruleset's window and downgrade policy; see `TierTrack`.
Timestamps are POSIX seconds (floats): comparisons in the hot path stay cheap.
"""

from __future__ import annotations

from array import array
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from engine.policies import repayment

INF = float("inf")
ZERO = Decimal(0)


class PointBook:
    """Lots, balance and the four counters of one member's points.

    Lots live in two flat arrays (expiry time, points left) from `head` on, 16 bytes a
    lot; a lot is named by its absolute index (`base + position`), which stays valid
    when consumed lots are cut off the front."""

    __slots__ = (
        "balance",
        "base",
        "debt",
        "expired",
        "expires",
        "head",
        "issued",
        "left",
        "redeemed",
        "reversed",
    )

    def __init__(self) -> None:
        self.expires, self.left = array("d"), array("q")
        self.head = self.base = 0
        self.balance = self.debt = 0
        self.issued = self.reversed = self.redeemed = self.expired = 0

    @property
    def next_expiry(self) -> float:
        return self.expires[self.head] if self.head < len(self.expires) else INF

    def lots(self) -> list[tuple[float, int]]:
        """(expires_ts, points left) of the lots still held, oldest first."""
        return [(e, n) for e, n in zip(self.expires[self.head:], self.left[self.head:]) if n]

    def credit(self, points: int, expires_ts: float | None) -> int | None:
        """Add earned points as a new lot (what repays a debt is taken from it at once);
        returns its id (None when nothing was earned)."""
        if points <= 0:
            return None
        self.issued += points
        self.balance += points
        repaid = repayment(self.debt, points)
        self.debt -= repaid
        self.expires.append(INF if expires_ts is None else expires_ts)
        self.left.append(points - repaid)
        return self.base + len(self.left) - 1

    def held(self, lot: int | None) -> int:
        """Points still left in lot `lot`."""
        if lot is None or lot - self.base < self.head:
            return 0
        return self.left[lot - self.base]

    def _trim(self) -> None:
        left, head = self.left, self.head
        while head < len(left) and not left[head]:
            head += 1
        if head > 32 and head * 2 > len(left):
            del self.expires[:head], self.left[:head]
            self.base += head
            head = 0
        self.head = head

    def expire_until(self, ts: float) -> list[tuple[int, float, int]]:
        """Expire every lot whose time is at or before `ts`; returns (lot, when, points)."""
        out = []
        expires, left = self.expires, self.left
        head = self.head
        while head < len(left) and expires[head] <= ts:
            points = left[head]
            if points:
                out.append((self.base + head, expires[head], points))
                self.expired += points
                self.balance -= points
                left[head] = 0
            head += 1
        self.head = head
        self._trim()
        return out

    def _draw(self, points: int) -> int:
        """Take up to `points` from the oldest lots; returns what they could not cover."""
        left, i = self.left, self.head
        while points and i < len(left):
            take = min(left[i], points)
            left[i] -= take
            points -= take
            i += 1
        return points

    def redeem(self, points: int) -> int:
        """Consume `points` from the oldest lots (caller checked the balance)."""
        assert 0 < points <= self.balance, "redemption larger than the balance"
        self.redeemed += points
        self.balance -= points
        self._draw(points)
        self._trim()
        return points

    def take_back(self, claims: list[tuple[int, int | None]]) -> int:
        """A refund takes back each (points, own lot): from the order's own lot as far as it
        holds, then the rest from the other lots, oldest first, and what they cannot cover
        becomes debt. (The caller decides the points: engine/policies.to_reverse.)
        Returns the points taken back."""
        rest = total = 0
        for points, lot in claims:
            if points <= 0:
                continue
            take = min(self.held(lot), points)
            if take:
                self.left[lot - self.base] -= take  # type: ignore[operator]
            rest += points - take
            total += points
        self.debt += self._draw(rest)
        self.reversed += total
        self.balance -= total
        self._trim()
        return total


@dataclass(frozen=True)
class TierRules:
    """What tier tracking needs from the ruleset, in plain values."""

    ids: tuple[str, ...]
    thresholds: tuple[tuple[Decimal, int], ...]  # (min_spend, min_orders) per tier
    window: str  # calendar_year | rolling_12_months | lifetime
    policy: str  # never | end_of_window | end_of_next_window
    tz: ZoneInfo

    @classmethod
    def from_model(cls, tiers: Any, tz: ZoneInfo) -> TierRules | None:
        if tiers is None or not tiers.levels:
            return None
        return cls(tuple(t.id for t in tiers.levels),
                   tuple((t.min_spend, t.min_orders) for t in tiers.levels),
                   tiers.window, tiers.downgrade_policy, tz)

    def qualify(self, spend: Decimal, orders: int) -> int:
        best = 0
        for index, (min_spend, min_orders) in enumerate(self.thresholds):
            if spend >= min_spend and orders >= min_orders:
                best = index
        return best

    def year_start_ts(self, year: int) -> float:
        return datetime(year, 1, 1, tzinfo=self.tz).timestamp()


YEAR = 365.2425 * 86400


class TierTrack:
    """Qualification of one member.

    calendar_year: spend and orders count inside the local calendar year; at a new year
    they restart. `end_of_window` keeps a tier to the end of the year that earned it,
    `end_of_next_window` to the end of the following year, `never` forever.
    rolling_12_months: spend and orders of the trailing 12 months; a member keeps the best
    tier held at any of their orders of the last 12 months (the window rolls, so both
    downgrade policies end a tier 12 months after the last order that held it).
    lifetime: nothing restarts. A tier granted by the engine beyond qualification (a tier
    challenge) counts as qualified for in the window it was granted.
    """

    __slots__ = ("best", "entries", "granted", "orders", "prev", "rules", "spend", "window_id")

    def __init__(self, rules: TierRules, start_index: int = 0) -> None:
        self.rules = rules
        self.window_id: int | None = None
        self.spend, self.orders = ZERO, 0
        self.granted = start_index  # best tier given outside qualification, this window
        self.prev = 0  # tier qualified for in the previous calendar window
        self.best = start_index
        self.entries: deque[list[Any]] = deque()  # rolling: [ts, spend, orders, tier after]

    def qualified(self) -> int:
        return max(self.rules.qualify(self.spend, self.orders), self.granted)

    def effective(self, ts: float) -> int:
        rules = self.rules
        current = self.qualified()
        if rules.policy == "never":
            return max(current, self.best)
        if rules.window == "rolling_12_months":
            return max([current] + [e[3] for e in self.entries])
        if rules.window == "calendar_year" and rules.policy == "end_of_next_window":
            return max(current, self.prev)
        return current

    def roll(self, ts: float, local_year: int) -> list[tuple[float, int]]:
        """Move to the window containing `ts`; returns (boundary ts, tier) at each boundary."""
        rules, changes = self.rules, []
        if rules.window == "calendar_year":
            if self.window_id is None:
                self.window_id = local_year
            while self.window_id < local_year:
                self.prev = self.qualified()
                self.window_id += 1
                self.spend, self.orders, self.granted = ZERO, 0, 0
                changes.append((rules.year_start_ts(self.window_id), self.effective(ts)))
        elif rules.window == "rolling_12_months":
            entries = self.entries
            while entries and entries[0][0] <= ts - YEAR:
                old = entries.popleft()
                self.spend -= old[1]
                self.orders -= old[2]
        return changes

    def add_order(self, ts: float, spend: Decimal) -> list[Any] | None:
        self.spend += spend
        self.orders += 1
        entry = None
        if self.rules.window == "rolling_12_months":
            entry = [ts, spend, 1, 0]
            self.entries.append(entry)
        return entry

    def settle(self, tier_index: int, entry: list[Any] | None) -> None:
        """After an order: record a tier granted beyond qualification (0 for none)."""
        if tier_index > self.qualified():
            self.granted = tier_index
        if entry is not None:
            entry[3] = self.qualified()
        self.best = max(self.best, self.qualified())

    def refund(self, window_id: int | None, entry: list[Any] | None, amount: Decimal,
               full: bool) -> None:
        """Take a refunded order's spend (and, when whole, its order) out of its window."""
        if entry is not None:
            entry[1] -= amount
            entry[2] -= int(full)
        elif window_id != self.window_id:
            return
        self.spend -= amount
        self.orders -= int(full)


class Lot:
    """One of an order's lots as its refunds see it: points credited (by rule, as the
    store keeps one lot per rule), taken back so far, lost to expiry."""

    __slots__ = ("id", "lost", "parts", "points", "reversed")

    def __init__(self, parts: tuple[int, ...], lot_id: int | None) -> None:
        self.parts, self.points, self.id = parts, sum(parts), lot_id
        self.reversed = self.lost = 0

    def share(self, share: Decimal) -> int:
        """The points a refunded `share` of the order owes: each rule's part rounded down,
        as the store does for its lots (all of them for a whole refund)."""
        if share >= 1:
            return self.points
        return sum(int(part * share) for part in self.parts)


class OrderRecord:
    """What a later refund of an order needs."""

    __slots__ = (
        "at",
        "bonus",
        "cashback",
        "cashback_back",
        "earned",
        "entry",
        "net",
        "refunded",
        "spend",
        "usage",
        "window_id",
    )

    def __init__(self, net: Decimal, spend: Decimal, earned: Lot, bonus: Lot | None,
                 cashback: Decimal, window_id: int | None, entry: list[Any] | None,
                 at: float, usage: Any = None) -> None:
        self.net, self.spend, self.cashback = net, spend, cashback
        self.earned, self.bonus = earned, bonus  # its points; its first-purchase bonus
        self.window_id, self.entry, self.at = window_id, entry, at
        # (((cap rule, period key, spend) or (challenge id, its window, spend), …),
        #  (campaign id, …)) the order used, or None
        self.usage = usage
        self.refunded, self.cashback_back = ZERO, ZERO

    def refund(self, amount: Decimal | None) -> tuple[Decimal, Decimal, Decimal, bool]:
        """Book a refund; returns (amount refunded now, share refunded so far, cashback
        back, whole)."""
        left = self.net - self.refunded
        amount = left if amount is None else min(amount, left)
        if amount <= 0 or self.net <= 0:
            return ZERO, ZERO, ZERO, False
        self.refunded += amount
        share = self.refunded / self.net
        cashback = (self.cashback * share).quantize(Decimal("0.01")) - self.cashback_back
        self.cashback_back += cashback
        return amount, share, cashback, self.refunded >= self.net
