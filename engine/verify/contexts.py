"""The finite set of contexts a program's earning depends on (docs/verify.md).

Once the program-local day, the member's tier, the order's channel, the member's segments,
the order total's level against every `min_order`, and the line's category are fixed,
which campaigns and rotations may apply is fixed too; what is left is arithmetic that is
linear in the amounts up to the caps. This module enumerates those contexts:

- **days**: the calendar is cut at every date a campaign schedule or a rotation starts or
  ends (the day after its `to`). Inside one piece, a campaign runs or not by its weekday
  and monthly rules only: without such rules one day stands for the piece, with
  `days_of_week` only its first 7 days, with `monthly` one 28-year cycle (weekdays and
  month lengths repeat after it). Days with the same campaigns and rotations running form
  one **day class**, represented by its first day.
- **tiers**, **channels** (each named in an eligibility, and none), **segment sets**
  (every subset of the segments named), **order-total levels** (0 and each distinct
  `min_order`), **categories** (each named anywhere, and one named nowhere).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import combinations

from engine.calendar import zone
from engine.language.model import Campaign, Rotation, Ruleset, Tier
from engine.language.warnings import runs_on

CYCLE_DAYS = 28 * 365 + 7  # one 28-year cycle: weekdays and month lengths repeat after it
ANCHOR = date(2026, 1, 1)  # where a program without any dated window is examined from
POINTS_TYPES = ("multiplier", "category_bonus", "fixed_bonus", "spend_threshold")
OTHER_CATEGORY = "uncategorised"  # stands for every category the ruleset names nowhere
MAX_SEGMENTS = 8  # segment sets are every subset: 2**8 at most
# What one proof may examine, so that validating, publishing or activating a crafted
# ruleset stays bounded in time (a context costs about 10 µs, a day's check about 3 µs).
MAX_CONTEXTS = 500_000
MAX_DAY_CHECKS = 2_000_000


class TooManyContexts(ValueError):
    """The ruleset asks more of the enumeration than it takes on (segments, contexts or
    the calendar scan)."""


@dataclass(frozen=True)
class DayClass:
    day: date  # the first day of the class: every witness of the class is dated on it
    start: date | None  # the calendar piece it was found in
    end: date | None
    campaigns: frozenset[str]  # ids of the points campaigns running that day
    rotations: frozenset[str]


@dataclass(frozen=True)
class Context:
    """One member, order and line situation; `level` is the order total the order reaches
    (every campaign whose `min_order` is at most `level` is eligible, none above)."""

    day: DayClass
    tier: Tier | None
    channel: str | None
    segments: frozenset[str]
    level: Decimal
    category: str | None  # None: the order-level quantities (no line category)

    def describe(self) -> str:
        parts = [self.tier.id if self.tier else "no tier",
                 f"{self.day.day.isoformat()} ({self.day.day.strftime('%A')})"]
        if self.category is not None:
            parts.append(self.category)
        if self.channel:
            parts.append(f"channel {self.channel}")
        if self.segments:
            parts.append("segments " + ", ".join(sorted(self.segments)))
        if self.level:
            parts.append(f"order total ≥ {self.level}")
        return ", ".join(parts)


def points_campaigns(model: Ruleset) -> tuple[Campaign, ...]:
    return tuple(c for c in model.campaigns if c.type in POINTS_TYPES)


def boundaries(model: Ruleset) -> list[date]:
    """Every date on which some campaign or rotation starts, or the day after one ends."""
    found: set[date] = set()
    for c in points_campaigns(model):
        if c.schedule.start:
            found.add(c.schedule.start)
        if c.schedule.end:
            found.add(c.schedule.end + timedelta(days=1))
    for r in model.rotations:
        found.update((r.start, r.end + timedelta(days=1)))
    return sorted(found)


def first_day(model: Ruleset) -> date | None:
    """The program-local day the version takes effect: no earlier day is ever evaluated
    against it."""
    if model.effective_from is None:
        return None
    return model.effective_from.astimezone(zone(model.timezone)).date()


def pieces(model: Ruleset) -> list[tuple[date | None, date | None]]:
    """The calendar cut at the boundaries, from the version's first day (else open)."""
    cuts = boundaries(model)
    out: list[tuple[date | None, date | None]] = []
    start: date | None = None
    for cut in cuts:
        out.append((start, cut - timedelta(days=1)))
        start = cut
    out.append((start, None))
    first = first_day(model)
    if first is None:
        return out
    return [(max(a, first) if a else first, b) for a, b in out if b is None or b >= first]


def _scan(start: date | None, end: date | None, span: int) -> Iterator[date]:
    """Up to `span` days of the piece, from its start; an open start: backwards from its
    end (or forwards from the anchor), so a class is represented by a day near the rest."""
    step = timedelta(days=1)
    if start is None and end is not None:
        day, count = end, 0
        while count < span:
            yield day
            day, count = day - step, count + 1
        return
    day = start or ANCHOR
    last = day + timedelta(days=span - 1)
    if end is not None and end < last:
        last = end
    while day <= last:
        yield day
        day += step


def _scanned(start: date | None, end: date | None, span: int) -> int:
    """How many days `_scan` yields."""
    if start is None or end is None:
        return span
    return max(0, min(span, (end - start).days + 1))


