"""Validated means runnable: the model of durable-rules' alpha network (engine/rules/alpha.py)
against the native engine, and decision groups that split rules and rulesets so that no
registered ruleset reaches a native limit, however many of its conditions hold at once."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import evaluate, load_program
from engine.rules import adapter as rules_engine
from engine.rules import alpha
from engine.rules.compile import CompiledRule, DecisionGroup
from engine.rules.conditions import holds
from tests import big_ruleset

ROOT = big_ruleset.ROOT


def _name(label: str) -> str:
    return f"test-alpha-{label}-{uuid.uuid4().hex[:8]}"


def _native(rules: list[dict]) -> int | str:
    """Register `rules` as one ruleset and assert a fact passing every comparison."""
    name = _name("native")
    rules_engine.register(name, {str(i): {"all": [{"m": r}]} for i, r in enumerate(rules)})
    try:
        return len(set(rules_engine.fire(name, {"kind": "fact", "a": 99, "b": 99, "c": 99})))
    except rules_engine.EngineFailure as exc:
        return str(exc)


def _bound(rules: list[dict]) -> int:
    net = alpha.Net()
    for rule in rules:
        net.add(rule)
    return net.stack()


def _two_levels(k: int, m: int) -> list[dict]:
    return [{"$and": [{"$gte": {"a": i}}, {"$gte": {"b": j}}]} for i in range(k) for j in range(m)]


def _alternatives(n: int, extra: int) -> list[dict]:
    return [{"$or": [{"$gte": {"a": i}} for i in range(n)]}] + \
        [{"$gte": {"b": j}} for j in range(extra)]


@pytest.mark.parametrize(("rules", "more"), [
    (_two_levels(32, 32), _two_levels(32, 33)), (_two_levels(1, 63), _two_levels(1, 64)),
    (_two_levels(9, 55), _two_levels(9, 56)), (_alternatives(63, 0), _alternatives(64, 0)),
    (_alternatives(40, 23), _alternatives(40, 24))],
    ids=["32x32", "1x63", "9x55", "or-63", "or-40+23"])
def test_the_model_is_exact_at_the_native_stack_limit(rules, more):
    # 64 pending alpha nodes run; one more is engine code 303 (events.c MAX_STACK_SIZE)
    assert _bound(rules) == rules_engine.NativeLimits.STACK
    assert _native(rules) == len(rules)
    assert _bound(more) == rules_engine.NativeLimits.STACK + 1
    assert "engine code 303" in str(_native(more))


def test_the_model_assumes_the_worst_order():
    # the native engine may pop a shallow node first and stay under 64; the model assumes
    # the deepest subtree is popped first, so it never says less than can happen
    rules = [{"$and": [{"$gte": {"a": 0}}, {"$or": [{"$gte": {"b": 0}}, {"$gte": {"c": i}}]}]}
             for i in range(32)]
    assert _bound(rules) > rules_engine.NativeLimits.STACK
    assert _native(rules) == 32


def test_shipped_programs_keep_one_ruleset_per_group():
    for program in ("retail", "card-rewards", "b2b-portal"):
        compiled = load_program(ROOT / "rulesets" / program).compiled
        for group in (compiled.order, compiled.line):
            assert len(group.chunks) == (1 if group.rules else 0), (program, group.name)


def _check(group: DecisionGroup, facts: list[dict]) -> None:
    for fact in facts:
        expected = frozenset(r.id for r in group.rules if holds(r.condition, fact))
        assert group.decide(fact) == expected, fact


SEGMENTS = [f"s{i}" for i in range(100)]
TOO_BIG = {
    # 100 alternatives true at once: more than the stack
    "any-contains": {"any": [{"field": "member.attributes.segments", "contains": s}
                             for s in SEGMENTS]},
    # 300 fields in one conjunction: more properties than a fact may have
    "wide-all": {"all": [{"field": f"context.f{i}", "gte": i} for i in range(300)]},
    # 1,000 values under one node: more children than a node may have
    "long-in": {"field": "context.code", "in": [f"c{i}" for i in range(1000)]},
    # alternating all/any twenty deep: more groups than a rule may have
    "deep": {"any": [{"field": "context.f0", "eq": 0}, {"all": [
        {"field": "context.f1", "gte": 0}]}]},
    "not-in": {"not": {"field": "context.code", "in": [f"c{i}" for i in range(40)]}},
}
for _ in range(20):
    TOO_BIG["deep"] = {"any": [{"all": [TOO_BIG["deep"], {"field": "context.f2", "gte": 1}]},
                               {"not": {"field": "context.f3", "lt": 5}}]}


def test_rules_too_big_for_any_one_ruleset_are_split_and_decided_exactly():
    rules = [CompiledRule(rule_id, cond) for rule_id, cond in TOO_BIG.items()]
    # and 300 rules with the same condition: more than end at one node
    rules += [CompiledRule(f"same-{i}", {"field": "order.total", "gte": "10"}) for i in range(300)]
    group = DecisionGroup(_name("split"), rules, use_cache=False)
    assert len(group.chunks) > 1 and len(group._glued) >= 4
    everything = {"member.attributes.segments": SEGMENTS, "order.total": Decimal(10),
                  "context.code": "c500", "context.f0": 0, "context.f1": 1, "context.f2": 2,
                  "context.f3": 9, **{f"context.f{i}": i for i in range(4, 300)}}
    _check(group, [everything, {}, {"context.code": "zz", "context.f3": 1},
                   {**everything, "context.f150": 149, "member.attributes.segments": ["s99"]}])
    assert group.decide(everything) == {r.id for r in rules}


def _conditions():
    field = st.sampled_from(["order.total", "context.score", "line.quantity"])
    number = st.integers(0, 40)
    leaf = st.one_of(
        st.builds(lambda f, op, v: {"field": f, op: v}, field,
                  st.sampled_from(["gt", "gte", "lt", "lte", "eq", "ne"]), number),
        st.builds(lambda f, lo, w: {"field": f, "between": [lo, lo + w]}, field, number,
                  st.integers(0, 20)),
        st.builds(lambda f, vs: {"field": f, "in": vs}, field, st.lists(number, min_size=1,
                                                                         max_size=5)),
        st.builds(lambda s: {"field": "member.attributes.segments", "contains": s},
                  st.sampled_from(SEGMENTS[:12])))
    return st.recursive(leaf, lambda inner: st.one_of(
        st.builds(lambda cs: {"all": cs}, st.lists(inner, min_size=1, max_size=4)),
        st.builds(lambda cs: {"any": cs}, st.lists(inner, min_size=1, max_size=4)),
        st.builds(lambda c: {"not": c}, inner)), max_leaves=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conditions=st.lists(_conditions(), min_size=1, max_size=150),
       values=st.lists(st.integers(-1, 45), min_size=3, max_size=3))
def test_any_rules_run_and_agree_with_python(conditions, values):
    rules = [CompiledRule(f"r{i}", c) for i, c in enumerate(conditions)]
    group = DecisionGroup(_name("prop"), rules, use_cache=False)
    for chunk in group.chunks:  # what was registered stays within every budget
        assert len(chunk.props) <= alpha.PROPERTY_BUDGET
    a, b, c = values
    facts = [{"order.total": 1000, "context.score": 1000, "line.quantity": 1000,
              "member.attributes.segments": SEGMENTS},  # everything large: most ≥ tests hold
             {"order.total": a, "context.score": b, "line.quantity": c,
              "member.attributes.segments": SEGMENTS[a % 12:]}, {}]
    _check(group, facts)


def test_two_thousand_rules_give_the_same_points_with_and_without_the_cache():
    program = load_program(big_ruleset.sources(program="big-cache"))
    for group in (program.compiled.order, program.compiled.line):
        assert len(group.chunks) > 1
    first = evaluate(program, big_ruleset.REQUEST)
    assert evaluate(program, big_ruleset.REQUEST) == first   # now from the cache
    assert sum(big_ruleset.rule_bonus(first).values()) == big_ruleset.EXPECTED_BONUS


def test_a_week_long_monthly_campaign_with_eligibility_runs(retail):
    # valid, and yet it used to fail to compile: a 7-day monthly window, eligibility by
    # tier, channel and 80 segments is more all/any groups than one rule may have (113)
    # and, for a member in every segment, more alternatives true at once than the stack
    import copy

    from engine.program import Program
    from tests.conftest import check_trace, make_request

    data = copy.deepcopy(dict(retail.data))
    data["campaigns"] = [{
        "id": "week", "name": "Week", "type": "fixed_bonus", "points": 50,
        "schedule": {"monthly": {"nth": 1, "weekday": "saturday", "days": 7},
                     "days_of_week": ["saturday", "sunday", "monday", "tuesday"]},
        "eligibility": {"tiers": ["silver", "gold"], "channels": ["web", "app"],
                        "segments": [f"s{i}" for i in range(80)], "min_order": "10.00"}}]
    program = Program.from_data(data)
    segments = {"segments": [f"s{i}" for i in range(80)]}
    for day, points in (("2026-11-09", 50), ("2026-11-11", 0), ("2026-11-16", 0)):
        result = evaluate(program, make_request([("home", "20.00")], at=f"{day}T12:00:00-05:00",
                                                attributes=segments, explain=True))
        assert result["earn"]["by_rule"].get("campaigns.week", 0) == points, day
        assert check_trace(program, result) >= 1
