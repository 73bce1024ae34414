"""Warnings: what a valid ruleset says that its author probably did not mean.

A warning never makes a ruleset invalid (``loyalty validate`` exits 0 with warnings, 3
with ``--strict``); each is located like an error (engine.errors.RulesetWarning) and
carries a stable code:

* ``unknown_category`` — a category no order is likely to carry: not in the program's
  ``categories:`` list when it declares one (every category named anywhere is checked),
  else a campaign's or rotation's category named nowhere else in the program;
* ``duplicate_campaign`` — a campaign with the same effect, schedule and eligibility as
  an earlier one;
* ``unreachable_campaign`` — a multiplier campaign that an ``exclusive`` one always
  drops (docs/semantics.md §4: on a line with an exclusive campaign only the best
  exclusive one applies);
* ``overlapping_exclusive_campaigns`` — two exclusive multiplier campaigns that can apply
  to the same line on the same day;
* ``unreachable_tier`` — a tier no qualification reaches: whoever meets it meets a higher
  tier's too (tier windows count spend in whole cents and orders one by one);
* ``budget_below_one_order`` — a campaign budget smaller than the bonus one order can
  earn from it;
* ``alert_never_raised`` — an `engagement:` alert the program gives no occasion for
  (points that never expire, no tiers, no catalog, no campaign with a start date).

The functions here read the loaded data and the typed model only: no I/O, no rule
engine, nothing cached, so callers may run them after any successful load.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

from engine.errors import RulesetWarning
from engine.language.build import build
from engine.language.loader import LoadedRuleset, load_sources
from engine.language.model import Campaign, Ruleset, Schedule
from engine.language.schema_check import did_you_mean, located

__all__ = ["CODES", "program_warnings", "source_warnings"]

CODES = ("alert_never_raised", "budget_below_one_order", "duplicate_campaign",
         "overlapping_exclusive_campaigns", "unknown_category", "unreachable_campaign",
         "unreachable_tier")

Path_ = tuple[str | int, ...]
CategoryUse = tuple[Path_, str, bool, str]  # (path, category, at the key?, owner)
# Month lengths and weekdays repeat every 28 years (between 1901 and 2099): a schedule
# without end dates is examined over that long, from its start or from this day.
_CYCLE_DAYS = 28 * 365 + 7
_ANCHOR = date(2001, 1, 1)
_CATEGORY_FIELDS = ("line.category", "order.categories")
_CATEGORY_OPS = ("eq", "ne", "in", "not_in", "contains")
_CENT = Decimal("0.01")


def source_warnings(sources: Mapping[str, str], model: Ruleset | None = None
                    ) -> list[RulesetWarning]:
    """The warnings of a valid ruleset given as ``{file name: YAML text}`` (a loaded
    program's ``sources``; pass its ``model`` to skip building it again)."""
    return program_warnings(load_sources(sources), model)


def program_warnings(loaded: LoadedRuleset, model: Ruleset | None = None
                     ) -> list[RulesetWarning]:
    """Every warning of a loaded ruleset that validation accepted, sorted."""
    checks = _Checks(loaded, model if model is not None else build(loaded.data))
    checks.categories()
    checks.campaigns()
    checks.tiers()
    checks.budgets()
    checks.alerts()
    return sorted(set(checks.found))


class _Checks:
    def __init__(self, loaded: LoadedRuleset, model: Ruleset) -> None:
        self.loaded, self.data, self.model = loaded, loaded.data, model
        self.found: list[RulesetWarning] = []

    def warn(self, path: Path_, code: str, message: str, hint: str | None = None,
             key: bool = False) -> None:
        at = located(self.loaded, path, message, hint, key)
        self.found.append(RulesetWarning(at.file, at.line, at.col, at.path, at.message,
                                         at.hint, code))

    # -- engagement alerts -------------------------------------------------------------
    def alerts(self) -> None:
        model, alerts = self.model, self.model.engagement.alerts
        redemption = model.redemption
        never = [
            ("points_expiring", alerts.expiring_days is not None
             and (redemption is None or not redemption.expiry_months),
             "points never expire in this program (redemption.expiry)"),
            ("tier_within_reach", (alerts.tier_spend is not None or alerts.tier_orders is not None)
             and (model.tiers is None or len(model.tiers.levels) < 2),
             "the program has no tier to reach"),
            ("reward_affordable", alerts.reward_affordable
             and (redemption is None or not redemption.catalog),
             "the program has no catalog reward"),
            ("campaign_starting", alerts.campaign_days is not None
             and not any(c.schedule.start is not None for c in model.campaigns),
             "no campaign has a start date (schedule.from)"),
        ]
        for name, unraised, why in never:
            if unraised:
                self.warn(("engagement", "alerts", name), "alert_never_raised",
                          f"alert '{name}' is never raised: {why}",
                          "Remove the alert or declare what it is about.", key=True)

    # -- categories ------------------------------------------------------------------
    def categories(self) -> None:
        uses = list(_category_uses(self.data))
        declared = self.data.get("categories")
        if declared:
            for path, category, key, _ in uses:
                if category not in declared:
                    self.warn(path, "unknown_category",
                              f"category '{category}' is not in the program's categories",
                              did_you_mean(category, list(declared), "Declared: ")
                              or "Add it to `categories:` or correct the name.", key)
            return
        owners: dict[str, set[str]] = {}
        for _, category, _, owner in uses:
            owners.setdefault(category, set()).add(owner)
        for path, category, key, owner in uses:
            if owner and owners[category] == {owner}:  # campaigns' and rotations' only
                elsewhere = sorted(c for c, named in owners.items() if named != {owner})
                close = did_you_mean(category, elsewhere)
                self.warn(path, "unknown_category",
                          f"category '{category}' is named nowhere else in the program, so "
                          "no order may carry it",
                          f"{close + ' ' if close else ''}Declare the program's categories "
                          "under `categories:` to check every name against one list.", key)

    # -- campaigns ---------------------------------------------------------------------
    def campaigns(self) -> None:
        indexed = list(enumerate(self.model.campaigns))
        reported: set[tuple[str, str]] = set()
        seen: dict[tuple[Any, ...], int] = {}
        for j, later in indexed:
            i = seen.setdefault(_effect(later), j)
            if i != j:
                earlier = self.model.campaigns[i]
                reported.add((earlier.id, later.id))
                line = self.loaded.position(("campaigns", i))[1]
                self.warn(("campaigns", j, "id"), "duplicate_campaign",
                          f"campaign '{later.id}' repeats campaign '{earlier.id}' (line "
                          f"{line}): the same effect, schedule and eligibility",
                          "Remove one of them, or give them different dates or "
                          "eligibility.")
        multipliers = [(i, c) for i, c in indexed if c.type == "multiplier"]
        exclusive = [(i, c) for i, c in multipliers if c.stacking == "exclusive"]
        for j, dropped in multipliers:
            for _, winner in exclusive:
                if winner is dropped or {(winner.id, dropped.id), (dropped.id, winner.id)} \
                        & reported or not _always_drops(winner, dropped):
                    continue
                reported.add((winner.id, dropped.id))
                why = "an exclusive campaign drops every other multiplier campaign" \
                    if dropped.stacking == "combine" else \
                    "only the best exclusive campaign applies (highest multiplier, then first)"
                self.warn(("campaigns", j, "id"), "unreachable_campaign",
                          f"campaign '{dropped.id}' never applies: exclusive campaign "
                          f"'{winner.id}' applies on every day, member, order and line it "
                          f"does, and {why}",
                          f"Remove '{dropped.id}', or narrow '{winner.id}' (dates, "
                          "eligibility, categories).")
                break
        for b, (j, second) in enumerate(exclusive):
            for _, first in exclusive[:b]:
                if {(first.id, second.id), (second.id, first.id)} & reported:
                    continue
                day = _shared_day(first, second)
                if day is None:
                    continue
                best = max((first, second), key=lambda c: (c.multiplier, -c.priority))
                self.warn(("campaigns", j, "stacking"), "overlapping_exclusive_campaigns",
                          f"exclusive campaigns '{first.id}' and '{second.id}' can apply to "
                          f"the same line (first on {day.isoformat()}): only '{best.id}' "
                          "counts there",
                          "Give them dates, eligibility or categories that do not overlap, "
                          "or make one of them `stacking: combine`.")

    # -- tiers -------------------------------------------------------------------------
    def tiers(self) -> None:
        tiers = self.model.tiers
        levels = tiers.levels if tiers else ()
        for tier in levels[1:]:
            need = _cents(tier.min_spend)
            for higher in levels[tier.index + 1:]:
                if _cents(higher.min_spend) <= need and higher.min_orders <= tier.min_orders:
                    self.warn(("tiers", "levels", tier.index, "qualification"),
                              "unreachable_tier",
                              f"no qualification reaches tier '{tier.id}': spend counts in "
                              f"whole cents, and {need} with {tier.min_orders} orders already "
                              f"qualifies for '{higher.id}'",
                              f"Put {tier.id}'s and {higher.id}'s min_spend at least a cent "
                              "apart, or raise the higher tier's min_orders.")
                    break

    # -- budgets -----------------------------------------------------------------------
    def budgets(self) -> None:
        for index, campaign in enumerate(self.model.campaigns):
            budget, most = campaign.budget_points, _one_order_bonus(campaign)
            if budget is None or most is None or budget >= most:
                continue
            self.warn(("campaigns", index, "budget", "points"), "budget_below_one_order",
                      f"budget of {budget} points is smaller than the {most} points one "
                      f"order can earn from campaign '{campaign.id}': the first such order "
                      "uses it all up",
                      f"Raise budget.points to at least {most}, or lower the campaign's "
                      "points or max_points.")


# -- categories ----------------------------------------------------------------------------

def _category_uses(data: Mapping[str, Any]) -> Iterator[CategoryUse]:
    """Every place the ruleset names a category: (path, category, at its key, owner), the
    owner being the campaign's or rotation's path for those, "" elsewhere."""
    earning = data.get("earning") or {}
    for cat in earning.get("categories") or {}:
        yield ("earning", "categories", cat), cat, True, ""
    for k, cat in enumerate((earning.get("exclusions") or {}).get("categories") or []):
        yield ("earning", "exclusions", "categories", k), cat, False, ""
    for cat in (earning.get("cashback") or {}).get("categories") or {}:
        yield ("earning", "cashback", "categories", cat), cat, True, ""
    for section in ("seasonal_categories", "campaigns"):
        for i, item in enumerate(data.get(section) or []):
            for k, cat in enumerate(item.get("categories") or []):
                yield (section, i, "categories", k), cat, False, f"{section}[{i}]"
    for i, rule in enumerate(data.get("rules") or []):
        yield from _condition_categories(("rules", i, "when"), rule.get("when"))


def _condition_categories(path: Path_, cond: Any) -> Iterator[CategoryUse]:
    if not isinstance(cond, Mapping):
        return
    for group in ("all", "any"):
        for j, sub in enumerate(cond.get(group) or []):
            yield from _condition_categories((*path, group, j), sub)
    if "not" in cond:
        yield from _condition_categories((*path, "not"), cond["not"])
    if cond.get("field") not in _CATEGORY_FIELDS:
        return
    for op in _CATEGORY_OPS:
        value = cond.get(op)
        if isinstance(value, str):
            yield (*path, op), value, False, ""
        elif isinstance(value, list):
            for j, item in enumerate(value):
                if isinstance(item, str):
                    yield (*path, op, j), item, False, ""


# -- campaigns -----------------------------------------------------------------------------

def _effect(c: Campaign) -> tuple[Any, ...]:
    """What a campaign does and when: two campaigns alike in all of it are duplicates."""
    return (c.type, c.multiplier, c.categories, c.points, c.threshold, c.friend_bonus,
            c.target_spend, c.window_days, c.schedule, c.eligibility, c.participation,
            c.requires_code)


def runs_on(schedule: Schedule, day: date) -> bool:
    """Whether a campaign schedule runs on the program-local ``day`` (the compiled rule
    `engine/rules/compile.py` `schedule_condition` decides it for orders; the tests hold
    the two together)."""
    if (schedule.start and day < schedule.start) or (schedule.end and day > schedule.end):
        return False
    if schedule.days_of_week and day.weekday() not in schedule.days_of_week:
        return False
    monthly = schedule.monthly
    if monthly:
        low, high = 7 * (monthly.nth - 1) + 1, 7 * monthly.nth
        return any(day.weekday() == (monthly.weekday + k) % 7
                   and low <= (day - timedelta(days=k)).day <= high
                   for k in range(monthly.days))
    return True


def _days(start: date | None, end: date | None) -> Iterator[date]:
    """The days from ``start`` to ``end``, an open side taken as one 28-year cycle."""
    if start is None:
        start = end - timedelta(days=_CYCLE_DAYS) if end else _ANCHOR
    last = start + timedelta(days=_CYCLE_DAYS)
    if end is not None and end < last:
        last = end
    day = start
    while day <= last:
        yield day
        day += timedelta(days=1)


def _later(a: date | None, b: date | None) -> date | None:
    return max(a, b) if a and b else a or b


def _earlier(a: date | None, b: date | None) -> date | None:
    return min(a, b) if a and b else a or b


def _shared_day(a: Campaign, b: Campaign) -> date | None:
    """The first day on which ``a`` and ``b`` can both apply to one line, or None."""
    if not (_meet(a.eligibility.tiers, b.eligibility.tiers)
            and _meet(a.eligibility.channels, b.eligibility.channels)
            and _meet(a.categories, b.categories)):
        return None
    start = _later(a.schedule.start, b.schedule.start)
    end = _earlier(a.schedule.end, b.schedule.end)
    if start and end and end < start:
        return None
    days_a, days_b = a.schedule.days_of_week, b.schedule.days_of_week
    if days_a and days_b and not (days_a & days_b) \
            and not a.schedule.monthly and not b.schedule.monthly:
        return None  # on different days of the week, always
    return next((d for d in _days(start, end)
                 if runs_on(a.schedule, d) and runs_on(b.schedule, d)), None)


def _meet(a: frozenset[str] | None, b: frozenset[str] | None) -> bool:
    """Whether two optional filters (None: anything) can both hold."""
    return a is None or b is None or bool(a & b)


def _covers(wide: frozenset[str] | None, narrow: frozenset[str] | None) -> bool:
    """Whether the filter ``wide`` holds wherever ``narrow`` does (None: anything)."""
    return wide is None or (narrow is not None and narrow <= wide)


def _always_drops(winner: Campaign, dropped: Campaign) -> bool:
    """Whether exclusive ``winner`` applies to every line ``dropped`` applies to, and
    wins there (it is never used up — no usage limit, no budget — and needs neither an
    enrolment nor a code)."""
    if winner.limit_per_member is not None or winner.budget_points is not None:
        return False
    if winner.participation == "opt_in" or winner.requires_code:
        return False
    if dropped.stacking == "exclusive" and \
            (winner.multiplier, -winner.priority) <= (dropped.multiplier, -dropped.priority):
        return False
    w, d = winner.eligibility, dropped.eligibility
    if not (_covers(w.tiers, d.tiers) and _covers(w.channels, d.channels)
            and _covers(w.segments, d.segments) and _covers(winner.categories, dropped.categories)):
        return False
    if w.min_order is not None and (d.min_order is None or d.min_order < w.min_order):
        return False
    ws, ds = winner.schedule, dropped.schedule
    if ws.start and (ds.start is None or ds.start < ws.start):
        return False
    if ws.end and (ds.end is None or ds.end > ws.end):
        return False
    if not ws.days_of_week and not ws.monthly:
        return True  # the winner runs every day of its dates, which hold the other's
    return all(runs_on(ws, d) for d in _days(ds.start, ds.end) if runs_on(ds, d))


def _one_order_bonus(c: Campaign) -> int | None:
    """The most extra points one order can earn from ``c`` (None: no bound, or none)."""
    if c.type in ("fixed_bonus", "spend_threshold"):
        return c.points if c.max_points is None else min(c.points, c.max_points)
    if c.type in ("multiplier", "category_bonus"):
        return c.max_points
    return None


def _cents(amount: Decimal) -> Decimal:
    """The least spend in whole cents at or above ``amount``."""
    return amount.quantize(_CENT, rounding=ROUND_CEILING)

