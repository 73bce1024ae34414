"""Validate a loaded ruleset: JSON Schema first (engine.language.schema_check), then the semantic
checks a schema cannot express: tier order, unique ids, references, date windows,
overlapping rotations, condition fields and operands, size limits.

Every problem is collected (nothing stops at the first), located at ``file:line:col`` and
a JSON path, phrased for the person editing the YAML, and the list comes back sorted.
"""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from engine.errors import RulesetError, RulesetInvalid, format_path
from engine.language.engagement_check import engagement_errors
from engine.language.loader import LoadedRuleset, load_path
from engine.language.schema_check import did_you_mean as _did_you_mean
from engine.language.schema_check import located as _at
from engine.language.schema_check import schema_errors
from engine.language.schema_check import show as _show

__all__ = ["MAX_CAMPAIGNS_AND_RULES", "MAX_FIELD_SEGMENTS", "validate", "validate_path"]

MAX_CAMPAIGNS_AND_RULES = 2_000  # the compiler's budget for one ruleset
MAX_FIELD_SEGMENTS = 4  # member.attributes.<name> is 3; one more level is allowed
FACTS = ("member", "order", "line", "context")
_SEGMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T")

Path_ = tuple[str | int, ...]


def validate_path(path: str | Path) -> list[RulesetError]:
    """Load and validate a ruleset file or folder; loader problems come back as errors."""
    try:
        loaded = load_path(path)
    except RulesetInvalid as exc:
        return exc.errors
    return validate(loaded)


def validate(loaded: LoadedRuleset) -> list[RulesetError]:
    """Every problem in ``loaded``, sorted; an empty list means the ruleset is valid."""
    errors = schema_errors(loaded)
    errors.extend(_Semantics(loaded).run())
    errors.extend(engagement_errors(loaded))
    return sorted(set(errors))


# -- semantic checks -----------------------------------------------------------------------

def _dec(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str) and _DECIMAL.match(value):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def _items(value: Any) -> list[tuple[int, dict[str, Any]]]:
    """The mappings in a list, with their indexes (anything else is the schema's business)."""
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)] \
        if isinstance(value, list) else []


