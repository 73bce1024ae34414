"""The decision cache is exact: a group deciding with its cache gives the same rules as
the same group deciding every fact afresh in the rule engine (`use_cache=False`), and as
the Python evaluation of the condition trees — for any values: decimals of any precision
or size, strings, booleans, lists, missing fields, in order, member and context fields."""

from __future__ import annotations

import uuid
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.rules.compile import CompiledRule, DecisionGroup
from engine.rules.conditions import holds

CONDITIONS = {
    "total-gte-100": {"field": "order.total", "gte": "100.00"},
    "total-gt-100": {"field": "order.total", "gt": "100"},
    "total-lt-50": {"field": "order.total", "lt": "50.00"},
    "total-lte-250": {"field": "order.total", "lte": "250.00"},
    "total-between": {"field": "order.total", "between": ["100.01", "200.00"]},
    "total-eq": {"field": "order.total", "eq": "75.50"},
    "tier-in": {"field": "member.tier", "in": ["gold", "platinum"]},
    "tier-not-in": {"field": "member.tier", "not_in": ["bronze", "silver"]},
    "tier-ne": {"field": "member.tier", "ne": "gold"},
    "channel-eq": {"field": "order.channel", "eq": "web"},
    "vip": {"field": "member.attributes.segments", "contains": "vip"},
    "date-window": {"field": "order.local_date", "between": ["2026-09-14", "2026-09-20"]},
    "weekend": {"field": "order.weekday", "in": ["saturday", "sunday"]},
    "qty": {"field": "line.quantity", "gte": 3},
    "code": {"field": "context.code", "in": ["7", "A1"]},
    "nested": {"all": [{"any": [{"field": "order.channel", "eq": "app"},
                                {"field": "member.attributes.segments", "contains": "new"}]},
                       {"not": {"field": "order.total", "lt": "20.00"}},
                       {"field": "line.quantity", "between": [1, 4]}]},
    "not-any": {"not": {"any": [{"field": "member.tier", "eq": "bronze"},
                                {"field": "order.weekday", "eq": "monday"}]}},
    # context and member attributes: values of any kind, thresholds of any precision
    "score-gt-100": {"field": "context.score", "gt": 100},
    "score-tiny": {"field": "context.score", "between": ["-0.000000000000000000000001",
                                                         "0.000000000000000000000001"]},
    "score-huge": {"field": "context.score", "gte": "123456789012345678901234567890.5"},
    "score-not-lte": {"not": {"field": "context.score", "lte": "100.0000000000000001"}},
    "score-ne": {"field": "context.score", "ne": "99.99999999999999999999"},
    "level-in": {"field": "member.attributes.level", "in": [3, "3.5", "gold", True, None]},
    "level-not-in": {"field": "member.attributes.level", "not_in": [1, "x"]},
    "level-eq-null": {"not": {"field": "member.attributes.level", "eq": None}},
    "grade-gte": {"field": "context.grade", "gte": "B"},
    "grade-not-between": {"not": {"field": "context.grade", "between": ["B", "D"]}},
    "grade-between-kinds": {"field": "context.grade", "between": ["1e5", "D"]},
    "grade-not-between-kinds": {"not": {"field": "context.grade", "between": ["1", "D"]}},
    "flag": {"field": "member.attributes.vip", "eq": True},
    "flag-ne": {"field": "member.attributes.vip", "ne": False},
    "price": {"field": "line.unit_price", "gt": "100"},
}
RULES = [CompiledRule(rule_id, cond) for rule_id, cond in CONDITIONS.items()]
_TAG = uuid.uuid4().hex[:8]
CACHED = DecisionGroup(f"test-cache-{_TAG}#cached", RULES)
FRESH = DecisionGroup(f"test-cache-{_TAG}#fresh", RULES, use_cache=False)

NEAR = [Decimal(x) for x in ("0", "19.99", "20.00", "49.99", "50.00", "75.50", "99.99",
                             "100.00", "100.01", "200.00", "200.01", "250.00", "250.01")]
money = st.one_of(st.sampled_from(NEAR),
                  st.integers(0, 40_000).map(lambda c: Decimal(c) / 100))
# decimals near the thresholds above (one digit off at the 20th place and beyond), huge,
# tiny, and written every way a request may write them
THRESHOLDS = ["100", "100.0000000000000001", "99.99999999999999999999", "3", "3.5",
              "123456789012345678901234567890.5", "0.000000000000000000000001"]
near = st.builds(lambda t, k, sign: Decimal(t) + sign * Decimal(10) ** -k,
                 st.sampled_from(THRESHOLDS), st.integers(0, 40), st.sampled_from([-1, 0, 1]))
decimals = st.one_of(near, st.decimals(allow_nan=False, allow_infinity=False),
                     st.decimals(allow_nan=False, places=30),
                     st.builds(lambda d, e: d.scaleb(e), st.decimals(allow_nan=False,
                               allow_infinity=False), st.integers(-60, 60)))
