"""Per-line points arithmetic (DESIGN §4), in plain Decimal.

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

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Hashable, Iterable, Mapping, TypeVar

from engine.model import Campaign, Rotation, Ruleset, Tier
from engine.request import Line

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
    floors = {k: int(v.to_integral_value(rounding=ROUND_FLOOR)) for k, v in parts.items()}
    left = total - sum(floors.values())
    order = sorted(parts, key=lambda k: (-(parts[k] - floors[k]), str(k)))
    step = 1 if left >= 0 else -1
    i = 0
    while left != 0 and order:
        key = order[i % len(order)] if step > 0 else order[-1 - (i % len(order))]
        floors[key] += step
        left -= step
        i += 1
    return floors


@dataclass
class Multiplier:
    rule: str
    value: Decimal


@dataclass
class LineResult:
    line: Line
    eligible: Decimal
    excluded_by: str | None
    parts: dict[str, Decimal] = field(default_factory=dict)
    category: Multiplier | None = None
    tier: Multiplier | None = None
    factors: list[Multiplier] = field(default_factory=list)
    seasonal_amount: Decimal = ZERO  # spend that earned the seasonal multiplier

    @property
    def points(self) -> Decimal:
        return sum(self.parts.values(), ZERO)

    def add(self, rule: str, points: Decimal) -> None:
        if points:
            self.parts[rule] = self.parts.get(rule, ZERO) + points


@dataclass
class CapBook:
    """Seasonal cap spend: what the member used before, and what this order consumes."""

    used_before: Mapping[str, Decimal]
    consumed: dict[str, Decimal] = field(default_factory=dict)
    hit: set[str] = field(default_factory=set)

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
        if campaign.categories and category in campaign.categories and campaign.multiplier:
            if campaign.multiplier > best.value:
                best = Multiplier(campaign.rule_id, campaign.multiplier)
    return regular, best


def line_points(model: Ruleset, line: Line, tier: Tier | None,
                bonus_campaigns: list[Campaign], rotations: list[Rotation],
                factors: list[Multiplier], caps: CapBook) -> LineResult:
    excluded = line.category in model.earning.excluded_categories
    eligible = ZERO if excluded else line.amount
    result = LineResult(line=line, eligible=eligible,
                        excluded_by=f"earning.exclusions.{line.category}" if excluded else None)
    if excluded or eligible <= 0:
        return result
    regular, best = category_candidates(model, line.category, bonus_campaigns)
    segments: list[tuple[Decimal, Multiplier]] = [(eligible, best)]
    for rotation in rotations:
        if line.category in rotation.categories and rotation.multiplier > best.value:
            in_cap = caps.take(rotation, eligible)
            result.seasonal_amount = in_cap
            segments = [(in_cap, Multiplier(rotation.rule_id, rotation.multiplier)),
                        (eligible - in_cap, best)]
            break
    result.category = max((m for a, m in segments if a), key=lambda m: m.value, default=best)
    base = model.earning.base_rate
    tier_value = tier.multiplier if tier else ONE
    result.tier = Multiplier(f"tiers.{tier.id}", tier_value) if tier else None
    total = ZERO
    for amount, chosen in segments:
        if not amount:
            continue
        base_points = amount * base
        result.add("earning.base", base_points)
        if tier:
            result.add(f"tiers.{tier.id}", base_points * (tier_value - ONE))
        tiered = base_points * tier_value
        result.add(regular.rule, tiered * (regular.value - ONE))
        result.add(chosen.rule, tiered * (chosen.value - regular.value))
        total += tiered * chosen.value
    for factor in factors:
        result.add(factor.rule, total * (factor.value - ONE))
        total *= factor.value
    result.factors = list(factors)
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