def _plan(model: Ruleset) -> list[tuple[date | None, date | None, list[Campaign], int]]:
    """Each calendar piece with the campaigns inside it and the days to scan; refuses a
    calendar whose scan would take more than MAX_DAY_CHECKS checks."""
    campaigns = points_campaigns(model)
    plan = []
    work = 0
    for start, end in pieces(model):
        inside = [c for c in campaigns
                  if not (c.schedule.start and end and c.schedule.start > end)
                  and not (c.schedule.end and start and c.schedule.end < start)]
        span = CYCLE_DAYS if any(c.schedule.monthly for c in inside) else \
            7 if any(c.schedule.days_of_week for c in inside) else 1
        plan.append((start, end, inside, span))
        work += _scanned(start, end, span) * (len(inside) + len(model.rotations) + 1)
    if work > MAX_DAY_CHECKS:
        raise TooManyContexts(
            f"the calendar scan would take {work:,} day checks ({len(plan)} pieces cut by "
            f"the campaigns' and rotations' dates, monthly campaigns scanned over a 28-year "
            f"cycle each); verify takes at most {MAX_DAY_CHECKS:,}")
    return plan


def day_classes(model: Ruleset) -> list[DayClass]:
    out: list[DayClass] = []
    for start, end, inside, span in _plan(model):
        seen: set[tuple[frozenset[str], frozenset[str]]] = set()
        for day in _scan(start, end, span):
            key = (frozenset(c.id for c in inside if runs_on(c.schedule, day)),
                   frozenset(r.id for r in model.rotations if r.start <= day <= r.end))
            if key not in seen:
                seen.add(key)
                out.append(DayClass(day, start, end, *key))
    return out


def categories(model: Ruleset) -> list[str]:
    """Every category the earning can tell apart (excluded ones earn nothing and are left
    out), and one that no rule names."""
    named: set[str] = set(model.earning.categories)
    if model.earning.cashback:
        named.update(model.earning.cashback.categories)
    for r in model.rotations:
        named.update(r.categories)
    for c in points_campaigns(model):
        named.update(c.categories or ())
    named -= model.earning.excluded_categories
    other = OTHER_CATEGORY
    while other in named or other in model.earning.excluded_categories:
        other += "_"
    return sorted(named) + [other]


def segment_sets(model: Ruleset) -> list[frozenset[str]]:
    named = sorted({s for c in points_campaigns(model) for s in (c.eligibility.segments or ())})
    if len(named) > MAX_SEGMENTS:
        raise TooManyContexts(f"campaigns name {len(named)} segments; verify takes at most "
                              f"{MAX_SEGMENTS} (every subset of them is a context)")
    return [frozenset(subset) for size in range(len(named) + 1)
            for subset in combinations(named, size)]


def channels(model: Ruleset) -> list[str | None]:
    named = sorted({ch for c in points_campaigns(model) for ch in (c.eligibility.channels or ())})
    return [None, *named]


def levels(model: Ruleset) -> list[Decimal]:
    found = {c.eligibility.min_order for c in points_campaigns(model)
             if c.eligibility.min_order is not None}
    return sorted(found | {Decimal(0)})


def tiers(model: Ruleset) -> list[Tier | None]:
    return list(model.tiers.levels) if model.tiers else [None]


def count(model: Ruleset, days: list[DayClass], *, lines: bool) -> int:
    """How many contexts `contexts` yields (day classes × tiers × channels × segment sets
    × order-total levels, × categories with `lines`)."""
    n = (len(days) * len(tiers(model)) * len(channels(model)) * len(segment_sets(model))
         * len(levels(model)))
    return n * len(categories(model)) if lines else n


def require_bounded(model: Ruleset, days: list[DayClass]) -> int:
    """The contexts one proof examines (lines, orders, and again for each campaign with
    a budget); refuses more than MAX_CONTEXTS, naming what multiplies them."""
    lines, orders = count(model, days, lines=True), count(model, days, lines=False)
    budgets = sum(1 for c in points_campaigns(model) if c.budget_points is not None)
    total = lines + orders + budgets * lines
    if total > MAX_CONTEXTS:
        raise TooManyContexts(
            f"verify would examine {total:,} contexts ({len(days)} day classes × "
            f"{len(tiers(model))} tiers × {len(channels(model))} channels × "
            f"{len(segment_sets(model))} segment sets × {len(levels(model))} order-total "
            f"levels × {len(categories(model))} categories"
            + (f", again for each of {budgets} campaign(s) with a budget" if budgets else "")
            + f"); it takes at most {MAX_CONTEXTS:,}: name fewer "
            "channels, segments, min_order levels or categories in the campaigns")
    return total


def contexts(model: Ruleset, days: list[DayClass], *, lines: bool) -> Iterator[Context]:
    """Every context; with `lines`, one per line category as well."""
    cats: list[str | None] = list(categories(model)) if lines else [None]
    for day in days:
        for tier in tiers(model):
            for channel in channels(model):
                for segments in segment_sets(model):
                    for level in levels(model):
                        for category in cats:
                            yield Context(day, tier, channel, segments, level, category)


def applies(c: Campaign, ctx: Context) -> bool:
    """Whether campaign `c` is eligible in `ctx` (its limits and budget left untouched)."""
    e = c.eligibility
    return (c.id in ctx.day.campaigns
            and (e.tiers is None or (ctx.tier is not None and ctx.tier.id in e.tiers))
            and (e.channels is None or ctx.channel in e.channels)
            and (e.segments is None or bool(e.segments & ctx.segments))
            and (e.min_order is None or e.min_order <= ctx.level)
            and (ctx.category is None or c.categories is None or ctx.category in c.categories))


def rotation_of(model: Ruleset, ctx: Context) -> Rotation | None:
    for r in model.rotations:
        if r.id in ctx.day.rotations and ctx.category in r.categories \
                and (r.cap_spend is None or r.cap_spend > 0):
            return r
    return None
