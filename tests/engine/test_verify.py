"""Proven earning bounds (engine.verify): the shipped programs' worst cases and witnesses,
the planted stacking mistake, the levers a member has (used-up campaigns), budgets,
declared invariants located at the invariant, and compare."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from engine import load_program
from engine.evaluation.evaluate import outcome_of
from engine.evaluation.request import parse
from engine.verify import check, compare, failures, prove
from engine.verify.contexts import day_classes

ROOT = Path(__file__).resolve().parents[2]

# The shipped programs' worst cases: (quantity, value, context it is reached in).
SHIPPED = {
    "retail": [
        ("max_points_per_unit", "8", ("platinum, 2026-01-03 (Saturday), electronics: "
         "tiers.platinum × earning.categories × campaigns.double-points-weekend")),
        ("max_value_back", "0.08", "platinum, 2026-01-03 (Saturday), electronics"),
        ("max_bonus_points_per_order", "850", ("bronze, 2026-01-01 (Thursday): tier upgrade "
         "bonuses")),
        ("max_campaign_points_per_day", None, "no budget"),
        ("max_campaign_points_per_day", None, "no budget"),
    ],
    "card-rewards": [
        ("max_points_per_unit", "7.5", ("elite, 2026-01-01 (Thursday), groceries: tiers.elite "
         "× seasonal_categories.2026-q1")),
        ("max_value_back", "0.105", ("elite, 2026-01-01 (Thursday), groceries: tiers.elite × "
         "seasonal_categories.2026-q1; point value 0.01, cashback 3.0%")),
        ("max_bonus_points_per_order", "2500", ("standard, 2026-01-01 (Thursday): tier "
         "upgrade bonuses")),
    ],
    "b2b-portal": [
        ("max_points_per_unit", "1.25", ("enterprise, 2026-01-01 (Thursday), uncategorised: "
         "tiers.enterprise")),
        ("max_value_back", "0.0125", "enterprise"),
        ("max_bonus_points_per_order", "0", "no bonus applies"),
    ],
}
CONTEXTS = {"retail": (5, 100), "card-rewards": (6, 198), "b2b-portal": (1, 6)}


def sources(name: str = "retail") -> dict[str, str]:
    folder = ROOT / "rulesets" / name
    return {p.name: p.read_text() for p in sorted(folder.glob("*.yaml"))}


PLANTED = """
  - id: october-electronics
    name: October Electronics Boost
    type: multiplier
    multiplier: 1.5
    categories: [electronics]
    schedule: {from: "2026-10-01", to: "2026-10-31"}
"""
INVARIANTS = """invariants:
  max_points_per_unit: 8
  max_bonus_points_per_order: 850
  max_value_back: "0.08"