class _Semantics:
    def __init__(self, loaded: LoadedRuleset) -> None:
        self.loaded = loaded
        self.data = loaded.data
        self.errors: list[RulesetError] = []
        tiers = self.data.get("tiers")
        levels = tiers.get("levels") if isinstance(tiers, dict) else None
        self.levels = _items(levels)
        self.tier_ids = [lv["id"] for _, lv in self.levels if isinstance(lv.get("id"), str)]
        redemption = self.data.get("redemption")
        self.redemption = redemption if isinstance(redemption, dict) else {}
        self.catalog = _items(self.redemption.get("catalog"))
        self.reward_ids = [it["id"] for _, it in self.catalog if isinstance(it.get("id"), str)]
        self.campaigns = _items(self.data.get("campaigns"))
        self.rotations = _items(self.data.get("seasonal_categories"))
        self.rules = _items(self.data.get("rules"))

    def add(self, path: Path_, message: str, hint: str | None = None, key: bool = False) -> None:
        self.errors.append(_at(self.loaded, path, message, hint, key))

    def run(self) -> list[RulesetError]:
        self.header()
        self.tiers()
        for section, items in (("tiers", self.levels), ("campaigns", self.campaigns),
                               ("seasonal_categories", self.rotations),
                               ("redemption", self.catalog), ("rules", self.rules)):
            self.unique_ids(section, items)
        self.references()
        self.windows()
        self.rotation_overlaps()
        self.excluded_categories()
        self.rule_conditions()
        self.sizes()
        return self.errors

    def header(self) -> None:
        tz = self.data.get("timezone")
        if isinstance(tz, str) and tz:
            try:
                ZoneInfo(tz)
            except (ValueError, OSError, KeyError):
                close = difflib.get_close_matches(tz, sorted(available_timezones()), n=1)
                hint = f"Did you mean '{close[0]}'?" if close else \
                    "Use an IANA zone name such as America/Chicago or UTC."
                self.add(("timezone",), f"unknown timezone '{tz}'", hint)
        start = self.data.get("effective_from")
        if isinstance(start, str) and _INSTANT.match(start):
            try:
                datetime.fromisoformat(start)
            except ValueError:
                self.add(("effective_from",), f"'{start}' is not a real instant")

    def tiers(self) -> None:
        previous: tuple[str, Decimal, int] | None = None
        for index, level in self.levels:
            qual = level.get("qualification")
            if not isinstance(qual, dict):
                return
            spend, orders = _dec(qual.get("min_spend")), qual.get("min_orders")
            if spend is None or not isinstance(orders, int) or isinstance(orders, bool):
                return
            name, base = str(level.get("id")), ("tiers", "levels", index, "qualification")
            if previous is None and (spend != 0 or orders != 0):
                self.add(base, f"the first tier '{name}' must need min_spend 0 and min_orders 0",
                         "Every member starts in the first tier; lower its qualification to "
                         "zero or add a tier below it.")
            elif previous is not None:
                low_name, low_spend, low_orders = previous
                if spend <= low_spend:
                    self.add(("tiers", "levels", index - 1, "qualification", "min_spend"),
                             f"unreachable tier '{low_name}': its min_spend {low_spend} is not "
                             f"below {name}'s {spend}",
                             f"Tier '{low_name}' is unreachable. Lower its min_spend below "
                             f"{name}'s or remove it.")
                if orders < low_orders:
                    self.add((*base, "min_orders"),
                             f"tier '{name}' needs fewer orders ({orders}) than the tier below "
                             f"it, '{low_name}' ({low_orders})",
                             f"Raise {name}'s min_orders to at least {low_orders} or reorder "
                             "the levels.")
            previous = (name, spend, orders)

    def unique_ids(self, section: str, items: list[tuple[int, dict[str, Any]]]) -> None:
        base: Path_ = ("tiers", "levels") if section == "tiers" else \
            ("redemption", "catalog") if section == "redemption" else (section,)
        seen: dict[str, int] = {}
        for index, item in items:
            ident = item.get("id")
            if not isinstance(ident, str):
                continue
            if ident in seen:
                first = self.loaded.position((*base, seen[ident], "id"))
                self.add((*base, index, "id"), f"duplicate id '{ident}'",
                         f"It is already used by {format_path((*base, seen[ident]))} "
                         f"(line {first[1]}); ids must be unique.")
            else:
                seen[ident] = index

    def reference(self, path: Path_, value: Any, known: list[str], what: str) -> None:
        if isinstance(value, str) and value not in known:
            hint = _did_you_mean(value, known, f"Known {what}s: ") if known else \
                f"No {what}s are defined in this ruleset."
            self.add(path, f"unknown {what} '{value}'", hint)

    def references(self) -> None:
        for index, campaign in self.campaigns:
            elig = campaign.get("eligibility")
            tiers = elig.get("tiers") if isinstance(elig, dict) else None
            for j, tier in enumerate(tiers if isinstance(tiers, list) else []):
                self.reference(("campaigns", index, "eligibility", "tiers", j), tier,
                               self.tier_ids, "tier")
        for index, item in self.catalog:
            tiers = item.get("tiers")
            for j, tier in enumerate(tiers if isinstance(tiers, list) else []):
                self.reference(("redemption", "catalog", index, "tiers", j), tier,
                               self.tier_ids, "tier")
        earning = self.data.get("earning")
        cashback = earning.get("cashback") if isinstance(earning, dict) else None
        by_tier = cashback.get("tiers") if isinstance(cashback, dict) else None
        for tier in by_tier if isinstance(by_tier, dict) else {}:
            if tier not in self.tier_ids:
                self.add(("earning", "cashback", "tiers", tier), f"unknown tier '{tier}'",
                         _did_you_mean(tier, self.tier_ids, "Known tiers: ")
                         or "No tiers are defined in this ruleset.", key=True)
        for index, rule in self.rules:
            for j, effect in _items(rule.get("then")):
                if "grant_reward" in effect:
                    self.reference(("rules", index, "then", j, "grant_reward"),
                                   effect["grant_reward"], self.reward_ids, "reward")
        auto = self.redemption.get("automatic")
        if isinstance(auto, dict) and isinstance(auto.get("unit"), int) \
                and isinstance(auto.get("threshold"), int) and auto["unit"] > auto["threshold"]:
            self.add(("redemption", "automatic", "unit"),
                     f"unit {auto['unit']} is larger than the threshold {auto['threshold']}",
                     "A member at the threshold must be able to redeem one unit.")
        account = self.redemption.get("account")
        if isinstance(account, dict) and account.get("type") == "external":
            reasons = {
                "expiry": "points expire where they are kept: the external points API owns "
                          "expiry",
                "automatic": "automatic redemption runs inside an order commit, which does "
                             "not call the external points API"}
            for section, why in reasons.items():
                if section in self.redemption:
                    self.add(("redemption", section), f"'{section}' needs balances in the "
                             f"platform's own ledger, but `redemption.account` is external",
                             f"Remove it: {why}.", key=True)

    def date_at(self, path: Path_, value: Any) -> date | None:
        if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}$", value):
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.add(path, f"'{value}' is not a real date")
            return None

    def window(self, base: Path_, holder: Any) -> tuple[date, date] | None:
        if not isinstance(holder, dict):
            return None
        start = self.date_at((*base, "from"), holder.get("from"))
        end = self.date_at((*base, "to"), holder.get("to"))
        if start and end and end < start:
            self.add((*base, "to"), f"window ends ({end}) before it starts ({start})",
                     "Swap 'from' and 'to', or fix the dates.")
            return None
        return (start, end) if start and end else None

    def windows(self) -> None:
        for index, campaign in self.campaigns:
            self.window(("campaigns", index, "schedule"), campaign.get("schedule"))

    def rotation_overlaps(self) -> None:
        spans = [(i, r, self.window(("seasonal_categories", i), r)) for i, r in self.rotations]
        dated = [(i, r, w) for i, r, w in spans if w is not None]
        for a, (_, first, (start1, end1)) in enumerate(dated):
            for j, second, (start2, end2) in dated[a + 1:]:
                if start2 > end1 or start1 > end2:
                    continue
                cats = second.get("categories")
                for k, cat in enumerate(cats if isinstance(cats, list) else []):
                    if cat in (first.get("categories") or []):
                        self.add(("seasonal_categories", j, "categories", k),
                                 f"category '{cat}' is also in rotation '{first.get('id')}', "
                                 f"whose dates overlap ({max(start1, start2)} to "
                                 f"{min(end1, end2)})",
                                 "Make the rotations' dates not overlap or drop the category "
                                 "from one of them.")

    def excluded_categories(self) -> None:
        earning = self.data.get("earning")
        if not isinstance(earning, dict) or not isinstance(earning.get("exclusions"), dict):
            return
        excluded = earning["exclusions"].get("categories")
        if not isinstance(excluded, list) or not excluded:
            return
        hint = "Excluded categories earn nothing; remove the bonus or the exclusion."
        for cat in earning.get("categories") or {}:
            if cat in excluded:
                self.add(("earning", "categories", cat),
                         f"category '{cat}' has a multiplier but is excluded from earning",
                         hint, key=True)
        for section, items in (("seasonal_categories", self.rotations),
                               ("campaigns", self.campaigns)):
            for index, item in items:
                cats = item.get("categories")
                for k, cat in enumerate(cats if isinstance(cats, list) else []):
                    if cat in excluded:
                        self.add((section, index, "categories", k),
                                 f"category '{cat}' is excluded from earning", hint)

    def rule_conditions(self) -> None:
        for index, rule in self.rules:
            self.condition(("rules", index, "when"), rule.get("when"))

    def condition(self, path: Path_, cond: Any) -> None:
        if not isinstance(cond, dict):
            return
        for group in ("all", "any"):
            subs = cond.get(group)
            for j, sub in enumerate(subs if isinstance(subs, list) else []):
                self.condition((*path, group, j), sub)
        if "not" in cond:
            self.condition((*path, "not"), cond["not"])
        field = cond.get("field")
        if isinstance(field, str):
            self.field(path, field)
        for op in ("eq", "ne", "in", "not_in") if field == "member.tier" else ():
            values = cond.get(op)
            if isinstance(values, list):
                for j, value in enumerate(values):
                    self.reference((*path, op, j), value, self.tier_ids, "tier")
            elif op in cond:
                self.reference((*path, op), values, self.tier_ids, "tier")
        if "between" in cond:
            self.between((*path, "between"), cond["between"])

    def field(self, path: Path_, field: str) -> None:
        segments = field.split(".")
        if segments[0] not in FACTS or len(segments) < 2:
            self.add((*path, "field"), f"field '{field}' must start with member., order., "
                     "line. or context.", _did_you_mean(segments[0], list(FACTS)))
        elif not all(_SEGMENT.match(s) for s in segments):
            self.add((*path, "field"), f"field '{field}' is not a dotted name",
                     "Each part is letters, digits and '_', e.g. member.attributes.segments.")
        elif len(segments) > MAX_FIELD_SEGMENTS:
            self.add((*path, "field"), f"field '{field}' is deeper than "
                     f"{MAX_FIELD_SEGMENTS} segments",
                     "Pass the value flatter, e.g. as context.<name>.")

    def between(self, path: Path_, bounds: Any) -> None:
        if not isinstance(bounds, list):
            return
        if len(bounds) != 2:
            self.add(path, f"between takes exactly [low, high], got {len(bounds)} "
                     f"value{'s' if len(bounds) != 1 else ''}", "Write between: [low, high].")
            return
        low, high = bounds
        low_n, high_n = _dec(low), _dec(high)
        if (low_n is None) != (high_n is None):
            self.add(path, "between bounds must both be numbers or both be dates/strings")
        elif (low_n is not None and high_n is not None and low_n > high_n) \
                or (low_n is None and str(low) > str(high)):
            self.add(path, f"between low {_show(low)} is above high {_show(high)}",
                     "Write between: [low, high] with low ≤ high.")

    def sizes(self) -> None:
        total = len(self.campaigns) + len(self.rules)
        if total > MAX_CAMPAIGNS_AND_RULES:
            self.add(("rules",) if self.rules else ("campaigns",),
                     f"{total} campaigns and rules in total; at most "
                     f"{MAX_CAMPAIGNS_AND_RULES} compile into one ruleset",
                     "Merge similar rules or split the program.")
