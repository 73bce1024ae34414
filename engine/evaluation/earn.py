"""Per-line points arithmetic (docs/semantics.md), in plain Decimal.

Line points = eligible × base rate × tier multiplier × category multiplier × the product
of the multiplier campaigns and rules that apply to the line, where the category
multiplier is the best of the line's category multiplier, the seasonal multiplier (within
its cap) and any category-bonus campaign. Every point is attributed to the rule that
produced it, layer by layer, in this order: base rate, tier, category, category bonus
(campaign or seasonal), then each multiplier in priority order. A layer gets the points
it adds on top of the layers before it, so a campaign's share is exactly what the order
would lose without it (for the last multiplier; earlier ones exclude the interaction).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import TypeVar

from engine.evaluation.request import Line
from engine.language.model import Campaign, Rotation, Ruleset, Tier

K = TypeVar("K", bound=Hashable)
ZERO = Decimal(0)
ONE = Decimal(1)
ROUNDING = {"floor": ROUND_FLOOR, "round_half_up": ROUND_HALF_UP, "ceil": ROUND_CEILING}


def round_points(value: Decimal, mode: str) -> int:
    return int(value.to_integral_value(rounding=ROUNDING[mode]))


def apportion(total: int, parts: Mapping[K, Decimal]) -> dict[K, int]:
    """Split integer `total` over `parts` (largest remainder; ties by key order)."""
    if not parts:
        return {}
    if len(parts) == 1:  # one part takes the whole total, whatever its remainder
        return dict.fromkeys(parts, total)
    floors = {k: math.floor(v) for k, v in parts.items()}
    left = total - sum(floors.values())
    if left == 0:
        return floors
    order = sorted(parts, key=lambda k: (-(parts[k] - floors[k]), str(k)))
    step = 1 if left >= 0 else -1
    i = 0
    while left != 0 and order:
        key = order[i % len(order)] if step > 0 else order[-1 - (i % len(order))]
        floors[key] += step
        left -= step
        i += 1
    return floors


@dataclass(frozen=True)
class Multiplier:
    rule: str
    value: Decimal


class LineResult:
    """One line's points, by rule, and the multipliers that made them."""

    __slots__ = (
        "awarded",
        "category",
        "eligible",
        "exact",
        "excluded_by",
        "factors",
        "line",
        "parts",
        "rates",
        "seasonal_amount",
        "tier",
    )

    def __init__(self, line: Line, eligible: Decimal, excluded_by: str | None) -> None:
        self.line, self.eligible, self.excluded_by = line, eligible, excluded_by
        self.parts: dict[str, Decimal] = {}
        self.category: Multiplier | None = None
        self.tier: Multiplier | None = None
        self.factors: list[Multiplier] = []
        self.seasonal_amount = ZERO  # spend that earned the seasonal multiplier
        self.rates: LineRates | None = None
        self.exact: Decimal | None = None  # total points, once the parts are final
        self.awarded = 0  # the line's points, rounded (its share of the order's total)

    @property
    def points(self) -> Decimal:
        return sum(self.parts.values(), ZERO)

    @property
    def exact_points(self) -> Decimal:
        """The line's points before rounding: its share of the order's exact total once
        the order is rounded as a whole, else its own parts."""
        return self.exact if self.exact is not None else self.points

    def add(self, rule: str, points: Decimal) -> None:
        if points:
            self.parts[rule] = self.parts.get(rule, ZERO) + points


@dataclass
class CapBook:
    """Seasonal cap spend: what the member used before, and what this order consumes."""

    used_before: Mapping[str, Decimal]
    consumed: dict[str, Decimal] = field(default_factory=dict)
    hit: set[str] = field(default_factory=set)

    # Written out: a dataclass's generated __init__ runs as Python, this one compiled
    # (engine/native.py; tests/engine/test_native_inits.py keeps it to the fields).
    def __init__(self, used_before: Mapping[str, Decimal],
                 consumed: dict[str, Decimal] | None = None,
                 hit: set[str] | None = None) -> None:
        self.used_before = used_before
        self.consumed = {} if consumed is None else consumed
        self.hit = set() if hit is None else hit

    def remaining(self, rotation: Rotation) -> Decimal | None:
        if rotation.cap_spend is None:
            return None
        rule = rotation.rule_id
        return rotation.cap_spend - self.used_before.get(rule, ZERO) - self.consumed.get(rule, ZERO)

    def take(self, rotation: Rotation, wanted: Decimal) -> Decimal:
        left = self.remaining(rotation)
        granted = wanted if left is None else max(ZERO, min(wanted, left))
        if left is not None and wanted > granted:
            self.hit.add(rotation.rule_id)
        if granted:
            self.consumed[rotation.rule_id] = self.consumed.get(rotation.rule_id, ZERO) + granted
        return granted


def category_candidates(model: Ruleset, category: str,
                        bonus_campaigns: Iterable[Campaign]) -> tuple[Multiplier, Multiplier]:
    """(regular category multiplier, best non-seasonal candidate)."""
    value = model.earning.categories.get(category)
    regular = Multiplier(f"earning.categories.{category}" if value is not None else "earning.base",
                         value if value is not None else ONE)
    best = regular
    for campaign in bonus_campaigns:
        if (campaign.categories and category in campaign.categories and campaign.multiplier
                and campaign.multiplier > best.value):
            best = Multiplier(campaign.rule_id, campaign.multiplier)
    return regular, best


