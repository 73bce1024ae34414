"""The decision cache is exact: a group deciding with its cache gives the same rules as
the same group deciding every fact afresh in the rule engine (`use_cache=False`), and —
where every field is present — as the Python evaluation of the condition trees."""

from __future__ import annotations

import uuid
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.compile import CompiledRule, DecisionGroup
from engine.conditions import holds

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
}
RULES = [CompiledRule(rule_id, cond) for rule_id, cond in CONDITIONS.items()]
_TAG = uuid.uuid4().hex[:8]
CACHED = DecisionGroup(f"test-cache-{_TAG}#cached", RULES)
FRESH = DecisionGroup(f"test-cache-{_TAG}#fresh", RULES, use_cache=False)

NEAR = [Decimal(x) for x in ("0", "19.99", "20.00", "49.99", "50.00", "75.50", "99.99",
                             "100.00", "100.01", "200.00", "200.01", "250.00", "250.01")]
money = st.one_of(st.sampled_from(NEAR),
                  st.integers(0, 40_000).map(lambda c: Decimal(c) / 100))
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
    assert CACHED.atoms.key(a) == CACHED.atoms.key(b) != CACHED.atoms.key(c)
    assert CACHED.decide(a) == CACHED.decide(b) == FRESH.decide(b)
    assert CACHED.decide(c) == FRESH.decide(c)
    assert "total-between" in CACHED.decide(c)   # inclusive lower bound


def test_unnamed_values_share_a_key():
    # tiers the rules do not name are all "something else"
    x = {"member.tier": "x"}
    y = {"member.tier": "diamond"}
    assert CACHED.atoms.key(x) == CACHED.atoms.key(y)
    assert CACHED.decide(y) == FRESH.decide(y)
