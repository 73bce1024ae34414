"""Tier qualification: which tier spend and orders earn (the rule engine decides which
thresholds are met: engine/rules/questions.py), progress to the next one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import engine.calendar as calendar
from engine.evaluation.record import Record
from engine.language.model import Tier
from engine.rules.questions import QUALIFYING_ORDERS, QUALIFYING_SPEND

if TYPE_CHECKING:
    from engine.program import Program


def lowest(program: Program) -> Tier | None:
    tiers = program.model.tiers
    return tiers.levels[0] if tiers and tiers.levels else None


_HIGHEST: dict[tuple[str, frozenset[str]], str] = {}  # (tiers group, met) → tier id


def qualify(program: Program, spend: Decimal, orders: int, record: Record | None = None
            ) -> str | None:
    """The highest tier whose min spend AND min orders are both met (the rule engine's
    `tiers` decision; the lowest tier when none is)."""
    tiers = program.model.tiers
    group = program.questions.tiers
    if not tiers or group is None:
        return None
    fact = {QUALIFYING_SPEND: spend, QUALIFYING_ORDERS: orders}
    met = group.decide(fact)
    if record is not None:
        record.add("tiers", group, fact, met)
    found = _HIGHEST.get((group.name, met))
    if found is None:
        found = _HIGHEST[(group.name, met)] = tiers.levels[highest(tiers.levels, met)].id
    return found


def highest(levels: Sequence[Tier], met: frozenset[str]) -> int:
    """The index of the highest tier whose qualification is in `met` (0 without)."""
    for tier in reversed(levels):
        if f"tiers.{tier.id}.qualification" in met:
            return tier.index
    return 0


def next_tier(program: Program, tier_id: str | None) -> Tier | None:
    tiers = program.model.tiers
    current = tiers.get(tier_id) if tiers else None
    if not tiers or current is None:
        return None
    return tiers.levels[current.index + 1] if current.index + 1 < len(tiers.levels) else None


def window_start(program: Program, at: datetime) -> datetime | None:
    """Start of the qualification window containing `at` (None for lifetime windows)."""
    tiers = program.model.tiers
    window = tiers.window if tiers else "lifetime"
    return calendar.window_start(window, calendar.local(program, at), program.timezone)


def held_until(program: Program, since: datetime) -> datetime | None:
    """When a tier held since `since` stops being protected by the downgrade policy — the
    window boundary at which a downgrade takes effect: the end of the window `since` is
    in (`end_of_window`) or of the window after (`end_of_next_window`); None when it
    never is (`never`, a lifetime window, beyond year 9999)."""
    tiers = program.model.tiers
    if tiers is None or tiers.downgrade_policy == "never":
        return None
    windows = 2 if tiers.downgrade_policy == "end_of_next_window" else 1
    local_since = calendar.local(program, since)
    try:
        if tiers.window == "calendar_year":
            return datetime(local_since.year + windows, 1, 1, tzinfo=program.timezone)
        if tiers.window == "rolling_12_months":
            return calendar.add_months(local_since, 12 * windows)
    except (ValueError, OverflowError):
        return None
    return None


def higher(program: Program, a: str | None, b: str | None) -> str | None:
    tiers = program.model.tiers
    if not tiers:
        return a or b
    ta, tb = tiers.get(a), tiers.get(b)
    if ta is None:
        return b
    if tb is None:
        return a
    return a if ta.index >= tb.index else b


def progress(program: Program, tier_id: str | None, spend: Decimal, orders: int) -> dict[str, Any]:
    following = next_tier(program, tier_id)
    if following is None:
        return {"next_tier": None, "spend_needed": "0.00", "orders_needed": 0}
    spend_needed = max(Decimal(0), following.min_spend - spend)
    return {"next_tier": following.id,
            "spend_needed": str(spend_needed.quantize(Decimal("0.01"))),
            "orders_needed": max(0, following.min_orders - orders)}
