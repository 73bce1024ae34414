"""Ruleset warnings (engine/language/warnings.py): each kind at its exact place with its
code, none on the shipped programs, and the schedule check held to the rule engine."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engine import evaluate
from engine.errors import RulesetWarning
from engine.language.build import WEEKDAYS
from engine.language.loader import load_path, load_sources
from engine.language.model import Monthly, Schedule
from engine.language.validate import validate
from engine.language.warnings import CODES, program_warnings, runs_on, source_warnings
from engine.program import load_program

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p for p in (ROOT / "rulesets").iterdir() if p.is_dir())
HEAD = 'program: test\nversion: 1\nearning:\n  base_rate: "1"\n  categories: {fashion: 2}\n'


def warnings_of(text: str) -> list[RulesetWarning]:
    loaded = load_sources({"p.yaml": HEAD + text})
    assert validate(loaded) == [], "a warning test needs a valid ruleset"
    return program_warnings(loaded)


def where(warning: RulesetWarning) -> tuple[int, int, str, str]:
    return warning.line, warning.col, warning.path, warning.code


@pytest.mark.parametrize("ruleset", SHIPPED, ids=lambda p: p.name)
def test_shipped_programs_have_no_warnings(ruleset: Path) -> None:
    assert program_warnings(load_path(ruleset)) == []


def test_a_misspelt_campaign_category_is_found_with_a_did_you_mean(tmp_path: Path) -> None:
    folder = tmp_path / "retail"
    shutil.copytree(ROOT / "rulesets" / "retail", folder)
    campaigns = folder / "campaigns.yaml"
    campaigns.write_text(campaigns.read_text().replace("categories: [fashion]",
                                                       "categories: [fashon]"))
    load_program(folder)  # still a valid ruleset: a warning is never an error
    [warning] = program_warnings(load_path(folder))
    assert (warning.file, *where(warning)) == (
        str(campaigns), 15, 18, "$.campaigns[1].categories[0]", "unknown_category")
    assert warning.message == ("category 'fashon' is named nowhere else in the program, so "
                               "no order may carry it")
    assert warning.hint is not None and warning.hint.startswith("Did you mean 'fashion'?")
    assert str(warning).startswith(f"{campaigns}:15:18: $.campaigns[1].categories[0]: "
                                   "warning[unknown_category]: category 'fashon'")


def test_declared_categories_check_every_category_named() -> None:
    found = warnings_of(
        "categories: [fashion, electronics]\n"
        "seasonal_categories:\n"
        "  - {id: q1, from: '2026-01-01', to: '2026-03-31', categories: [electronic],"
        " multiplier: 3}\n"
        "rules:\n"
        "  - id: toys\n"
        "    when: {field: line.category, in: [fashion, toys]}\n"
        "    then: [{bonus_points: 5}]\n")
    assert [where(w) for w in found] == [
        (8, 65, "$.seasonal_categories[0].categories[0]", "unknown_category"),
        (11, 48, "$.rules[0].when.in[1]", "unknown_category")]
    assert found[0].hint == "Did you mean 'electronics'?"
    assert found[1].message == "category 'toys' is not in the program's categories"
    assert found[1].hint == "Declared: fashion, electronics."


def test_without_a_declaration_a_category_named_elsewhere_is_fine() -> None:
    assert warnings_of(
        "campaigns:\n"
        "  - {id: a, type: category_bonus, categories: [fashion], multiplier: 3}\n"
        "  - {id: b, type: multiplier, categories: [shoes], multiplier: 2}\n"
        "  - {id: c, type: multiplier, categories: [shoes], multiplier: 2,"
        " eligibility: {channels: [web]}}\n") == []


def test_a_duplicate_campaign_is_found_at_the_second() -> None:
    found = warnings_of(
        "campaigns:\n"
        "  - {id: a, type: fixed_bonus, points: 50, schedule: {from: '2026-01-01'}}\n"
        "  - {id: b, type: fixed_bonus, points: 50, schedule: {from: '2026-01-01'}}\n"
        "  - {id: c, type: fixed_bonus, points: 50, schedule: {from: '2026-01-02'}}\n")
    [warning] = found
    assert where(warning) == (8, 10, "$.campaigns[1].id", "duplicate_campaign")
    assert "repeats campaign 'a' (line 7)" in warning.message


def test_an_exclusive_campaign_that_covers_another_makes_it_unreachable() -> None:
    found = warnings_of(
        "campaigns:\n"
        "  - {id: big, type: multiplier, multiplier: 3, stacking: exclusive}\n"
        "  - {id: weekend, type: multiplier, multiplier: 2,"
        " schedule: {days_of_week: [saturday]}, eligibility: {tiers: [gold]}}\n"
        "  - {id: small, type: multiplier, multiplier: 2, stacking: exclusive,"
        " categories: [fashion]}\n"
        "tiers:\n  levels:\n"
        "    - {id: base, qualification: {min_spend: 0, min_orders: 0}}\n"
        "    - {id: gold, qualification: {min_spend: 100, min_orders: 0}}\n")
    assert [where(w) for w in found] == [
        (8, 10, "$.campaigns[1].id", "unreachable_campaign"),
        (9, 10, "$.campaigns[2].id", "unreachable_campaign")]
    assert "exclusive campaign 'big' applies on every day" in found[0].message
    assert "drops every other multiplier campaign" in found[0].message
    assert "only the best exclusive campaign applies" in found[1].message


def test_a_limited_or_narrower_exclusive_campaign_leaves_the_other_reachable() -> None:
    found = warnings_of(
        "campaigns:\n"
        "  - {id: big, type: multiplier, multiplier: 3, stacking: exclusive,"
        " limit_per_member: 1}\n"
        "  - {id: any-day, type: multiplier, multiplier: 2}\n"
        "  - {id: sat, type: multiplier, multiplier: 4, stacking: exclusive,"
        " schedule: {days_of_week: [saturday]}, eligibility: {channels: [web]}}\n"
        "  - {id: sat-app, type: multiplier, multiplier: 2,"
        " schedule: {days_of_week: [saturday]}, eligibility: {channels: [app]}}\n")
    # 'big' and 'sat' do meet on Saturdays; nothing is unreachable
    assert [(w.path, w.code) for w in found] == [
        ("$.campaigns[2].stacking", "overlapping_exclusive_campaigns")]


def test_overlapping_exclusive_campaigns_name_the_first_shared_day() -> None:
    found = warnings_of(
        "campaigns:\n"
        "  - {id: sept, type: multiplier, multiplier: 2, stacking: exclusive,"
        " schedule: {from: '2026-09-01', to: '2026-09-30'}}\n"
        "  - {id: first-sunday, type: multiplier, multiplier: 3, stacking: exclusive,"
        " schedule: {monthly: {nth: 1, weekday: sunday}}}\n"
        "  - {id: october, type: multiplier, multiplier: 3, stacking: exclusive,"
        " schedule: {from: '2026-10-01', to: '2026-10-31', days_of_week: [sunday]},"
        " categories: [fashion]}\n")
    assert [where(w) for w in found] == [
        (8, 67, "$.campaigns[1].stacking", "overlapping_exclusive_campaigns"),
        (9, 62, "$.campaigns[2].stacking", "overlapping_exclusive_campaigns")]
    assert found[0].message == ("exclusive campaigns 'sept' and 'first-sunday' can apply to the "
                                "same line (first on 2026-09-06): only 'first-sunday' counts "
                                "there")
    assert "'first-sunday' and 'october'" in found[1].message
    assert "(first on 2026-10-04)" in found[1].message  # 'sept' and 'october' never meet


def test_exclusive_campaigns_that_never_meet_do_not_warn() -> None:
    assert warnings_of(
        "campaigns:\n"
        "  - {id: sat, type: multiplier, multiplier: 2, stacking: exclusive,"
        " schedule: {days_of_week: [saturday]}}\n"
        "  - {id: fifth-monday, type: multiplier, multiplier: 3, stacking: exclusive,"
        " schedule: {monthly: {nth: 5, weekday: monday, days: 5}}}\n"
        "  - {id: winter, type: multiplier, multiplier: 3, stacking: exclusive,"
        " schedule: {from: '2026-01-05', to: '2026-01-09'}}\n") == []


def test_a_tier_within_a_cent_of_the_next_is_unreachable() -> None:
    found = warnings_of(
        "tiers:\n  levels:\n"
        "    - {id: base, qualification: {min_spend: 0, min_orders: 0}}\n"
        "    - {id: silver, qualification: {min_spend: '100.001', min_orders: 2}}\n"
        "    - {id: gold, qualification: {min_spend: '100.005', min_orders: 2}}\n"
        "    - {id: platinum, qualification: {min_spend: '100.009', min_orders: 3}}\n")
    [warning] = found
    assert where(warning) == (9, 20, "$.tiers.levels[1].qualification", "unreachable_tier")
    assert warning.message == ("no qualification reaches tier 'silver': spend counts in whole "
                               "cents, and 100.01 with 2 orders already qualifies for 'gold'")


def test_a_budget_below_one_orders_bonus() -> None:
    found = warnings_of(
        "campaigns:\n"
        "  - {id: welcome, type: fixed_bonus, points: 500, budget: {points: 400}}\n"
        "  - {id: capped, type: multiplier, multiplier: 2, max_points: 1000,"
        " budget: {points: 999}}\n"
        "  - {id: enough, type: spend_threshold, points: 500, threshold: 50, max_points: 300,"
        " budget: {points: 300}}\n"
        "  - {id: unbounded, type: multiplier, multiplier: 3, budget: {points: 10}}\n")
    assert [where(w) for w in found] == [
        (7, 68, "$.campaigns[0].budget.points", "budget_below_one_order"),
        (8, 86, "$.campaigns[1].budget.points", "budget_below_one_order")]
    assert found[0].message == ("budget of 400 points is smaller than the 500 points one order "
                                "can earn from campaign 'welcome': the first such order uses "
                                "it all up")


def test_warnings_are_sorted_have_known_codes_and_come_from_sources_alike() -> None:
    text = HEAD + (
        "campaigns:\n"
        "  - {id: a, type: fixed_bonus, points: 50, budget: {points: 10}}\n"
        "  - {id: b, type: fixed_bonus, points: 50, budget: {points: 10}}\n"
        "  - {id: c, type: category_bonus, categories: [fashon], multiplier: 2}\n")
    program = load_program({"p.yaml": text})
    found = source_warnings(program.sources, program.model)
    assert found == sorted(found) and {w.code for w in found} <= set(CODES)
    assert [w.code for w in found] == ["budget_below_one_order", "duplicate_campaign",
                                       "budget_below_one_order", "unknown_category"]
    assert found == program_warnings(load_sources({"p.yaml": text}))
    assert found[0].to_dict()["code"] == "budget_below_one_order"


# -- the schedule check agrees with the compiled rules --------------------------------------

schedules = st.builds(
    lambda start, length, days, monthly: Schedule(
        start=start, end=None if length is None else start + timedelta(days=length),
        days_of_week=frozenset(days) or None, monthly=monthly),
    st.dates(date(2026, 1, 1), date(2026, 12, 31)), st.one_of(st.none(), st.integers(0, 60)),
    st.sets(st.integers(0, 6), max_size=3),
    st.one_of(st.none(), st.builds(Monthly, st.integers(1, 5), st.integers(0, 6),
                                   st.integers(1, 7))))


def _yaml(schedule: Schedule) -> str:
    parts = [f"from: '{schedule.start}'"]
    if schedule.end:
        parts.append(f"to: '{schedule.end}'")
    if schedule.days_of_week:
        parts.append(f"days_of_week: [{', '.join(WEEKDAYS[d] for d in schedule.days_of_week)}]")
    if schedule.monthly:
        m = schedule.monthly
        parts.append(f"monthly: {{nth: {m.nth}, weekday: {WEEKDAYS[m.weekday]}, days: {m.days}}}")
    return "{" + ", ".join(parts) + "}"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=schedules, offsets=st.lists(st.integers(-3, 90), min_size=4, max_size=8),
       declare=st.booleans())
def test_runs_on_is_the_compiled_schedule(schedule: Schedule, offsets: list[int],
                                          declare: bool) -> None:
    categories = "categories: [fashion, toys]\n" if declare else ""
    program = load_program({"p.yaml": HEAD + categories + (
        "campaigns:\n"
        f"  - {{id: c, type: fixed_bonus, points: 7, schedule: {_yaml(schedule)}}}\n")})
    assert program_warnings(load_sources(dict(program.sources))) == []
    for offset in offsets:
        day = schedule.start + timedelta(days=offset)
        result = evaluate(program, {
            "member": {"id": "M"},
            "order": {"id": "O", "placed_at": f"{day}T12:00:00+00:00",
                      "lines": [{"sku": "S", "category": "toys", "quantity": 1,
                                 "unit_price": "10.00"}]}})
        applied = any(c["id"] == "c" for c in result["campaigns"])
        assert applied == runs_on(schedule, day), day


# -- the campaign warnings are true of the engine ------------------------------------------

TIERS_YAML = ("tiers:\n  levels:\n"
              "    - {id: base, qualification: {min_spend: 0, min_orders: 0}}\n"
              "    - {id: gold, qualification: {min_spend: 100, min_orders: 0}}\n")
# a few schedules that contain or cross each other, so that coverage happens often
NESTED = [Schedule(start=date(2026, 1, 1)),
          Schedule(start=date(2026, 1, 1), end=date(2026, 1, 31)),
          Schedule(start=date(2026, 1, 5), end=date(2026, 1, 20), days_of_week=frozenset({5})),
          Schedule(start=date(2026, 1, 1), monthly=Monthly(1, 5, 2)),
          Schedule(start=date(2026, 1, 10), days_of_week=frozenset({0, 5}))]
campaign_parts = st.tuples(
    st.one_of(st.sampled_from(NESTED), schedules), st.sampled_from(["2", "3"]), st.sampled_from(["combine", "exclusive"]),
    st.sampled_from([None, ["gold"], ["base", "gold"]]),
    st.sampled_from([None, ["toys"], ["fashion", "toys"]]))


def _campaign(cid: str, parts: tuple) -> str:
    schedule, multiplier, stacking, tiers, categories = parts
    text = (f"  - {{id: {cid}, type: multiplier, multiplier: {multiplier}, stacking: {stacking},"
            f" schedule: {_yaml(schedule)}")
    if tiers:
        text += f", eligibility: {{tiers: [{', '.join(tiers)}]}}"
    if categories:
        text += f", categories: [{', '.join(categories)}]"
    return text + "}\n"


def _applied(program, day: date, tier: str, category: str) -> set[str]:
    result = evaluate(program, {
        "member": {"id": "M", "tier": tier},
        "order": {"id": "O", "placed_at": f"{day}T12:00:00+00:00",
                  "lines": [{"sku": "S", "category": category, "quantity": 1,
                             "unit_price": "10.00"}]}})
    return {c["id"] for c in result["campaigns"]}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=campaign_parts, second=campaign_parts,
       offsets=st.lists(st.integers(-3, 70), min_size=2, max_size=4))
def test_campaign_warnings_hold_in_evaluation(first: tuple, second: tuple,
                                              offsets: list[int]) -> None:
    text = HEAD + "categories: [fashion, toys]\n" + TIERS_YAML + "campaigns:\n" \
        + _campaign("a", first) + _campaign("b", second)
    program = load_program({"p.yaml": text})
    found = {w.code: w for w in program_warnings(load_sources({"p.yaml": text}))}
    assert set(found) <= {"unreachable_campaign", "overlapping_exclusive_campaigns",
                          "duplicate_campaign"}
    for code in sorted(found):
        event(code)
    if "unreachable_campaign" in found:  # 'b' (or 'a') never applies, whoever orders
        dropped = "b" if found["unreachable_campaign"].path == "$.campaigns[1].id" else "a"
        start = (second if dropped == "b" else first)[0].start
        for offset in offsets:
            for tier in ("base", "gold"):
                for category in ("fashion", "toys"):
                    day = start + timedelta(days=offset)
                    assert dropped not in _applied(program, day, tier, category)
    if "overlapping_exclusive_campaigns" in found:  # on the day named, only one counts
        warning = found["overlapping_exclusive_campaigns"]
        day = date.fromisoformat(warning.message.split("(first on ")[1][:10])
        best = warning.message.split("only '")[1].split("'")[0]
        assert _applied(program, day, "gold", "toys") == {best}
