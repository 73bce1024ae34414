"""The worst case of each quantity inside one context (docs/verify.md).

Inside a context every line earns `amount × rate` until a cap binds, and a cap can only
take points away (a rotation's multiplier stops at its spend cap, a campaign's extra
points stop at `max_points` or what is left of its budget, cashback at `max_per_order`):
points and cashback are concave, piecewise linear functions of the amount, zero at zero.
Per 1.00 they are therefore highest on an amount small enough that no cap binds, and the
rate there is the bound. Which campaigns a member may switch off (a campaign with a
`limit_per_member` or a `budget` stops applying once it is used up) is decided here too:
that matters only when an `exclusive` campaign would drop better `combine` ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from engine.language.model import Campaign, Ruleset
from engine.verify.contexts import Context, applies, points_campaigns, rotation_of

ONE = Decimal(1)
ZERO = Decimal(0)


@dataclass(frozen=True)
class LineCase:
    """A line's best rate in one context, and how a witness reaches it."""

    rate: Decimal  # points per 1.00 of eligible amount, before rounding
    cashback_percent: Decimal
    switched_off: frozenset[str]  # campaigns the witness member has used up
    capped: tuple[Campaign, ...]  # applied campaigns whose extra points are capped
    rotation_cap: Decimal | None  # spend up to which the rotation's multiplier holds
    applied: tuple[str, ...]  # rule ids that make the rate, for the description


@dataclass(frozen=True)
class OrderCase:
    points: int  # bonus points the order collects
    campaigns: tuple[Campaign, ...] = ()
    upgrade: int = 0
    detail: tuple[str, ...] = field(default=())


def optional(c: Campaign) -> bool:
    """A campaign a member can have used up (then it no longer applies)."""
    return c.limit_per_member is not None or c.budget_points is not None


def allowance(c: Campaign) -> int | None:
    limits = [v for v in (c.max_points, c.budget_points) if v is not None]
    return min(limits) if limits else None


def _multipliers(found: list[Campaign]) -> tuple[Decimal, frozenset[str], list[Campaign]]:
    """The best product of the multiplier campaigns a line may get: (factor, campaigns
    switched off, campaigns applied)."""
    exclusive = [c for c in found if c.stacking == "exclusive"]
    combine = [c for c in found if c.stacking != "exclusive"]
    options: list[tuple[Decimal, frozenset[str], list[Campaign]]] = []
    if not [c for c in exclusive if not optional(c)]:  # every exclusive one can be used up
        kept = [c for c in combine if not optional(c) or _factor(c) > ONE]
        factor = ONE
        for c in kept:
            factor *= _factor(c)
        off = frozenset(c.id for c in found if c not in kept)
        options.append((factor, off, kept))
    if exclusive:
        best = max(exclusive, key=lambda c: (c.multiplier or ONE, -c.priority))
        options.append((_factor(best), frozenset(), [best]))
    return max(options, key=lambda o: o[0])


def _factor(c: Campaign) -> Decimal:
    if allowance(c) == 0:  # its extra points are capped to nothing
        return ONE
    return c.multiplier if c.multiplier is not None else ONE


def line_case(model: Ruleset, ctx: Context) -> LineCase | None:
    """The best rate a line of `ctx.category` earns in `ctx` (None: the category is
    excluded from earning)."""
    earning = model.earning
    if ctx.category in earning.excluded_categories:
        return None
    found = [c for c in points_campaigns(model) if applies(c, ctx)]
    tier_mult = ctx.tier.multiplier if ctx.tier else ONE
    regular = earning.categories.get(ctx.category or "", ONE)
    best, best_rule = regular, "earning.categories" if ctx.category in earning.categories \
        else "earning.base"
    bonus_campaign: Campaign | None = None
    for c in found:
        if c.type == "category_bonus" and _factor(c) > best:
            best, best_rule, bonus_campaign = _factor(c), c.rule_id, c
    rotation = rotation_of(model, ctx)
    rotation_cap = None
    if rotation is not None and rotation.multiplier > best:
        best, best_rule, bonus_campaign = rotation.multiplier, rotation.rule_id, None
        rotation_cap = rotation.cap_spend
    factor, off, kept = _multipliers([c for c in found if c.type == "multiplier"])
    rate = earning.base_rate * tier_mult * best * factor
    capped = tuple(c for c in (*kept, *([bonus_campaign] if bonus_campaign else []))
                   if allowance(c) is not None)
    cb = earning.cashback
    percent = ZERO
    if cb is not None:
        base = cb.tiers.get(ctx.tier.id if ctx.tier else "", cb.percent)
        percent = max(cb.categories.get(ctx.category or "", ZERO), base)
    applied = tuple(r for r in (
        *([f"tiers.{ctx.tier.id}"] if ctx.tier and tier_mult != ONE else []),
        best_rule if best != ONE else "", *(c.rule_id for c in kept)) if r)
    return LineCase(rate, percent, off, capped, rotation_cap, applied)


def order_case(model: Ruleset, ctx: Context) -> OrderCase:
    """The most bonus points one order collects in `ctx` (an order total large enough for
    every threshold and `min_order`): each fixed-bonus and spend-threshold campaign that
    applies, up to its `max_points` and budget, and the upgrade bonuses of every tier
    above the member's, reached with this order."""
    found = [c for c in points_campaigns(model)
             if c.type in ("fixed_bonus", "spend_threshold") and applies(c, ctx)]
    kept = []
    points = 0
    for c in found:
        cap = allowance(c)
        got = c.points if cap is None else min(c.points, cap)
        if got > 0:
            kept.append(c)
            points += got
    upgrade = 0
    if model.tiers and ctx.tier is not None:
        upgrade = sum(t.upgrade_bonus for t in model.tiers.levels if t.index > ctx.tier.index)
    detail = tuple(c.rule_id for c in kept) + (("tier upgrade bonuses",) if upgrade else ())
    return OrderCase(points + upgrade, tuple(kept), upgrade, detail)


def unsupported(model: Ruleset) -> list[str]:
    """Custom rules whose effects change points: their conditions are arbitrary, so verify
    does not bound them (docs/verify.md)."""
    return [r.rule_id for r in model.rules
            if any(e.kind in ("multiplier", "bonus_points") for e in r.then)]