@dataclass(frozen=True)
class LineRates:
    """Points per 1.00 of eligible spend, by rule, for one line context.

    Line points are linear in the eligible amount (per segment), so the layered
    attribution is computed once per (category, tier, campaigns, multipliers) and a line
    only multiplies. `seasonal` rates apply to spend within the rotation's cap.
    """

    regular: Multiplier
    best: Multiplier
    tier: Multiplier | None
    factors: tuple[Multiplier, ...]
    per_unit: tuple[tuple[str, Decimal], ...]
    rotation: Rotation | None = None
    seasonal: Multiplier | None = None
    seasonal_per_unit: tuple[tuple[str, Decimal], ...] = ()


def _per_unit(base: Decimal, tier: Multiplier | None, regular: Multiplier, chosen: Multiplier,
              factors: Iterable[Multiplier]) -> tuple[tuple[str, Decimal], ...]:
    parts: dict[str, Decimal] = {}

    def add(rule: str, value: Decimal) -> None:
        if value:
            parts[rule] = parts.get(rule, ZERO) + value

    add("earning.base", base)
    tier_value = tier.value if tier else ONE
    if tier:
        add(tier.rule, base * (tier_value - ONE))
    tiered = base * tier_value
    add(regular.rule, tiered * (regular.value - ONE))
    add(chosen.rule, tiered * (chosen.value - regular.value))
    total = tiered * chosen.value
    for factor in factors:
        add(factor.rule, total * (factor.value - ONE))
        total *= factor.value
    return tuple(parts.items())


def line_rates(model: Ruleset, category: str, tier: Tier | None,
               bonus_campaigns: list[Campaign], rotations: list[Rotation],
               factors: list[Multiplier]) -> LineRates:
    regular, best = category_candidates(model, category, bonus_campaigns)
    tier_m = Multiplier(f"tiers.{tier.id}", tier.multiplier) if tier else None
    base = model.earning.base_rate
    rates = LineRates(regular, best, tier_m, tuple(factors),
                      _per_unit(base, tier_m, regular, best, factors))
    for rotation in rotations:
        if category in rotation.categories and rotation.multiplier > best.value:
            seasonal = Multiplier(rotation.rule_id, rotation.multiplier)
            return LineRates(regular, best, tier_m, tuple(factors), rates.per_unit, rotation,
                             seasonal, _per_unit(base, tier_m, regular, seasonal, factors))
    return rates


def line_points(model: Ruleset, line: Line, rates: LineRates, caps: CapBook) -> LineResult:
    if line.category in model.earning.excluded_categories:
        return LineResult(line=line, eligible=ZERO,
                          excluded_by=f"earning.exclusions.{line.category}")
    eligible = line.amount
    result = LineResult(line=line, eligible=eligible, excluded_by=None)
    if eligible <= 0:
        return result
    result.tier, result.factors, result.category = rates.tier, list(rates.factors), rates.best
    result.rates = rates
    if rates.rotation is None:
        result.parts = {rule: eligible * c for rule, c in rates.per_unit}
        return result
    in_cap = caps.take(rates.rotation, eligible)
    rest = eligible - in_cap
    parts: dict[str, Decimal] = {}
    if in_cap:
        result.seasonal_amount, result.category = in_cap, rates.seasonal
        for rule, c in rates.seasonal_per_unit:
            parts[rule] = in_cap * c
    if rest:
        for rule, c in rates.per_unit:
            parts[rule] = parts.get(rule, ZERO) + rest * c
    result.parts = parts
    return result


def pick_factors(campaigns: list[Campaign], rule_multipliers: list[Multiplier],
                 category: str) -> list[Multiplier]:
    """Multiplier campaigns for a line, honouring `stacking: exclusive`, then rule multipliers."""
    applying = [c for c in campaigns
                if c.multiplier and (not c.categories or category in c.categories)]
    exclusive = [c for c in applying if c.stacking == "exclusive"]
    if exclusive:
        best = max(exclusive, key=lambda c: (c.multiplier, -c.priority))
        applying = [best]
    applying.sort(key=lambda c: (c.priority, c.id))
    return [Multiplier(c.rule_id, c.multiplier) for c in applying  # type: ignore[arg-type]
            ] + rule_multipliers


def truncate(lines: list[LineResult], rule: str, allowed: Decimal) -> Decimal:
    """Scale `rule`'s points across lines down to `allowed`; return what was removed."""
    total = sum((r.parts.get(rule, ZERO) for r in lines), ZERO)
    if total <= allowed:
        return ZERO
    holders = [r for r in lines if rule in r.parts]
    given = ZERO
    for r in holders[:-1]:
        r.parts[rule] = r.parts[rule] * allowed / total
        given += r.parts[rule]
    holders[-1].parts[rule] = allowed - given  # the sum is exactly `allowed`
    return total - allowed
