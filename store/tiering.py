"""Which tier a stored member holds at an instant, under the program's downgrade policy.

Upgrades happen in the engine (it sees the order). Downgrades are a matter of time:
`end_of_window` keeps a tier until the qualification window it was earned in ends;
`end_of_next_window` until the window after that ends (re-qualifying in a window renews
it); `never` keeps it. A tier the ruleset no longer has is re-qualified from scratch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import engine.evaluation.tiers as tiers

Stats = Callable[[datetime | None, datetime], tuple[Decimal, int]]
TINY = timedelta(microseconds=1)


def _lower(program: Any, a: str | None, b: str | None) -> str | None:
    return b if tiers.higher(program, a, b) == a else a


def requalified(program: Any, at: datetime, stats: Stats) -> str | None:
    """The tier spend and orders earn at `at`: the current window, and for
    `end_of_next_window` also the previous one."""
    model_tiers = program.model.tiers
    start = tiers.window_start(program, at)
    spend, orders = stats(start, at)
    earned = tiers.qualify(program, spend, orders)
    if start is not None and model_tiers.downgrade_policy == "end_of_next_window":
        prev_start = tiers.window_start(program, start - TINY)
        prev_spend, prev_orders = stats(prev_start, start - TINY)
        earned = tiers.higher(program, earned, tiers.qualify(program, prev_spend, prev_orders))
    return earned


def effective_tier(program: Any, tier: str | None, tier_since: datetime | None, at: datetime,
                   stats: Stats) -> str | None:
    model_tiers = program.model.tiers
    if model_tiers is None:
        return None
    if tier is None or model_tiers.get(tier) is None:
        lowest = tiers.lowest(program)
        return requalified(program, at, stats) or (lowest.id if lowest else None)
    policy = model_tiers.downgrade_policy
    if policy == "never" or tier == model_tiers.levels[0].id:
        return tier  # nothing to fall from
    start = tiers.window_start(program, at)
    if start is None:
        return tier
    protected_from = start if policy == "end_of_window" else tiers.window_start(program, start - TINY)
    if tier_since is not None and protected_from is not None and tier_since >= protected_from:
        return tier
    return _lower(program, tier, requalified(program, at, stats))


def fell_at(program: Any, tier: str | None, tier_since: datetime | None,
            at: datetime) -> datetime:
    """When a downgrade from `tier` (held since `tier_since`), found at `at`, took effect:
    at the window boundary where the tier's protection ended — not when a later order or
    read happened to notice it. `at` when there is no such boundary (a member without a
    tier yet, a tier the ruleset no longer has)."""
    if tier is None or tier_since is None or program.model.tiers is None \
            or program.model.tiers.get(tier) is None:
        return at
    ended = tiers.held_until(program, tier_since)
    return ended.astimezone(UTC) if ended is not None and ended <= at else at


def standing(program: Any, tier: str | None, tier_since: datetime | None, at: datetime,
             stats: Stats) -> tuple[str | None, datetime | None]:
    """The tier held at `at` and since when, for reads: a downgrade is dated by `fell_at`;
    a member who never had a tier stored has none since."""
    held = effective_tier(program, tier, tier_since, at, stats)
    if held == tier or tier is None:
        return held, tier_since
    return held, fell_at(program, tier, tier_since, at)


def after_refund(program: Any, tier: str | None, at: datetime, stats: Stats,
                 qualified_before: str | None) -> str | None:
    """A refund takes back the spend that earned a tier: the member falls by as many
    levels as the refund took from what spend and orders qualify for (`qualified_before`
    → now), never upward. A tier held above qualification (a met tier challenge) keeps
    that step: a refund that changes nothing in qualification changes nothing."""
    if program.model.tiers is None or tier is None:
        return tier
    policy = program.model.tiers.downgrade_policy
    if policy == "never":
        return tier
    after = requalified(program, at, stats)
    levels = [level.id for level in program.model.tiers.levels]
    if tier not in levels or after not in levels or qualified_before not in levels:
        return _lower(program, tier, after)
    held = levels.index(tier)
    fell = levels.index(qualified_before) - levels.index(after)
    if fell <= 0:
        return tier
    return levels[min(held, max(levels.index(after), held - fell))]
