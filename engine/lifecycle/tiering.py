"""Which tier a member holds, and when it changes: the one implementation.

Which tiers' thresholds a window's spend and orders meet is the rule engine's decision
(engine/rules/questions.py, `tiers.<id>.qualification`). Qualification counts the
**eligible spend** and the **orders** of a window (an order
refunded in full no longer counts, a partial refund takes its share of the spend out):

* `calendar_year`: the program-local calendar year (key "2026");
* `lifetime`: everything (key "lifetime");
* `rolling_12_months`: the 12 months before the instant (each order counts until 12
  calendar months after it was placed, program-local).

The tier a member holds at an instant is the highest of:

* the tier the current window qualifies for, and any tier granted in it (a met tier
  challenge advances one tier; a tier given at enrolment counts as granted);
* by downgrade policy — `end_of_window`: nothing more (calendar: the tier lasts to the
  end of the year that earned it; rolling: 12 months after the order that reached it);
  `end_of_next_window`: also what the previous window earned (calendar: to the end of
  the next year; rolling: 24 months after the order that reached it); `never`: also the
  best tier ever held.

So a downgrade happens at a boundary (1 January, or the instant an order's protection
ends), whether or not the member does anything then, and `tier_since` is that instant.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from engine.calendar import add_months, in_zone
from engine.language.model import Tiers
from engine.lifecycle.book import MemberBook, Qualifying, Window
from engine.lifecycle.changes import TierChange
from engine.rules.compile import DecisionGroup
from engine.rules.questions import QUALIFYING_ORDERS, QUALIFYING_SPEND, tier_group

ZERO = Decimal(0)


@dataclass(frozen=True)
class TierRules:
    ids: tuple[str, ...]
    thresholds: tuple[tuple[Decimal, int], ...]
    window: str  # calendar_year | rolling_12_months | lifetime
    policy: str  # never | end_of_window | end_of_next_window
    tz: ZoneInfo
    _last: list[object] = field(default_factory=lambda: [None, "", ""], compare=False,
                                repr=False)
    _best: dict[frozenset[str], int] = field(default_factory=dict, compare=False, repr=False)
    _group: list[DecisionGroup] = field(default_factory=list, compare=False, repr=False)
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({tier: i for i, tier in enumerate(self.ids)})

    @classmethod
    def of(cls, tiers: Tiers | None, tz: ZoneInfo) -> TierRules | None:
        if tiers is None or not tiers.levels:
            return None
        return cls(tuple(t.id for t in tiers.levels),
                   tuple((t.min_spend, t.min_orders) for t in tiers.levels),
                   tiers.window, tiers.downgrade_policy, tz)

    # ------------------------------------------------------------ helpers
    def index(self, tier: str | None) -> int:
        return self._index.get(tier, -1) if tier is not None else -1

    @property
    def questions(self) -> DecisionGroup:
        """The compiled qualification rules of these tiers (engine/rules/questions.py)."""
        if not self._group:
            self._group.append(tier_group(self.ids, self.thresholds))
        return self._group[0]

    def qualify(self, spend: Decimal, orders: int) -> int:
        """The index of the highest tier whose thresholds `spend` and `orders` meet: the
        rule engine decides which are met."""
        met = self.questions.decide({QUALIFYING_SPEND: spend, QUALIFYING_ORDERS: orders})
        best = self._best.get(met)
        if best is None:
            best = self._best[met] = max((i for i, tier in enumerate(self.ids)
                                          if f"tiers.{tier}.qualification" in met), default=0)
        return best

    def key(self, at: datetime) -> str:
        if self.window != "calendar_year":
            return "lifetime"
        last = self._last
        if last[0] is not at:  # one event asks for its window's key several times
            # from February to November no zone moves the date across a new year (two
            # offsets differ by under 48 hours): the instant's own year is the local one
            year = at.year if 1 < at.month < 12 else in_zone(self.tz, at).year
            last[0], last[1], last[2] = at, str(year), str(year - 1)
        return last[1]  # type: ignore[return-value]

    def previous_key(self, at: datetime) -> str:
        """The key of the calendar year before the one containing `at`."""
        self.key(at)
        return self._last[2]  # type: ignore[return-value]

    def _months_after(self, at: datetime, months: int) -> datetime:
        return add_months(in_zone(self.tz, at), months)

    def _protect_months(self) -> int:
        return 24 if self.policy == "end_of_next_window" else 12

    # ------------------------------------------------------------ qualification
    def totals(self, book: MemberBook, at: datetime) -> tuple[Decimal, int]:
        """Qualifying spend and orders of the window containing `at`."""
        if self.window == "rolling_12_months":
            spend, orders = ZERO, 0
            for q in book.rolling:
                if q.at <= at < self._months_after(q.at, 12):
                    spend += q.spend
                    orders += q.orders
            return spend, orders
        window = book.windows.get(self.key(at))
        return (window.spend, window.orders) if window else (ZERO, 0)

    def _earned(self, window: Window | None) -> int:
        if window is None:
            return -1
        return max(self._window_qualifies(window), self.index(window.granted))

    def _window_qualifies(self, window: Window) -> int:
        """`qualify` of the window's totals. Every order settles the tier over this window
        and the last one, so the answer stays with the window until its totals change
        (a new total is a new Decimal object) — unless the decision cache is off."""
        known = window.qualified
        if known is not None and known[0] is window.spend and known[1] == window.orders:
            return known[2]
        index = self.qualify(window.spend, window.orders)
        if self.questions.use_cache:
            window.qualified = (window.spend, window.orders, index)
        return index

    def _rolling_held(self, book: MemberBook, at: datetime) -> int:
        """Rolling windows: the best of the current qualification and, for every order
        still protected at `at`, the tier reached with it (qualification over the 12
        months up to it, or the tier granted with it). One pass over the orders kept."""
        entries = book.rolling
        best = self.qualify(*self.totals(book, at))
        months = self._protect_months()
        spend, orders, first = ZERO, 0, 0
        for q in entries:
            spend += q.spend
            orders += q.orders
            while self._months_after(entries[first].at, 12) <= q.at:
                spend -= entries[first].spend
                orders -= entries[first].orders
                first += 1
            if q.at <= at < self._months_after(q.at, months):
                best = max(best, self.qualify(spend, orders), self.index(q.granted))
        return best

    def held(self, book: MemberBook, at: datetime) -> int:
        """The tier index the member holds at `at` (see the module docstring); an
        administrator's override decides alone while it runs."""
        override = book.tier_override
        if override is not None and (override[1] is None or at < override[1]):
            return self.index(override[0])
        if self.window == "rolling_12_months":
            best = self._rolling_held(book, at)
        else:
            key = self.key(at)
            best = max(0, self._earned(book.windows.get(key)))
            if self.policy == "end_of_next_window" and self.window == "calendar_year":
                best = max(best, self._earned(book.windows.get(self.previous_key(at))))
        if self.policy == "never":
            best = max(best, self.index(book.best_tier))
        return best

    # ------------------------------------------------------------ changes
    def record_order(self, book: MemberBook, order_id: str, at: datetime, spend: Decimal,
                     granted: str | None) -> None:
        if self.window == "rolling_12_months":
            insort(book.rolling, Qualifying(at, order_id, spend, 1, granted),
                   key=lambda q: q.at)
            return
        key = self.key(at)
        window = book.windows.get(key)
        if window is None:
            window = book.windows[key] = Window()
        window.spend += spend
        window.orders += 1
        if granted is not None and self.index(granted) > self.index(window.granted):
            window.granted = granted

    def known(self, book: MemberBook, at: datetime, spend: Decimal, orders: int,
              tier: str) -> None:
        """The evaluation of the order just recorded decided that `spend` and `orders`
        qualify for `tier`: where they are the window's totals now, the window keeps
        that answer (`_window_qualifies`) instead of asking the rule engine again."""
        if self.window == "rolling_12_months" or not self.questions.use_cache:
            return
        window = book.windows.get(self.key(at))
        if window is not None and window.spend == spend and window.orders == orders:
            window.qualified = (window.spend, orders, self.index(tier))

    def grant(self, book: MemberBook, at: datetime, tier: str) -> None:
        """A tier given beyond qualification at `at` (a tier at enrolment)."""
        if self.window == "rolling_12_months":
            insort(book.rolling, Qualifying(at, "", ZERO, 0, tier), key=lambda q: q.at)
        else:
            window = book.windows.setdefault(self.key(at), Window())
            if self.index(tier) > self.index(window.granted):
                window.granted = tier

    def refund_order(self, book: MemberBook, order_id: str, placed_at: datetime,
                     spend: Decimal, whole: bool) -> None:
        """Take a refunded share of an order out of the window it counted in (nothing
        to do once that window is no longer kept)."""
        if self.window == "rolling_12_months":
            for q in book.rolling:
                if q.order_id == order_id:
                    q.spend = max(ZERO, q.spend - spend)
                    q.orders -= int(whole and q.orders > 0)
            return
        window = book.windows.get(self.key(placed_at))
        if window is not None:
            window.spend = max(ZERO, window.spend - spend)
            window.orders = max(0, window.orders - int(whole))

    def boundaries(self, book: MemberBook, start: datetime, end: datetime) -> list[datetime]:
        """Instants in (start, end] at which the held tier may fall."""
        out: set[datetime] = set()
        override = book.tier_override
        if override is not None and override[1] is not None and start < override[1] <= end:
            out.add(override[1])
        if self.window == "calendar_year":
            if start.year == end.year and (start.month, start.day) > (1, 1) \
                    and (end.month, end.day) < (12, 31):
                return sorted(out)  # a local new year is within a day of the UTC one
            year = start.astimezone(self.tz).year + 1
            while True:
                edge = datetime(year, 1, 1, tzinfo=self.tz)
                if edge > end:
                    break
                out.add(edge)
                year += 1
        elif self.window == "rolling_12_months":
            for q in book.rolling:
                for months in (12, self._protect_months()):
                    edge = self._months_after(q.at, months)
                    if start < edge <= end:
                        out.add(edge)
        return sorted(out)

    def settle(self, book: MemberBook, at: datetime, cause: str) -> TierChange | None:
        """Set the book's tier to what it holds at `at`; the change, if any."""
        index = self.held(book, at)
        after = self.ids[index]
        if after == book.tier:
            return None
        change = TierChange(book.tier, after, at, cause)
        book.tier, book.tier_since = after, at
        if self.index(after) > self.index(book.best_tier) and book.tier_override is None:
            book.best_tier = after
        return change

    def advance(self, book: MemberBook, at: datetime) -> list[TierChange]:
        """Bring the tier to `at`: a change at each boundary passed since the book was
        last brought forward, then drop what can no longer matter."""
        changes: list[TierChange] = []
        start = book.last_at or book.enrolled_at
        edges = self.boundaries(book, start, at)
        if not edges:  # time alone changes nothing between boundaries
            return changes
        for edge in edges:
            change = self.settle(book, edge, "time")
            if change is not None:
                changes.append(change)
        change = self.settle(book, at, "time")
        if change is not None:
            changes.append(change)
        self.prune(book, at)
        return changes

    def prune(self, book: MemberBook, at: datetime) -> None:
        if self.window == "rolling_12_months":
            # An order matters while it is protected, and while a protected order's
            # qualification (its 12 months before) may include it.
            months = self._protect_months() + 12
            book.rolling = [q for q in book.rolling if at < self._months_after(q.at, months)]
        elif self.window == "calendar_year":
            year = in_zone(self.tz, at).year
            for key in [k for k in book.windows if int(k) < year - 1]:
                del book.windows[key]
