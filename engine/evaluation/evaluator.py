"""The evaluation of one request against one compiled program (docs/semantics.md): which
rules apply and the arithmetic of what they give.

The rule engine decides which campaigns, rotations and custom rules apply and which
campaigns are used up (on one order fact, and one fact per line for rules that mention
`line.*`), which tiers the qualifying totals meet and which challenge goals are reached
(engine/rules/questions.py); each decision goes into `record` as it is taken, for explain.
The arithmetic is plain Decimal in engine/evaluation/earn.py; its parts are typed
(engine/evaluation/outcome.py) and put together by engine/evaluation/result.py.
Deterministic: time comes from `order.placed_at` (or `as_of`), never the clock.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

import engine.calendar as calendar
import engine.evaluation.tiers as tiers
from engine.evaluation.earn import (
    ZERO,
    CapBook,
    LineResult,
    Multiplier,
    apportion,
    line_points,
    line_rates,
    pick_factors,
    round_points,
    truncate,
)
from engine.evaluation.outcome import Bonus, Earn, TierAdvance, Upgrade
from engine.evaluation.record import Record
from engine.evaluation.request import Order, Request, RequestInvalid
from engine.evaluation.state import MemberState
from engine.program import Program
from engine.rules.facts import line_fact, order_fact
from engine.rules.questions import challenge_field

__all__ = ["Evaluation", "check_currency", "gate_fact"]


def gate_fact(opt_in: tuple[tuple[str, str], ...], coded: tuple[tuple[str, str], ...],
              state: MemberState, presented: tuple[str, ...]) -> dict[str, int]:
    """The flags (1/0) the conditions of opt-in campaigns and campaigns needing a code
    compare (engine/rules/compile.py `enrolled_field`, `code_field`): whether the member
    is enrolled, whether the request presents a valid code of the campaign."""
    enrolled = state.enrolments
    fact = {name: int(cid in enrolled) for cid, name in opt_in}
    if coded:
        with_code = state.code_campaigns(presented)
        fact.update((name, int(cid in with_code)) for cid, name in coded)
    return fact


class Evaluation:
    def __init__(self, program: Program, req: Request, state: MemberState,
                 explain: bool = False):
        self.program, self.req, self.state = program, req, state
        self.record = Record(explain)  # every decision the rule engine takes, in order
        self.model = program.model
        check_currency(program, req.order)
        tier_set = self.model.tiers
        self.tier_id = state.tier or (tier_set.levels[0].id if tier_set else None)
        if tier_set and tier_set.get(self.tier_id) is None:
            known = ", ".join(t.id for t in tier_set.levels)
            message = f"unknown tier {self.tier_id!r}; this program has: {known}"
            raise RequestInvalid([("$.member.tier", message)])
        self.tier = tier_set.get(self.tier_id) if tier_set else None
        self.local = calendar.local(program, req.at)  # the request's instant, program-local
        self.fact = order_fact(program, req, self.tier_id, self.local)
        if program.index.limited:  # campaigns' usage and budgets, for their limit rules
            self.fact.update(self.usage_fact())
        index = program.index
        if index.opt_in or index.coded:  # enrolments and codes, for the campaigns needing them
            self.fact.update(gate_fact(index.opt_in, index.coded, state, req.codes))
        self.fired = program.compiled.order.decide(self.fact)
        self.record.add("order", program.compiled.order, self.fact, self.fired)
        self.skipped: dict[str, str] = {}  # rule id → why a matching rule was not applied
        self.index = program.index
        self._active: dict[tuple[str, ...], list[Any]] = {}
        self.fired_all: frozenset[str] = self.fired  # order and line decisions together
        self.qualified: str | None = None  # the tier the qualifying totals earn, once asked

    # ------------------------------------------------------------ which rules apply
    def active_campaigns(self, *types: str) -> list[Any]:
        cached = self._active.get(types)
        if cached is not None:
            return cached
        out = []
        fired = self.fired
        for c in self.model.campaigns:
            if c.type not in types or c.rule_id not in fired:
                continue
            if c.limit_per_member is not None and f"{c.rule_id}.limit_per_member" in fired:
                used = self.state.campaign_usage.get(c.id, 0)
                self.skipped[c.rule_id] = f"usage limit reached ({used} of {c.limit_per_member})"
                continue
            if c.budget_points is not None and f"{c.rule_id}.budget" in fired:
                self.skipped[c.rule_id] = "budget exhausted"
                continue
            out.append(c)
        self._active[types] = out
        return out

    def usage_fact(self) -> dict[str, Any]:
        """The counts the campaigns' limit rules compare (compile.limit_rules)."""
        st = self.state
        usage, budgets = st.campaign_usage, st.campaign_budget_used
        return {name: (usage if kind == "usage" else budgets).get(cid, 0)
                for cid, kind, name in self.program.index.limited}

    def rule_effects(self, kind: str, fired: frozenset[str] | set[str]) -> list[tuple[str, Any]]:
        if not fired:
            return []
        cache = self.index.effects_cache
        key = (kind, fired if isinstance(fired, frozenset) else frozenset(fired))
        found = cache.get(key)
        if found is None:
            if len(cache) > 10_000:
                cache.clear()
            found = cache[key] = self._rule_effects(kind, fired)
        return found

    def _rule_effects(self, kind: str, fired: frozenset[str] | set[str]) -> list[tuple[str, Any]]:
        effects = self.index.effects
        found = [(rule, value) for rule in fired for k, value in effects.get(rule, ()) if k == kind]
        return sorted(found, key=self.index.rule_order) if len(found) > 1 else found

    # ------------------------------------------------------------ earning
    def earn_lines(self, order: Order) -> tuple[list[LineResult], CapBook]:
        bonus = self.active_campaigns("category_bonus")
        multipliers = self.active_campaigns("multiplier")
        rotations = [r for r in self.model.rotations if r.rule_id in self.fired]
        order_mults = [Multiplier(rule, Decimal(str(v)))
                       for rule, v in self.rule_effects("multiplier", self.fired)]
        caps = CapBook(self.state.cap_usage)
        results = []
        line_group = self.program.compiled.line
        rate_cache = self.index.rates
        no_line_rules = not line_group.rules
        empty: frozenset[str] = frozenset()
        decisions = [empty] * len(order.lines) if no_line_rules else \
            line_group.decide_lines(self.fact, order.lines, line_fact)
        if not no_line_rules:
            self.record.add_lines(line_group, self.fact, order.lines, decisions)
        self.line_fired = decisions
        context = (self.tier_id, tuple(c.id for c in bonus), tuple(c.id for c in multipliers),
                   tuple(r.id for r in rotations),
                   tuple((m.rule, m.value) for m in order_mults))
        by_line = rate_cache.get(context)  # the order's context is hashed once, not per line
        if by_line is None:
            if len(rate_cache) > 10_000:
                rate_cache.clear()
            by_line = rate_cache[context] = {}
        for line, fired in zip(order.lines, decisions):
            line_mults = [Multiplier(rule, Decimal(str(v)))
                          for rule, v in self.rule_effects("multiplier", fired)] if fired else []
            key = (line.category, tuple((m.rule, m.value) for m in line_mults)
                   if line_mults else ())
            rates = by_line.get(key)
            if rates is None:
                factors = pick_factors(multipliers, order_mults + line_mults, line.category)
                rates = by_line[key] = line_rates(self.model, line.category, self.tier,
                                                     bonus, rotations, factors)
            results.append(line_points(self.model, line, rates, caps))
        return results, caps

    def cap_campaigns(self, lines: list[LineResult]) -> None:
        for c in self.index.capped:
            allowed = self.campaign_allowance(c)
            if allowed is not None and any(c.rule_id in r.parts for r in lines):
                removed = truncate(lines, c.rule_id, Decimal(allowed))
                if removed:
                    self.skipped.setdefault(c.rule_id + "#capped", f"extra points capped at {allowed}")

    def campaign_allowance(self, c: Any) -> int | None:
        """Extra points campaign `c` may still give this order (None: unlimited)."""
        limits = []
        if c.max_points is not None:
            limits.append(c.max_points)
        if c.budget_points is not None:
            limits.append(c.budget_points - self.state.campaign_budget_used.get(c.id, 0))
        return None if not limits else max(0, min(limits))

    def bonuses(self) -> list[Bonus]:
        out = []
        for c in self.active_campaigns("fixed_bonus", "spend_threshold"):
            allowed = self.campaign_allowance(c)
            points = c.points if allowed is None else min(c.points, allowed)
            if points:
                out.append(Bonus(c.rule_id, points, c.id))
        for rule, value in self.rule_effects("bonus_points", self.fired):
            out.append(Bonus(rule, int(value)))
        for fired in self.line_fired:
            for rule, value in self.rule_effects("bonus_points", fired) if fired else ():
                out.append(Bonus(rule, int(value)))
        return out

    def run_order(self, order: Order) -> Earn:
        lines, caps = self.earn_lines(order)
        if self.index.capped:
            self.cap_campaigns(lines)
        mode, scope = self.model.rounding, self.model.rounding_scope
        if scope == "line":
            for r in lines:
                r.awarded = round_points(r.points, mode)
        else:
            exact: dict[int, Decimal] = {}
            total = ZERO
            for r in lines:
                r.exact = exact[r.line.index] = points = r.points
                total += points
            line_ints = apportion(round_points(total, mode), exact)
            for r in lines:
                r.awarded = line_ints[r.line.index]
        parts: dict[str, Decimal] = {}
        earned = 0
        for r in lines:
            earned += r.awarded
            for rule, pts in r.parts.items():
                parts[rule] = parts[rule] + pts if rule in parts else pts
        by_rule = apportion(earned, parts)
        bonuses = self.bonuses()
        for b in bonuses:
            by_rule[b.rule] = by_rule.get(b.rule, 0) + b.points
        self.lines, self.caps = lines, caps
        return Earn(points=earned + sum(b.points for b in bonuses), lines=lines,
                    bonuses=bonuses, by_rule={k: v for k, v in sorted(by_rule.items()) if v},
                    cashback=self.cashback(lines) if self.model.earning.cashback else ZERO)

    def cashback(self, lines: list[LineResult]) -> Decimal:
        cb = self.model.earning.cashback
        assert cb is not None
        base_pct = cb.tiers.get(self.tier_id or "", cb.percent)
        total = sum((r.eligible * max(cb.categories.get(r.line.category, ZERO), base_pct)
                     for r in lines), ZERO) / 100
        total = total.quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        return min(total, cb.max_per_order) if cb.max_per_order is not None else total

    # ------------------------------------------------------------ member and tiers
    def tier_change(self, spend: Decimal) -> tuple[str | None, Upgrade | None, list[TierAdvance]]:
        st, program = self.state, self.program
        after = self.tier_id
        if st.qualifying_spend is not None and st.qualifying_orders is not None and self.req.order:
            self.qualified = tiers.qualify(program, st.qualifying_spend + spend,
                                           st.qualifying_orders + 1, self.record)
            after = tiers.higher(program, after, self.qualified)
        advances: list[TierAdvance] = []
        challenges = self.active_campaigns("tier_challenge")
        met = self.goals_met(challenges, spend) if challenges else frozenset()
        for c in challenges:
            if f"{c.rule_id}.goal" in met:
                following = tiers.next_tier(program, after)
                if following is not None:
                    advances.append(TierAdvance(c.rule_id, c.id, after, following.id))
                    after = following.id
        upgrade = None
        if after != self.tier_id and self.model.tiers:
            start = self.tier.index if self.tier else -1
            target = self.model.tiers.get(after)
            end = target.index + 1 if target else start + 1
            reached_tiers = self.model.tiers.levels[start + 1:end]
            bonus = [t for t in reached_tiers if t.upgrade_bonus and t.id not in st.awarded_upgrades]
            upgrade = Upgrade(self.tier_id, after, sum(t.upgrade_bonus for t in bonus),
                              tuple(f"tiers.{t.id}.upgrade_bonus" for t in bonus),
                              f"tiers.{after}.upgrade_bonus")
        return after, upgrade, advances

    def goals_met(self, challenges: list[Any], spend: Decimal) -> frozenset[str]:
        """Which running challenges' goals this order's spend reaches (rule engine)."""
        group = self.program.questions.challenges
        fact = {challenge_field(c.id): self.state.challenge_spend.get(c.id, ZERO) + spend
                for c in challenges}
        met = group.decide(fact) if group.rules else frozenset()
        if group.rules:
            self.record.add("challenges", group, fact, met)
        return met


def check_currency(program: Program, order: Order | None) -> None:
    """An order is in the program's currency (the ruleset's `currency`); one without a
    currency is taken to be. Another currency is a request error, never converted."""
    if order is not None and order.currency is not None \
            and order.currency != program.model.currency:
        message = (f"the order is in {order.currency}, but program {program.program} "
                   f"counts in {program.model.currency}; send its orders in that currency "
                   "(or without one)")
        raise RequestInvalid([("$.order.currency", message)], code="currency_mismatch")
