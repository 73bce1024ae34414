"""A loaded, validated and compiled ruleset version: what evaluation runs against."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import engine.calendar as calendar
from engine.errors import RulesetInvalid
from engine.language.build import build
from engine.language.digest import digest
from engine.language.model import Ruleset
from engine.rules.compile import (
    Compiled,
    DecisionGroup,
    budget_field,
    code_field,
    compile_ruleset,
    enrolled_field,
    usage_field,
)
from engine.rules.eligibility import EligibilityQuestions, compile_eligibility
from engine.rules.milestones import milestone_group
from engine.rules.questions import Questions, compile_questions


class ProgramIndex:
    """Lookups computed once per program for the evaluation hot path."""

    def tier_text(self, tier: Any) -> tuple[str | None, str | None]:
        """(free-shipping threshold, birthday discount percent) of a tier, as JSON strings."""
        text = self._tier_text.get(tier.id)
        if text is None:
            fst, pct = tier.free_shipping_threshold, tier.birthday_discount_percent
            text = self._tier_text[tier.id] = (
                None if fst is None else str(fst.quantize(Decimal("0.01"))),
                None if pct is None else f"{pct.normalize():f}")
        return text

    def multiplier_text(self, multiplier: Any) -> str:
        text = self._multiplier_text.get(multiplier.value)
        if text is None:
            text = self._multiplier_text[multiplier.value] = f"{multiplier.value.normalize():f}"
        return text

    def __init__(self, model: Ruleset):
        self.effects = {r.rule_id: tuple((e.kind, e.value) for e in r.then) for r in model.rules}
        order = {r.rule_id: i for i, r in enumerate(model.rules)}
        self.rule_order = lambda item: order.get(item[0], 0)
        self.rates: dict[tuple, dict[tuple, Any]] = {}  # order context → (category, line
        # multipliers) → engine.evaluation.earn.LineRates
        self._multiplier_text: dict[Any, str] = {}
        self._tier_text: dict[str, tuple[str | None, str | None]] = {}
        self.rates_json: dict[int, tuple[Any, tuple[Any, ...]]] = {}  # id(LineRates) → parts
        self.effects_cache: dict[tuple[str, frozenset[str]], list[tuple[str, Any]]] = {}
        self.base_rate = f"{model.earning.base_rate.normalize():f}"
        # campaigns whose extra points have a ceiling (max_points, budget_points), in order
        self.capped = tuple(c for c in model.campaigns
                            if c.max_points is not None or c.budget_points is not None)
        # (campaign, "usage" | "budget", fact field) of every campaign limit rule
        self.limited = tuple(
            [(c.id, "usage", usage_field(c.id)) for c in model.campaigns
             if c.limit_per_member is not None]
            + [(c.id, "budget", budget_field(c.id)) for c in model.campaigns
               if c.budget_points is not None])
        # (campaign, fact field) of every opt-in campaign and every campaign needing a code
        self.opt_in = tuple((c.id, enrolled_field(c.id)) for c in model.campaigns
                            if c.participation == "opt_in")
        self.coded = tuple((c.id, code_field(c.id)) for c in model.campaigns if c.requires_code)


@dataclass
class Program:
    model: Ruleset
    compiled: Compiled
    digest: str
    sources: Mapping[str, str]
    questions: Questions
    # Lookups for the evaluation hot path, built with the program: plain attributes, read
    # by every evaluation and simulated event (a version's model does not change once
    # loaded). mypyc compiles this module: instances keep no dictionary of attributes, so
    # nothing is cached in one.
    index: ProgramIndex = field(init=False, repr=False, compare=False)
    name: str = field(init=False, repr=False, compare=False)  # "program@version"
    timezone: ZoneInfo = field(init=False, repr=False, compare=False)
    _eligibility: EligibilityQuestions | None = field(init=False, repr=False, compare=False)
    _milestones: DecisionGroup | None = field(init=False, repr=False, compare=False)
    _milestones_built: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.index = ProgramIndex(self.model)
        self.name = f"{self.model.program}@{self.model.version}"
        self.timezone = calendar.zone(self.model.timezone)
        self._eligibility = None
        self._milestones = None
        self._milestones_built = False

    @property
    def program(self) -> str:
        return self.model.program

    @property
    def version(self) -> int:
        return self.model.version

    @property
    def effective_from(self) -> datetime | None:
        return self.model.effective_from

    @property
    def data(self) -> Mapping[str, Any]:
        return self.model.data

    @property
    def eligibility(self) -> EligibilityQuestions:
        """The campaigns' eligibility reason rules (engine/rules/eligibility.py),
        compiled the first time a listing asks for them."""
        found = self._eligibility
        if found is None:
            found = self._eligibility = compile_eligibility(self.model.campaigns,
                                                            self.compiled_name)
        return found

    @property
    def milestones(self) -> DecisionGroup | None:
        """The milestones' rules (engine/rules/milestones.py; None: the ruleset has
        none), compiled the first time an order asks."""
        if not self._milestones_built:
            self._milestones = milestone_group(self.model.engagement.milestones)
            self._milestones_built = True
        return self._milestones

    @property
    def compiled_name(self) -> str:
        return f"{self.name}~{self.digest[7:19]}"

    @classmethod
    def from_data(cls, data: Mapping[str, Any], sources: Mapping[str, str] | None = None) -> Program:
        model = build(data)
        fingerprint = digest(data)
        # Names are global and permanent in the rule engine: the digest keeps two
        # different contents published under the same version apart.
        name = f"{model.program}@{model.version}~{fingerprint[7:19]}"
        return cls(model=model, compiled=compile_ruleset(model, name), digest=fingerprint,
                   sources=dict(sources or {}), questions=compile_questions(model, name))


def load_program(source: str | Path | Mapping[str, str]) -> Program:
    """Load, validate and compile a ruleset file, folder or {file name: YAML text}.

    Raises RulesetInvalid with every problem found, located and sorted.
    """
    from engine.language.loader import load_path, load_sources
    from engine.language.validate import validate

    loaded = load_sources(source) if isinstance(source, Mapping) else load_path(source)
    errors = validate(loaded)
    if errors:
        raise RulesetInvalid(sorted(errors))
    return Program.from_data(loaded.data, loaded.sources)
