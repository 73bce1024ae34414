"""The decisions an evaluation took, as it took them: what explain renders.

Every question the evaluation puts to the rule engine — which order rules apply, which
line rules apply to each line, which tiers the qualifying totals meet, which challenge
goals the spend reaches, which campaigns are used up, which redemption refusals hold —
is appended here with the engine's answer and the fact it was asked about. With
explain, a decision also keeps the engine's answers to each comparison of the rules it
asked (`DecisionGroup.comparisons`), so the trace says why a rule did not fire from
those answers: explain decides nothing again.

An activity's decisions are kept in a `Record` of their own (engine/lifecycle/
activities.py): which refusal rules hold (`activity_refusals`) and, for a referral,
which referral campaigns apply (`referral_campaigns`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple

from engine.rules.compile import DecisionGroup
from engine.rules.conditions import explain as why_not
from engine.rules.conditions import leaf_key, leaves, shown_value
from engine.rules.facts import line_fact


class Decision(NamedTuple):
    """One answer of the rule engine: `fired` are the rules of `group` that hold for
    `fact` (for a line decision: the order fact, and `line` the order line)."""

    # order | line | tiers | challenges | limits | redemption; for an activity:
    # activity_refusals | referral_campaigns
    question: str
    group: DecisionGroup
    fact: Mapping[str, Any]
    fired: frozenset[str]
    held: frozenset[str] | None = None  # the comparisons that held (explain only)
    line: Any = None

    def full_fact(self) -> Mapping[str, Any]:
        return self.fact if self.line is None else line_fact(self.fact, self.line)

    def asked(self, rule: str) -> bool:
        """Whether `rule` is in the group asked and its fields were in the fact."""
        if rule not in self.group.ids():
            return False
        fact = self.full_fact()
        return all(leaf["field"] in fact for leaf in leaves(self.group.condition(rule)))

    def facts(self, rule: str) -> dict[str, Any]:
        """The fields rule `rule` reads and their values in the fact, as shown (JSON)."""
        fact = self.full_fact()
        out: dict[str, Any] = {}
        for leaf in leaves(self.group.condition(rule)):
            path = leaf["field"]
            value = fact.get(path)
            out[path] = None if value is None else shown_value(path, value)
        return out

    def why_not(self, rule: str) -> str:
        """Why `rule` did not fire: its failing comparisons, by the engine's answers."""
        if self.held is None:
            return "did not match"
        reasons = why_not(self.group.condition(rule), self.full_fact(),
                          partial(_held, self.held))
        return "; ".join(reasons) or "did not match"


def _held(held: frozenset[str], leaf: Any) -> bool:
    return leaf_key(leaf) in held


class LineDecisions(NamedTuple):
    """The line group's answers for every line of an order (one entry: the hot path
    records it without building a fact per line)."""

    question: str  # "lines"
    group: DecisionGroup
    fact: Mapping[str, Any]  # the order fact
    lines: Sequence[Any]
    fired: Sequence[frozenset[str]]
    held: Sequence[frozenset[str]] | None

    def each(self) -> list[Decision]:
        return [Decision("line", self.group, self.fact, fired,
                         self.held[i] if self.held is not None else None, line)
                for i, (line, fired) in enumerate(zip(self.lines, self.fired))]


class Record:
    """The decisions of one evaluation, in the order they were taken. They are kept as
    plain tuples (the hot path records several per evaluation) and read as `Decision`s."""

    __slots__ = ("_taken", "explain")

    def __init__(self, explain: bool = False) -> None:
        self.explain = explain
        self._taken: list[tuple[Any, ...]] = []

    def add(self, question: str, group: DecisionGroup, fact: Mapping[str, Any],
            fired: frozenset[str]) -> None:
        held = group.comparisons(fact) if self.explain else None
        self._taken.append((question, group, fact, fired, held, None))

    def add_lines(self, group: DecisionGroup, fact: Mapping[str, Any], lines: Sequence[Any],
                  fired: Sequence[frozenset[str]]) -> None:
        held = [group.comparisons(line_fact(fact, line)) for line in lines] \
            if self.explain else None
        self._taken.append(("lines", group, fact, fired, held, lines))

    @property
    def decisions(self) -> list[Decision | LineDecisions]:
        return [LineDecisions(q, g, f, lines, fired, held) if q == "lines"
                else Decision(q, g, f, fired, held)
                for q, g, f, fired, held, lines in self._taken]

    def find(self, question: str) -> Decision | None:
        """The (last) decision of `question`; None when it was not asked."""
        for taken in reversed(self._taken):
            if taken[0] == question:
                return Decision(*taken[:5])
        return None

    def lines(self) -> list[Decision]:
        """One decision per order line (empty when the line rules were not asked)."""
        for q, g, f, fired, held, lines in reversed(self._taken):
            if q == "lines":
                return LineDecisions(q, g, f, lines, fired, held).each()
        return []


def entry(decision: Decision, rule: str, kind: str, **extra: Any) -> dict[str, Any]:
    """The trace entry of one rule of a decision: the engine's answer, the facts it was
    asked about and, when it did not fire, why."""
    fired = rule in decision.fired
    out: dict[str, Any] = {"rule": rule, "kind": kind, "fired": fired}
    if not fired:
        out["reason"] = decision.why_not(rule)
    out["facts"] = decision.facts(rule)
    out.update(extra)
    return out
