"""A member's standing from the tables as of revision 0009: tier and qualification
windows (from the orders' qualifying spend), usage (from `usage_counters`), automatic
redemption settings, referrals.

The tier is what the lifecycle core holds at the book's instant (`TierRules.held`) with
the windows rebuilt from the orders; a met tier challenge counts as a tier granted in
the window of the order that met it, as the core records it. Where that is the stored
tier, the stored `tier_since` stays; where the stored tier fell due by time since (the
old store noticed a downgrade only at the member's next order), the tier is dated at
the boundary where its protection ended, as the core dates it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import engine.evaluation.tiers as engine_tiers
from engine.lifecycle.book import AutoSettings, Challenge, MemberBook, Qualifying, Window
from engine.lifecycle.context import Lifecycle
from store.db.types import money_text
from store.migrations.books.rows import MemberRows

ZERO = Decimal(0)


def money(value: Decimal | None) -> Decimal:
    """A money column's value (read with four places) as the engine writes money:
    at least two places, none beyond the last significant one."""
    return ZERO if value is None else Decimal(money_text(value))


def granted_by(result: dict[str, Any]) -> str | None:
    """The tier an order's met tier challenge granted (None: none met)."""
    if any(c.get("tier_advance") for c in result.get("campaigns") or ()):
        return result.get("tier_after")
    return None


def qualification(lc: Lifecycle, book: MemberBook, orders: list[Any]) -> None:
    """Windows (or rolling entries) from the orders' qualifying spend after refunds; an
    order refunded in full counts no more."""
    tiers = lc.tiers
    if tiers is None:
        return
    for order in sorted(orders, key=lambda o: (o.placed_at, o.id)):
        spend, counted = money(order.qualifying_spend), int(bool(order.counted))
        granted = granted_by(order.result or {})
        if granted is not None and granted not in tiers.ids:
            granted = None
        if tiers.window == "rolling_12_months":
            book.rolling.append(Qualifying(order.placed_at, order.order_id, spend, counted,
                                           granted))
            continue
        window = book.windows.setdefault(tiers.key(order.placed_at), Window())
        window.spend += spend
        window.orders += counted
        if granted is not None and tiers.index(granted) > tiers.index(window.granted):
            window.granted = granted


def _tiers_shown(rows: MemberRows) -> list[str]:
    shown = [rows.member.tier]
    for order in rows.orders:
        result = order.result or {}
        shown += [result.get("tier_after"), (result.get("member") or {}).get("tier")]
    for refunds in rows.refunds.values():
        shown += [(r.result or {}).get("tier_before") for r in refunds]
    return [tier for tier in shown if tier]


def tier(lc: Lifecycle, book: MemberBook, rows: MemberRows, at: datetime) -> None:
    """The tier held at `at`, since when, and the best tier ever held."""
    tiers = lc.tiers
    if tiers is None:
        return
    shown = [t for t in _tiers_shown(rows) if t in tiers.ids]
    book.best_tier = max(shown, key=tiers.index) if shown else None
    held = tiers.ids[tiers.held(book, at)]
    stored, since = rows.member.tier, rows.member.tier_since
    if stored is None:  # the member never had an order: the lowest tier since enrolment
        book.tier, book.tier_since = held, book.enrolled_at
    elif held == stored:
        book.tier, book.tier_since = held, since or book.enrolled_at
    else:
        ended = engine_tiers.held_until(lc.program, since) if since is not None else None
        fell = ended.astimezone(UTC) if ended is not None and ended <= at else at
        book.tier, book.tier_since = held, fell if tiers.index(held) < tiers.index(stored) \
            else at
    book.best_tier = max(shown + [held], key=tiers.index)
    tiers.prune(book, at)


def _latest(rows: list[Any]) -> Any:
    """The counter row of the latest period (period keys of one kind sort by time)."""
    return max(rows, key=lambda r: r.period)


def usage(lc: Lifecycle, book: MemberBook, rows: MemberRows) -> None:
    """Caps, campaign uses, running tier challenges, activity counts, upgrades paid and
    automatic redemptions counted, from the member's usage counters."""
    by_kind: dict[str, dict[str, list[Any]]] = {}
    for row in rows.counters:
        by_kind.setdefault(row.kind, {}).setdefault(row.key, []).append(row)
    book.caps = _caps(lc, rows, by_kind.get("cap", {}))
    book.campaigns = {key: [int(sum(r.count for r in found)), int(sum(r.points for r in found))]
                      for key, found in by_kind.get("campaign", {}).items()}
    book.challenges = _challenges(lc, rows, by_kind.get("challenge", {}))
    book.activities = {key: ((last := _latest(found)).period, int(last.count))
                       for key, found in by_kind.get("activity", {}).items()}
    book.awarded_upgrades = [key for key, found in by_kind.get("upgrade", {}).items()
                             if sum(r.count for r in found) > 0]
    auto = by_kind.get("auto", {}).get("redemption.automatic")
    if auto:
        last = _latest(auto)
        book.auto_used = (last.period, int(last.count))


def _caps(lc: Lifecycle, rows: MemberRows, counters: dict[str, list[Any]]
          ) -> dict[str, tuple[str, Decimal]]:
    """Each rotation's spend in the period of the member's latest order that used it."""
    caps: dict[str, tuple[str, Decimal]] = {}
    for order in sorted(rows.orders, key=lambda o: (o.placed_at, o.id)):
        for cap in ((order.result or {}).get("usage") or {}).get("caps") or ():
            rotation = lc.rotations.get(cap["rule"])
            if rotation is not None:
                period = lc.cap_period(rotation, order.placed_at)
                spent = next((r.amount for r in counters.get(cap["rule"], ())
                              if r.period == period), ZERO)
                caps[cap["rule"]] = (period, money(spent))
    return caps


def challenge_met(rows: MemberRows, campaign: str, since: datetime) -> bool:
    """Whether an order met the tier challenge at or after `since`."""
    return any(at >= since for at in rows.challenges_met().get(campaign, ()))


def _challenges(lc: Lifecycle, rows: MemberRows, counters: dict[str, list[Any]]
                ) -> dict[str, Challenge]:
    """Tier challenges still running: the core closes a challenge when an order meets it
    (the next order starts a new one), the old counter kept adding to it."""
    out = {}
    for key, found in counters.items():
        row = found[-1]
        if row.started_at is None or challenge_met(rows, key, row.started_at):
            continue
        days = lc.challenge_days.get(key)
        out[key] = Challenge(row.started_at, row.started_at + timedelta(days=days)
                             if days else None, money(row.amount))
    return out


def automatic(book: MemberBook, rows: MemberRows) -> None:
    row = rows.auto
    if row is not None:
        book.auto = AutoSettings(bool(row.enabled), int(row.threshold), int(row.unit),
                                 str(row.method), row.frequency_count, row.frequency_per)
    book.referred_by, book.referred = rows.referred_by, list(rows.referred)
