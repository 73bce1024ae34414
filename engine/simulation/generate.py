"""Synthetic, reproducible event histories for simulations and benchmarks.

The history is written day by day, so it streams out in time order without holding the
events in memory. What makes it realistic enough to price a ruleset change:
- members differ a lot: order frequency is Pareto-distributed (a few heavy buyers, a long
  tail of occasional ones) and each member has a basket-size factor and a favourite
  category;
- volume follows the calendar: weekends and Fridays are busier, November and December
  peak, January is quiet (all in the program's local time);
- about 5 % of orders are refunded (a third of those partially), members write reviews,
  share, refer friends, and redeem points when their (estimated) balance allows;
- with `lifecycle=True` (`loyalty generate --lifecycle`), every event type the history
  format has: some members start in a higher tier or are referred at enrolment, orders
  pay with points (a checkout hold the order captures), some redemptions are checkout
  holds whose order never comes (they time out), and members cancel redemptions. Without
  it the stream is what it always was, byte for byte.
Only `random.Random(seed)` is used, never the clock or hash order: the same arguments give
the same bytes.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TextIO
from zoneinfo import ZoneInfo

# category: (share of lines, median unit price, log-spread)
PROFILES: dict[str, dict[str, tuple[float, float, float]]] = {
    "retail": {
        "electronics": (0.14, 120.0, 0.9), "fashion": (0.24, 45.0, 0.6),
        "home": (0.17, 55.0, 0.7), "grocery": (0.20, 18.0, 0.5), "beauty": (0.11, 25.0, 0.5),
        "books": (0.10, 15.0, 0.4), "gift_cards": (0.04, 50.0, 0.3),
    },
    "card-rewards": {
        # The program's own merchant categories, so the rotations (gas_stations,
        # restaurants, home_improvement) and the category cashback see spend.
        "groceries": (0.24, 45.0, 0.6), "gas_stations": (0.14, 40.0, 0.3),
        "dining": (0.09, 35.0, 0.6), "restaurants": (0.09, 45.0, 0.6),
        "travel": (0.05, 320.0, 0.8), "online_shopping": (0.12, 60.0, 0.8),
        "home_improvement": (0.04, 90.0, 0.7),
        "department_stores": (0.08, 80.0, 0.6), "drugstores": (0.08, 22.0, 0.5),
        "streaming": (0.07, 14.0, 0.2),
    },
    "b2b-portal": {
        "office_supplies": (0.35, 40.0, 0.7), "electronics": (0.20, 300.0, 0.8),
        "furniture": (0.10, 450.0, 0.6), "software": (0.20, 120.0, 0.7),
        "services": (0.15, 250.0, 0.6),
    },
}
REWARDS = {"retail": ("REWARD-001", "REWARD-002", "REWARD-101")}
# Programs that offer automatic redemption: some members opt in during the history.
AUTOMATIC = frozenset({"card-rewards"})
# --lifecycle: the tier some members start in, and the least points a redemption takes.
TIER_AT_ENROL = {"retail": "silver", "card-rewards": "preferred", "b2b-portal": "business"}
MIN_POINTS = {"retail": 500, "card-rewards": 2500, "b2b-portal": 1000}
# Programs whose balances live in an external points API: the member attribute that names
# each company's account there (`redemption.account.account_attribute`), one per company.
ACCOUNT_ATTRIBUTE = {"b2b-portal": "loyalty_account_id"}
TIMEZONES = {"retail": "America/New_York", "card-rewards": "America/New_York",
             "b2b-portal": "America/New_York"}
# The span of a history when none is given (`loyalty generate`, the console, the benchmark).
DEFAULT_START, DEFAULT_END = date(2026, 1, 1), date(2028, 6, 30)
WEEKDAY_FACTOR = (1.0, 0.95, 1.0, 1.0, 1.1, 1.35, 1.25)
MONTH_FACTOR = (0.8, 0.85, 0.95, 0.95, 1.0, 1.0, 1.0, 1.05, 1.05, 1.0, 1.35, 1.6)
CHANNELS = (("web", 0.55), ("app", 0.85), ("store", 1.0))
SEGMENTS = ("vip", "student", "employee", "new_mover")


@dataclass(slots=True)
class _Member:
    id: str
    weight: float
    basket: float
    favourite: str
    enroll_day: int
    birthday: str
    segments: list[str]
    balance_estimate: float = 0.0
    last_order: tuple[str, float, int] | None = None  # (id, net amount, day)
    refunded: set[str] = field(default_factory=set)
    opted_in: bool = False
    last_redemption: str | None = None  # --lifecycle: the id a cancel may name


class _Generator:
    def __init__(self, members: int, events: int, seed: int, start: date, end: date,
                 program: str, lifecycle: bool = False) -> None:
        if end < start:
            raise ValueError("--end is before --start")
        self.rng = random.Random(seed)
        self.program = program
        self.profile = PROFILES.get(program, PROFILES["retail"])
        self.categories = list(self.profile)
        self.cum_category = _cumulative([v[0] for v in self.profile.values()], normalize=True)
        self.rewards = REWARDS.get(program, ())
        self.automatic = program in AUTOMATIC
        self.tz = ZoneInfo(TIMEZONES.get(program, "UTC"))
        self.start, self.days = start, (end - start).days + 1
        self.total_events = events
        self.members = self._members(min(members, events))
        self.cum_weight = _cumulative([m.weight for m in self.members])
        self.order_seq = 0
        self.lifecycle = lifecycle
        self.redemption_seq = 0
        self.min_points = MIN_POINTS.get(program, 500)
        self.account_attribute = ACCOUNT_ATTRIBUTE.get(program)

    def _members(self, count: int) -> list[_Member]:
        rng, out = self.rng, []
        early = max(1, self.days * 6 // 10)
        for i in range(count):
            day = 0 if rng.random() < 0.4 else rng.randrange(early)
            birthday = date(1950 + rng.randrange(55), 1 + rng.randrange(12), 1 + rng.randrange(28))
            segments = [s for s in SEGMENTS if rng.random() < 0.08]
            out.append(_Member(
                id=f"M{i + 1:07d}", weight=min(rng.paretovariate(1.5), 60.0),
                basket=rng.lognormvariate(0.0, 0.45), favourite=self._category(),
                enroll_day=day, birthday=birthday.isoformat(), segments=segments))
        out.sort(key=lambda m: m.enroll_day)  # stable: ids stay in order within a day
        return out

    def _category(self) -> str:
        index = bisect_right(self.cum_category, self.rng.random())
        return self.categories[min(index, len(self.categories) - 1)]

    def day_counts(self) -> list[int]:
        """Non-enroll events per day: volume × share of buyers enrolled before that day."""
        enrolled_weight = [0.0] * (self.days + 1)
        for m in self.members:
            enrolled_weight[m.enroll_day + 1] += m.weight
        weights, running = [], 0.0
        for d in range(self.days):
            running += enrolled_weight[d]
            day = self.start + timedelta(days=d)
            weights.append(running * WEEKDAY_FACTOR[day.weekday()] * MONTH_FACTOR[day.month - 1])
        return _apportion(self.total_events - len(self.members), weights)

    def write(self, out: TextIO) -> int:
        written, enrolled = 0, 0
        by_day: list[list[_Member]] = [[] for _ in range(self.days)]
        for m in self.members:
            by_day[m.enroll_day].append(m)
        for d, count in enumerate(self.day_counts()):
            day = self.start + timedelta(days=d)
            offset = _offset(day, self.tz)
            lines = []
            for m in by_day[d]:
                lines.append((self._seconds(), self._enroll(m, enrolled)))
            for _ in range(count):
                member = self.members[self._pick(enrolled)]
                lines.append((self._seconds(), self._event(member, day, d, enrolled)))
            lines.sort(key=lambda item: item[0])
            for seconds, body in lines:
                at = f"{day.isoformat()}T{_clock(seconds)}{offset}"
                out.write(body.replace("@AT@", at, 2))
            written += len(lines)
            enrolled += len(by_day[d])
        return written

    def _seconds(self) -> int:
        return int(self.rng.triangular(7 * 3600, 23 * 3600 + 3599, 19 * 3600))

    def _pick(self, enrolled: int) -> int:
        r = self.rng.random() * self.cum_weight[enrolled - 1]
        return min(bisect_right(self.cum_weight, r, 0, enrolled), enrolled - 1)

    def _enroll(self, m: _Member, before: int) -> str:
        segs = ", ".join(f'"{s}"' for s in m.segments)
        enrolled = (self.start + timedelta(days=m.enroll_day)).isoformat()
        extra = ""
        if self.lifecycle:  # `before`: members enrolled on earlier days (possible referrers)
            if self.rng.random() < 0.12:
                extra += f', "tier": "{TIER_AT_ENROL.get(self.program, "silver")}"'
            if before and self.rng.random() < 0.15:
                extra += f', "referred_by": "{self.members[self.rng.randrange(before)].id}"'
        account = f', "{self.account_attribute}": "ACCT-{m.id}"' \
            if self.account_attribute else ""
        return (f'{{"type": "enroll", "member_id": "{m.id}", "at": "@AT@", "attributes": '
                f'{{"segments": [{segs}], "birthday": "{m.birthday}", '
                f'"enrolled_at": "{enrolled}"{account}}}{extra}}}\n')

    def _event(self, m: _Member, day: date, d: int, enrolled: int) -> str:
        roll = self.rng.random()
        if roll < 0.06 and m.last_order and m.last_order[0] not in m.refunded \
                and 1 <= d - m.last_order[2] <= 60:
            return self._refund(m)
        if roll < 0.09:
            return self._activity(m, "product_review")
        if roll < 0.11:
            return self._activity(m, "social_share")
        if roll < 0.115:
            # A member enrolled before today (a referral of an unknown member would
            # enrol them implicitly, and their own enrolment would then be refused).
            friend = self.members[self.rng.randrange(enrolled)].id
            return self._activity(m, "referral", f', "friend_id": "{friend}"')
        if roll < 0.118 and int(m.birthday[5:7]) == day.month:
            return self._activity(m, "birthday")
        if roll < 0.16 and m.balance_estimate >= 1500:
            return self._redemption(m)
        if roll < 0.17 and self.automatic and not m.opted_in:
            return self._opt_in(m)
        if self.lifecycle and roll < 0.21 and m.last_redemption:
            return self._cancel(m)
        if self.lifecycle and roll < 0.27 and m.balance_estimate >= 1500:
            return self._redemption(m)
        return self._order(m, d)

    def _cancel(self, m: _Member) -> str:
        rid, m.last_redemption = m.last_redemption, None
        m.balance_estimate += 500
        return (f'{{"type": "cancel", "member_id": "{m.id}", "at": "@AT@", '
                f'"redemption_id": "{rid}"}}\n')

    def _opt_in(self, m: _Member) -> str:
        """Automatic redemption at the program's defaults (card programs offer it)."""
        m.opted_in = True
        return f'{{"type": "auto_redemption", "member_id": "{m.id}", "at": "@AT@"}}\n'


    def _activity(self, m: _Member, name: str, extra: str = "") -> str:
        m.balance_estimate += 25
        return (f'{{"type": "activity", "member_id": "{m.id}", "at": "@AT@", '
                f'"activity": "{name}"{extra}}}\n')

    def _refund(self, m: _Member) -> str:
        order_id, net, _ = m.last_order  # type: ignore[misc]
        m.refunded.add(order_id)
        if len(m.refunded) > 8:
            m.refunded = {order_id}
        amount = ""
        if self.rng.random() < 0.35:
            amount = f', "amount": "{net * self.rng.uniform(0.2, 0.8):.2f}"'
            m.balance_estimate -= net * 0.5
        else:
            m.balance_estimate -= net
        return (f'{{"type": "refund", "member_id": "{m.id}", "at": "@AT@", '
                f'"order_id": "{order_id}"{amount}}}\n')

    def _redemption(self, m: _Member) -> str:
        if self.rewards and self.rng.random() < 0.25:
            reward = self.rewards[self.rng.randrange(len(self.rewards))]
            m.balance_estimate -= 800
            return (f'{{"type": "redemption", "member_id": "{m.id}", "at": "@AT@", '
                    f'"reward_id": "{reward}"}}\n')
        least = self.min_points if self.lifecycle else 500
        points = max(least, int(m.balance_estimate * self.rng.uniform(0.3, 0.7)) // 100 * 100)
        m.balance_estimate -= points
        extra = ""
        if self.lifecycle:  # named, so a cancel can name it; some are holds never captured
            self.redemption_seq += 1
            m.last_redemption = f"R{self.redemption_seq:07d}"
            extra = f', "id": "{m.last_redemption}"'
            if self.rng.random() < 0.3:
                extra += f', "order_id": "H{self.redemption_seq:07d}"'
        return (f'{{"type": "redemption", "member_id": "{m.id}", "at": "@AT@", '
                f'"points": {points}{extra}}}\n')

    def _order(self, m: _Member, d: int) -> str:
        rng = self.rng
        self.order_seq += 1
        order_id = f"O{self.order_seq:09d}"
        parts, net = [], 0.0
        for _ in range(1 + min(int(rng.expovariate(1.1)), 4)):
            category = m.favourite if rng.random() < 0.45 else self._category()
            _, median, spread = self.profile[category]
            price = max(0.99, round(rng.lognormvariate(math.log(median), spread) * m.basket, 2))
            qty = 1 if rng.random() < 0.75 else (2 if rng.random() < 0.7 else 3)
            line_net = price * qty
            disc = ""
            if rng.random() < 0.1:
                off = round(line_net * 0.1, 2)
                line_net -= off
                disc = f', "discount": "{off:.2f}"'
            net += line_net
            parts.append(f'{{"sku": "{category[:3].upper()}-{rng.randrange(1000):03d}", '
                         f'"category": "{category}", "quantity": {qty}, '
                         f'"unit_price": "{price:.2f}"{disc}}}')
        roll = rng.random()
        channel = next(name for name, edge in CHANNELS if roll < edge)
        shipping = "0.00" if net >= 50 or channel == "store" else "5.99"
        m.balance_estimate += net * 1.5
        m.last_order = (order_id, net, d)
        return (f'{{"type": "order", "member_id": "{m.id}", "at": "@AT@", "order": '
                f'{{"id": "{order_id}", "placed_at": "@AT@", "channel": "{channel}", '
                f'"shipping": "{shipping}", "lines": [{", ".join(parts)}]}}'
                f'{self._pay_with_points(m, net)}}}\n')

    def _pay_with_points(self, m: _Member, net: float) -> str:
        """--lifecycle: some orders of members with points pay partly with them."""
        if not self.lifecycle or m.balance_estimate < 2 * self.min_points \
                or self.rng.random() >= 0.2:
            return ""
        points = max(self.min_points, int(min(m.balance_estimate * 0.3, net * 40)) // 100 * 100)
        m.balance_estimate -= points
        return f', "redeem": {{"points": {points}}}'


def _cumulative(weights: list[float], normalize: bool = False) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return [x / total for x in out] if normalize else out


def _apportion(total: int, weights: list[float]) -> list[int]:
    """Split `total` by `weights` exactly (largest remainder, ties by position)."""
    s = sum(weights)
    if total <= 0 or s <= 0:
        return [0] * len(weights)
    raw = [total * w / s for w in weights]
    counts = [int(x) for x in raw]
    rest = sorted(range(len(raw)), key=lambda i: (counts[i] - raw[i], i))
    for i in rest[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _offset(day: date, tz: ZoneInfo) -> str:
    off = datetime.combine(day, time(12), tz).utcoffset() or timedelta(0)
    minutes = int(off.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def generate(out: TextIO, *, members: int, events: int, seed: int, start: date, end: date,
             program: str = "retail", lifecycle: bool = False) -> int:
    """Write a synthetic JSON Lines history to `out`; return the number of events.
    `lifecycle`: every event type (tiers and referrals at enrolment, orders paying with
    points, checkout holds, cancels), not only the default mix."""
    if members < 1 or events < 1:
        raise ValueError("--members and --events must be positive")
    return _Generator(members, events, seed, start, end, program, lifecycle).write(out)