"""


def retail_with(campaigns: str = "", invariants: str = INVARIANTS):
    files = sources()
    files["campaigns.yaml"] += campaigns
    if invariants:
        files["invariants.yaml"] = invariants
    return load_program(files)


def evaluated(program, request):
    return outcome_of(program, parse(request))


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_programs_worst_cases_and_witnesses(name: str) -> None:
    program = load_program(ROOT / "rulesets" / name)
    bounds = prove(program)
    print(f"\n{name} v{bounds.version}: {bounds.contexts} contexts over "
          f"{bounds.day_classes} day classes")
    for bound in bounds.bounds:
        print(f"  {bound.label} = {bound.value}  [{bound.context}]")
        for request in bound.witness:
            print(f"    witness {json.dumps(request)}")
    assert (bounds.day_classes, bounds.contexts) == CONTEXTS[name]
    assert len(bounds.bounds) == len(SHIPPED[name])
    for bound, (quantity, value, where) in zip(bounds.bounds, SHIPPED[name]):
        assert bound.quantity == quantity
        assert bound.value == (None if value is None else Decimal(value))
        assert where in bound.context
        if value is not None:  # the evaluator reproduced it on the witness
            assert bound.reproduced == Decimal(value) and bound.witness
    assert failures(program, bounds) == [] and check(program) == []


def test_retail_best_case_is_a_weekend_electronics_platinum_cart() -> None:
    program = load_program(ROOT / "rulesets" / "retail")
    bound = prove(program).get("max_points_per_unit")
    assert bound is not None
    request = bound.witness[0]
    assert request["member"]["tier"] == "platinum"
    assert request["order"]["lines"][0]["category"] == "electronics"
    outcome = evaluated(program, request)
    assert outcome.local.strftime("%A") == "Saturday"
    assert [c.id for c in outcome.campaigns] == ["double-points-weekend"]
    assert outcome.earn.points == 800  # 100.00 at 8 points per 1.00


def test_planted_stacking_mistake_is_caught_with_a_witness_on_the_overlapping_days() -> None:
    program = retail_with(PLANTED)
    bounds = prove(program)
    bound = bounds.get("max_points_per_unit")
    assert bound is not None and bound.value == Decimal(12)
    request = bound.witness[0]
    outcome = evaluated(program, request)
    local = outcome.local.date()
    # the first weekend of October 2026, when both campaigns run
    assert local.isoformat() in ("2026-10-03", "2026-10-04")
    assert {c.id for c in outcome.campaigns} == {"double-points-weekend", "october-electronics"}
    assert outcome.earn.lines[0].exact_points / outcome.earn.lines[0].eligible == 12
    errors = check(program)
    assert [(e.file, e.line, e.path) for e in errors] == [
        ("invariants.yaml", 2, "$.invariants.max_points_per_unit"),
        ("invariants.yaml", 4, "$.invariants.max_value_back")]
    assert "reaches 12, above the limit 8" in errors[0].message
    assert "2026-10-03T12:00:00-04:00" in errors[0].message
    moved = {m.label: m for m in compare(prove(load_program(ROOT / "rulesets" / "retail")),
                                         bounds)}
    assert moved["max_points_per_unit"].change == "up"
    assert moved["max_points_per_unit"].delta == 4
    assert moved["max_campaign_points_per_day[october-electronics]"].change == "new"


def test_a_stacking_that_never_overlaps_passes() -> None:
    # the mid-October week never holds a first Saturday or the Sunday after it
    program = retail_with(PLANTED.replace('"2026-10-01"', '"2026-10-12"')
                          .replace('"2026-10-31"', '"2026-10-18"'))
    assert prove(program).get("max_points_per_unit").value == 8  # type: ignore[union-attr]
    assert check(program) == []


def test_exclusive_campaign_a_member_has_used_up_lets_the_combine_ones_through() -> None:
    campaigns = """
  - id: exclusive-once
    name: Once, exclusive
    type: multiplier
    multiplier: 1.5
    stacking: exclusive
    limit_per_member: 1
  - id: triple-home
    name: Triple home
    type: multiplier
    multiplier: 3
    categories: [home]
"""
    program = retail_with(campaigns, invariants="")
    bound = prove(program).get("max_points_per_unit")
    assert bound is not None
    # platinum 2 × home 1.25 × (double weekend 2 × triple 3): only with the exclusive one
    # used up; while it applies, it drops both and gives 1.5
    assert bound.value == Decimal(15)
    request = bound.witness[0]
    assert request["member"]["state"]["campaign_usage"] == {"exclusive-once": 1}
    outcome = evaluated(program, request)
    assert {c.id for c in outcome.campaigns} == {"double-points-weekend", "triple-home"}


def test_a_necessary_exclusive_campaign_drops_the_others() -> None:
    campaigns = """
  - id: always-exclusive
    name: Always exclusive
    type: multiplier
    multiplier: 2.5
    stacking: exclusive
