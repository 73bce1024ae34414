"""Ruleset → decision groups registered with the rule engine.

Every rule that depends on the order or the member (campaign schedules and eligibility,
campaigns' usage limits and budgets, seasonal rotations, custom rules) becomes one
condition tree with a stable id (more questions, asked on other facts:
engine/rules/questions.py). The trees
are compiled on integer codes of the fact's values (engine/rules/encoding.py) and registered
with durable-rules as one or more rulesets named `<program>@<version>#<group>/<n>`: as
many as it takes for none to reach a limit of the native engine, however many of its
conditions hold at once (engine/rules/alpha.py) — one for every shipped program. A rule too
large for any one of them is split into parts decided there and combined here. Per-line
arithmetic stays in plain Python (engine/evaluation/evaluate.py); the engine only decides which rules
apply.

Decisions are cached per group, keyed by the fact's codes (`Encoding.key`): two facts
with the same key send the engine the same integers, so the cache is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import engine.rules.adapter as rules_engine
from engine.language.model import Campaign, Rotation, Ruleset, Schedule
from engine.rules.alpha import pack, properties, split
from engine.rules.conditions import WEEKDAY_NAMES, leaf_key, leaves
from engine.rules.encoding import Encoding

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
    if campaign.participation == "opt_in":
        parts.append({"field": enrolled_field(campaign.id), "eq": 1})
    if campaign.requires_code:
        parts.append({"field": code_field(campaign.id), "eq": 1})
    return {"all": parts}


def enrolled_field(campaign_id: str) -> str:
    """1 when the member is enrolled in opt-in campaign `campaign_id`, else 0."""
    return f"member.enrolled.{campaign_id}"


def code_field(campaign_id: str) -> str:
    """1 when the order presents a valid coupon code of campaign `campaign_id`, else 0."""
    return f"order.code.{campaign_id}"


def usage_field(campaign_id: str) -> str:
    return f"member.campaign_usage.{campaign_id}"


def budget_field(campaign_id: str) -> str:
    return f"program.campaign_budget_used.{campaign_id}"


def limit_rules(campaigns: Sequence[Campaign]) -> list[CompiledRule]:
    """A campaign is used up once the member's uses reach its limit
    (`campaigns.<id>.limit_per_member`), or once the points it gave reach its budget
    (`campaigns.<id>.budget`), both counted before this order. Decided with the order's
    rules: the order fact carries the counts."""
    out = []
    for c in campaigns:
        if c.limit_per_member is not None:
            out.append(CompiledRule(f"{c.rule_id}.limit_per_member",
                                    {"field": usage_field(c.id), "gte": c.limit_per_member}))
        if c.budget_points is not None:
            out.append(CompiledRule(f"{c.rule_id}.budget",
                                    {"field": budget_field(c.id), "gte": c.budget_points}))
    return out


def rotation_condition(rotation: Rotation) -> dict[str, Any]:
    return {"all": [{"field": "order.local_date",
                     "between": [rotation.start.isoformat(), rotation.end.isoformat()]}]}


@dataclass(frozen=True)
class Chunk:
    """One registered durable-rules ruleset and the fact properties its parts compare."""

    name: str
    props: tuple[str, ...]


Glue = Any  # a part index, or ("all" | "any", (glue, ...))


def _holds(glue: Glue, fired: set[int]) -> bool:
    if isinstance(glue, int):
        return glue in fired
    op, items = glue
    return (all if op == "all" else any)(_holds(g, fired) for g in items)


@dataclass
class DecisionGroup:
    """Rules decided together on one kind of fact (the order, or one line)."""

    name: str
    rules: Sequence[CompiledRule]
    encoding: Encoding = field(default_factory=Encoding)
    chunks: list[Chunk] = field(default_factory=list)
    cache: dict[tuple[Any, ...], frozenset[str]] = field(default_factory=dict)
    use_cache: bool = True
    _order_plan: tuple = ()
    _line_plan: tuple | None = None
    _comparisons: DecisionGroup | None = None
    _by_id: dict[str, Mapping[str, Any]] | None = None

    def __post_init__(self) -> None:
        for rule in self.rules:
            self.encoding.add(rule.condition)
        self.encoding.freeze()
        parts: list[dict[str, Any]] = []
        self._simple: list[tuple[str, int]] = []  # rules decided by one part
        self._glued: list[tuple[str, Glue]] = []  # rules split into parts
        for rule in self.rules:
            glue = _number(split(self.encoding.to_durable(rule.condition)), parts)
            (self._simple if isinstance(glue, int) else self._glued).append((rule.id, glue))
        # Facts carry kind=fact for the catch-all rule (rules_engine); rules need not test it.
        for n, run in enumerate(pack(parts)):
            name = f"{self.name}/{n}"
            rules_engine.register(name, {str(i): {"all": [{"m": parts[i]}]} for i in run})
            self.chunks.append(Chunk(name, tuple(properties([parts[i] for i in run]))))

    def ids(self) -> Mapping[str, Mapping[str, Any]]:
        """The group's rules: id → condition tree."""
        if self._by_id is None:
            self._by_id = {r.id: r.condition for r in self.rules}
        return self._by_id

    def condition(self, rule: str) -> Mapping[str, Any]:
        """The condition tree of rule `rule` of this group."""
        return self.ids()[rule]

    def decide(self, fact: Mapping[str, Any]) -> frozenset[str]:
        if not self.rules:
            return frozenset()
        key = self.encoding.key(fact)
        if self.use_cache:
            hit = self.cache.get(key)
            if hit is not None:
                return hit
        return self._decide(key)

    def comparisons(self, fact: Mapping[str, Any]) -> frozenset[str]:
        """Which comparisons (leaves, by `leaf_key`) of the group's conditions hold for
        `fact`, decided by the rule engine: what explain shows of a decision. Compiled
        the first time it is asked (explain only), as a group of one rule per leaf."""
        if self._comparisons is None:
            found = {leaf_key(leaf): leaf for rule in self.rules
                     for leaf in leaves(rule.condition)}
            self._comparisons = DecisionGroup(
                f"{self.name}~comparisons", [CompiledRule(k, v) for k, v in found.items()])
        return self._comparisons.decide(fact) if self._comparisons.rules else frozenset()

    def decide_lines(self, order_fact: Mapping[str, Any], lines: Sequence[Any],
                     line_fact: Callable[[Mapping[str, Any], Any], dict[str, Any]] | None = None,
                     ) -> list[frozenset[str]]:
        """Decide each line; the order's part of the key is computed once. (A line's fact
        is its key: `line_fact` is not needed and kept for callers that pass it.)"""
        if not self.rules:
            return [frozenset()] * len(lines)
        encoding = self.encoding
        if self._line_plan is None:
            self._order_plan = encoding.plan("line.", exclude=True)
            self._line_plan = encoding.plan("line.")
        head = encoding.key(order_fact, self._order_plan)
        # line.<name> is the request line's attribute <name> (sku, category, quantity, ...)
        plan = [(path[5:], part) for path, part in self._line_plan]
        cache = self.cache if self.use_cache else {}
        out = []
        for ln in lines:
            key = head + tuple(None if (v := getattr(ln, name, None)) is None else part(v)
                               for name, part in plan)
            hit = cache.get(key)
            out.append(hit if hit is not None else self._decide(key))
        return out

    def _decide(self, key: tuple[Any, ...]) -> frozenset[str]:
        props = self.encoding.props(key)
        fired: set[int] = set()
        for chunk in self.chunks:
            fact: dict[str, Any] = {"kind": "fact"}
            for name in chunk.props:
                fact[name] = props[name]
            fired.update(map(int, rules_engine.fire(chunk.name, fact)))
        decision = frozenset([rule for rule, part in self._simple if part in fired]
                             + [rule for rule, glue in self._glued if _holds(glue, fired)])
        if self.use_cache:
            if len(self.cache) >= CACHE_LIMIT:
                self.cache.clear()
            self.cache[key] = decision
        return decision


def _number(piece: tuple[str, Any], parts: list[dict[str, Any]]) -> Glue:
    """Give each part of a split condition its index in `parts`; return the glue."""
    kind, body = piece
    if kind == "part":
        parts.append(body)
        return len(parts) - 1
    return (kind, tuple(_number(p, parts) for p in body))


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
    order_rules.extend(limit_rules(model.campaigns))
    for rule in model.rules:
        target = line_rules if rule.line_level else order_rules
        target.append(CompiledRule(rule.rule_id, rule.when))
    conditions = {r.id: r.condition for r in order_rules + line_rules}
    return Compiled(order=DecisionGroup(f"{name}#order", order_rules),
                    line=DecisionGroup(f"{name}#line", line_rules), conditions=conditions)