anything = st.one_of(
    decimals, decimals.map(str), decimals.map(lambda d: f" {d} "),
    st.integers(-10**40, 10**40), st.floats(allow_nan=True), st.booleans(),
    st.sampled_from(["gold", "x", "", "NaN", "-NaN", "Infinity", "-Infinity", "1e999",
                     "2026-09-14", "3.50", "B", "1", "0", "true"]),
    st.text(max_size=4), st.lists(st.integers(0, 3), max_size=2))
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def facts(optional: bool):
    def field(strategy):
        return st.one_of(st.none(), strategy) if optional else strategy

    return st.fixed_dictionaries({
        "order.total": field(money),
        "member.tier": field(st.sampled_from(["bronze", "silver", "gold", "platinum", "x"])),
        "order.channel": field(st.sampled_from(["web", "app", "store"])),
        "member.attributes.segments": field(st.lists(st.sampled_from(["vip", "new", "old"]),
                                                     unique=True)),
        "order.local_date": field(st.integers(20260910, 20260925)),
        "order.weekday": field(st.sampled_from(WEEKDAYS)),
        "line.quantity": field(st.integers(0, 6)),
        "context.code": field(st.sampled_from(["7", "07", "A1", "a1", "8"])),
        "context.score": field(anything),
        "member.attributes.level": field(anything),
        "context.grade": field(st.one_of(st.sampled_from(["A", "B", "Bz", "C", "D", "E"]),
                                         anything)),
        "member.attributes.vip": field(anything),
        "line.unit_price": field(anything),
    }).map(lambda d: {k: v for k, v in d.items() if v is not None})


@settings(max_examples=150, deadline=None)
@given(fact=facts(optional=True))
def test_cache_equals_fresh_decision(fact):
    assert CACHED.decide(fact) == FRESH.decide(fact)
    assert CACHED.decide(fact) == FRESH.decide(fact)   # second time from the cache


@settings(max_examples=150, deadline=None)
@given(fact=facts(optional=True))
def test_engine_equals_python_with_missing_fields(fact):
    # a missing field makes a comparison false and `not` is classical over it
    assert FRESH.decide(fact) == frozenset(r.id for r in RULES if holds(r.condition, fact))


@settings(max_examples=150, deadline=None)
@given(fact=facts(optional=False))
def test_cache_equals_python_evaluation_when_fields_present(fact):
    expected = frozenset(r.id for r in RULES if holds(r.condition, fact))
    assert CACHED.decide(fact) == expected


def test_same_key_same_decision():
    # 100.02 and 150.00 fall between the same thresholds (100.01 and 200.00): one cache
    # entry; 100.01 is a threshold itself and gets its own
    a = {"order.total": Decimal("100.02"), "member.tier": "gold"}
    b = {"order.total": Decimal("150.00"), "member.tier": "gold"}
    c = {"order.total": Decimal("100.01"), "member.tier": "gold"}
    assert CACHED.encoding.key(a) == CACHED.encoding.key(b) != CACHED.encoding.key(c)
    assert CACHED.decide(a) == CACHED.decide(b) == FRESH.decide(b)
    assert CACHED.decide(c) == FRESH.decide(c)
    assert "total-between" in CACHED.decide(c)   # inclusive lower bound


def test_unnamed_values_share_a_key():
    # tiers the rules do not name are all "something else"
    x = {"member.tier": "x"}
    y = {"member.tier": "diamond"}
    assert CACHED.encoding.key(x) == CACHED.encoding.key(y)
    assert CACHED.decide(y) == FRESH.decide(y)


@settings(max_examples=150, deadline=None)
@given(sequence=st.lists(facts(optional=True), min_size=2, max_size=6))
def test_a_cached_decision_is_right_for_every_fact_sharing_its_key(sequence):
    # a cache entry is made by the first fact of its key and served to the others: it
    # must be the Python decision for each of them
    group = DecisionGroup(f"test-cache-{uuid.uuid4().hex[:8]}#seq", RULES)
    for fact in sequence:
        assert group.decide(fact) == frozenset(r.id for r in RULES if holds(r.condition, fact))


def test_a_value_beyond_double_precision_does_not_poison_the_cache():
    # 100.0000000000000001 is 100.0 as a double: the engine used to say "not > 100" and
    # the cache kept that under the key of "> 100", so 150 got nothing afterwards
    group = DecisionGroup(f"test-cache-{uuid.uuid4().hex[:8]}#double", RULES)
    for score in ("100.0000000000000001", "150", 100.5, "1e999", "100"):
        fact = {"context.score": score}
        expected = frozenset(r.id for r in RULES if holds(r.condition, fact))
        assert group.decide(fact) == expected, score
    assert "score-gt-100" in group.decide({"context.score": "100.0000000000000001"})
    assert "score-gt-100" in group.decide({"context.score": "150"})
    assert "score-gt-100" not in group.decide({"context.score": "100"})