"""
    program = retail_with(campaigns, invariants="")
    bound = prove(program).get("max_points_per_unit")
    # platinum 2 × fashion week 3 × 2.5; on a weekend, the double points are dropped
    assert bound is not None and bound.value == Decimal(15)
    assert "fashion: tiers.platinum × campaigns.fashion-week × campaigns.always-exclusive" \
        in bound.context


def test_budgets_bound_a_campaign_per_day_and_the_witness_spends_it() -> None:
    campaigns = """
  - id: welcome-bonus
    name: Welcome bonus
    type: fixed_bonus
    points: 300
    max_points: 300
    budget: {points: 1000}
  - id: home-boost
    name: Home boost
    type: category_bonus
    categories: [home]
    multiplier: 4
    max_points: 500
    budget: {points: 2000}
"""
    program = retail_with(campaigns, invariants="invariants:\n  max_campaign_points_per_day: 1500\n")
    bounds = prove(program)
    welcome = bounds.get("max_campaign_points_per_day", "welcome-bonus")
    home = bounds.get("max_campaign_points_per_day", "home-boost")
    assert welcome is not None and home is not None
    assert (welcome.value, welcome.orders, welcome.reproduced) == (1000, 4, 1000)
    assert (home.value, home.orders, home.reproduced) == (2000, 4, 2000)
    last = welcome.witness[-1]
    assert last["member"]["state"]["campaign_budget_used"] == {"welcome-bonus": 900}
    assert sum(c.points for c in evaluated(program, last).campaigns
               if c.id == "welcome-bonus") == 100
    bonus = bounds.get("max_bonus_points_per_order")
    assert bonus is not None and bonus.value == 300 + 850
    errors = check(program)
    # home-boost's 2000 and the two weekend campaigns without a budget break the limit
    assert [e.path for e in errors] == ["$.invariants.max_campaign_points_per_day"] * 3
    messages = " ".join(e.message for e in errors)
    assert "home-boost] reaches 2000" in messages and "has no bound (no budget" in messages


def test_custom_rules_that_change_points_are_not_bounded() -> None:
    rules = sources()["rules.yaml"] + """
  - id: lucky
    description: A bonus on a condition verify does not solve
    when: {field: order.total, gte: "10.00"}
    then:
      - bonus_points: 5
"""
    program = load_program({**sources(), "rules.yaml": rules, "invariants.yaml": INVARIANTS})
    bound = prove(program).get("max_points_per_unit")
    assert bound is not None and bound.value is None and "rules.lucky" in bound.context
    assert len(check(program)) == 3


def test_day_classes_cut_at_every_window_and_weekday_pattern() -> None:
    program = retail_with(PLANTED, invariants="")
    days = day_classes(program.model)
    # before fashion week: no campaign / the weekend; fashion week; between: none / the
    # weekend; October: none / weekend + October / October alone; after: none / weekend
    assert len(days) == 8
    both = [d for d in days if {"double-points-weekend", "october-electronics"} <= d.campaigns]
    assert [d.day.isoformat() for d in both] == ["2026-10-03"]
    assert all(d.day >= program.model.effective_from.date() for d in days)  # type: ignore[union-attr]


def test_bounds_json_is_plain_data() -> None:
    bounds = prove(retail_with(PLANTED))
    doc = json.loads(json.dumps(bounds.to_json()))
    assert doc["invariants"] == {"max_points_per_unit": "8", "max_bonus_points_per_order": "850",
                                 "max_value_back": "0.08"}
    assert doc["bounds"][0]["value"] == "12" and doc["bounds"][0]["reproduced"] == "12"


def test_the_semantic_diff_shows_changed_invariants() -> None:
    from engine.language.diff import diff_data

    old = retail_with().data
    new = retail_with(invariants=INVARIANTS.replace("max_points_per_unit: 8",
                                                    "max_points_per_unit: 12")).data
    changed = [d for d in diff_data(old, new) if d.rule == "invariants"]
    assert [(c.field, str(c.old), str(c.new)) for c in changed[0].changes] == [
        ("max_points_per_unit", "8", "12")]
