"""Ruleset → decision groups registered with the rule engine.

Every rule that depends on the order or the member (campaign schedules and eligibility,
seasonal rotations, custom rules) becomes one condition tree with a stable id. The trees
are compiled to durable-rules in chunks (the native engine fails past a few hundred rules
in one ruleset) named `<program>@<version>#<group>/<n>`. Per-line arithmetic stays in plain
Python (engine/evaluate.py); the engine only decides which rules apply.

Decisions are cached per group, keyed by the fact's `Atoms.key`: two facts with the same
key are decided identically by every rule of the group, so the cache is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine import rules_engine
from engine.conditions import (
    ALWAYS,
    WEEKDAY_NAMES,
    Atoms,
    fact_name,
    flag_name,
    is_number,
    scalar,
    to_durable,
)
from engine.model import Campaign, Rotation, Ruleset, Schedule

CHUNK = 200
CACHE_LIMIT = 50_000


@dataclass(frozen=True)
class CompiledRule:
    id: str
    condition: Mapping[str, Any]


def days_ago_field(k: int) -> str:
    """The fact field holding the day of the month k days before the order (k = 0: its own)."""
    return "order.day_of_month" if k == 0 else f"order.day_of_month_{k}_days_before"


def schedule_condition(schedule: Schedule) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if schedule.start:
        parts.append({"field": "order.local_date", "gte": schedule.start.isoformat()})
    if schedule.end:
        parts.append({"field": "order.local_date", "lte": schedule.end.isoformat()})
    if schedule.days_of_week:
        parts.append({"field": "order.weekday",
                      "in": [WEEKDAY_NAMES[d] for d in sorted(schedule.days_of_week)]})
    if schedule.monthly:
        m = schedule.monthly
        # Day k of the window is the day whose date k days earlier was the nth weekday w
        # (in its own month, so a window may run into the next month): it falls on
        # weekday w + k, and k days before it the day of the month was 7(n-1)+1 … 7n.
        parts.append({"any": [
            {"all": [{"field": "order.weekday", "eq": WEEKDAY_NAMES[(m.weekday + k) % 7]},
                     {"field": days_ago_field(k), "between": [7 * (m.nth - 1) + 1, 7 * m.nth]}]}
            for k in range(m.days)
        ]})
    return parts


def campaign_condition(campaign: Campaign) -> dict[str, Any]:
    parts = schedule_condition(campaign.schedule)
    elig = campaign.eligibility
    if elig.tiers:
        parts.append({"field": "member.tier", "in": sorted(elig.tiers)})
    if elig.segments:
        parts.append({"any": [{"field": "member.attributes.segments", "contains": s}
                              for s in sorted(elig.segments)]})
    if elig.channels:
        parts.append({"field": "order.channel", "in": sorted(elig.channels)})
    if elig.min_order is not None:
        parts.append({"field": "order.total", "gte": str(elig.min_order)})
    if campaign.type == "spend_threshold" and campaign.threshold is not None:
        parts.append({"field": "order.total", "gte": str(campaign.threshold)})
    return {"all": parts}


def rotation_condition(rotation: Rotation) -> dict[str, Any]:
    return {"all": [{"field": "order.local_date",
                     "between": [rotation.start.isoformat(), rotation.end.isoformat()]}]}


@dataclass
class DecisionGroup:
    """Rules decided together on one kind of fact (the order, or one line)."""

    name: str
    rules: Sequence[CompiledRule]
    atoms: Atoms = field(default_factory=Atoms)
    chunks: list[str] = field(default_factory=list)
    cache: dict[tuple[Any, ...], frozenset[str]] = field(default_factory=dict)
    use_cache: bool = True
    _order_plan: tuple = ()
    _line_plan: tuple | None = None

    def __post_init__(self) -> None:
        for rule in self.rules:
            self.atoms.add(rule.condition)
        self.atoms.freeze()
        for start in range(0, len(self.rules), CHUNK):
            part = self.rules[start:start + CHUNK]
            chunk_name = f"{self.name}/{start // CHUNK}"
            rules_engine.register(chunk_name, {
                r.id: {"all": [{"m": {"$and": [dict(ALWAYS), to_durable(r.condition)]}}]}
                for r in part
            })
            self.chunks.append(chunk_name)

    def durable_fact(self, fact: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = dict(ALWAYS)
        for path in self.atoms.fields:
            value = fact.get(path)
            if path in self.atoms.members:
                if isinstance(value, (list, tuple, set, frozenset)):
                    for member in self.atoms.members[path]:
                        out[flag_name(path, member)] = member in value
                continue  # missing or not a list: no flag, so `contains` is false both ways
            if value is None or isinstance(value, (list, tuple, set, frozenset, dict)):
                continue
            value = scalar(value)
            if is_number(value):
                number = int(value) if type(value) is int or value == int(value) else float(value)
                out[fact_name(path, numeric=True)] = number
                out[fact_name(path)] = number
            else:
                out[fact_name(path)] = value
        return out

    def decide(self, fact: Mapping[str, Any]) -> frozenset[str]:
        if not self.rules:
            return frozenset()
        key = self.atoms.key(fact) if self.use_cache else None
        if key is not None:
            hit = self.cache.get(key)
            if hit is not None:
                return hit
        return self._decide(fact, key)

    def decide_lines(self, order_fact: Mapping[str, Any], lines: Sequence[Any],
                     line_fact: Callable[[Mapping[str, Any], Any], dict[str, Any]],
                     ) -> list[frozenset[str]]:
        """Decide each line; the order's part of the cache key is computed once."""
        if not self.rules:
            return [frozenset()] * len(lines)
        if not self.use_cache:
            return [self._decide(line_fact(order_fact, ln), None) for ln in lines]
        atoms = self.atoms
        if self._line_plan is None:
            self._order_plan = atoms.plan("line.", exclude=True)
            self._line_plan = atoms.plan("line.")
        head = atoms.key(order_fact, self._order_plan)
        # line.<name> is the request line's attribute <name> (sku, category, quantity, ...)
        plan = [(path[5:], part) for path, part in self._line_plan]
        out = []
        for ln in lines:
            key = head + tuple(None if (v := getattr(ln, name, None)) is None else part(v)
                               for name, part in plan)
            hit = self.cache.get(key)
            out.append(hit if hit is not None else self._decide(line_fact(order_fact, ln), key))
        return out

    def _decide(self, fact: Mapping[str, Any], key: tuple[Any, ...] | None) -> frozenset[str]:
        durable_fact = self.durable_fact(fact)
        fired: set[str] = set()
        for chunk in self.chunks:
            fired.update(rules_engine.fire(chunk, durable_fact))
        decision = frozenset(fired)
        if key is not None:
            if len(self.cache) >= CACHE_LIMIT:
                self.cache.clear()
            self.cache[key] = decision
        return decision


@dataclass
class Compiled:
    order: DecisionGroup
    line: DecisionGroup
    conditions: Mapping[str, Mapping[str, Any]]


def compile_ruleset(model: Ruleset, name: str) -> Compiled:
    """Compile `model` into decision groups registered under `name` (e.g. `retail@3`)."""
    order_rules: list[CompiledRule] = []
    line_rules: list[CompiledRule] = []
    for rotation in model.rotations:
        order_rules.append(CompiledRule(rotation.rule_id, rotation_condition(rotation)))
    for campaign in model.campaigns:
        order_rules.append(CompiledRule(campaign.rule_id, campaign_condition(campaign)))
    for rule in model.rules:
        target = line_rules if rule.line_level else order_rules
        target.append(CompiledRule(rule.rule_id, rule.when))
    conditions = {r.id: r.condition for r in order_rules + line_rules}
    return Compiled(order=DecisionGroup(f"{name}#order", order_rules),
                    line=DecisionGroup(f"{name}#line", line_rules), conditions=conditions)
