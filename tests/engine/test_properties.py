"""Properties of evaluation over generated carts (hypothesis, bounded).

Monotonicity is stated for the reference program: it has no condition that turns off
when an order grows (no `lt`/`lte` on order totals, no spending caps, no exclusive
campaigns), so appending a line can only add points. In general it does not hold: a
line may push the order past a threshold that turns a rule off.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import evaluate
from engine.evaluation.earn import apportion
from engine.lifecycle.tiering import TierRules
from tests.conftest import check_invariants, check_trace

SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

CATEGORIES = ["electronics", "fashion", "home", "books", "gift_cards", "toys"]
TIERS = ["bronze", "silver", "gold", "platinum"]

cents = st.integers(min_value=1, max_value=300_000).map(lambda c: Decimal(c) / 100)


@st.composite
def lines(draw):
    qty = draw(st.integers(1, 5))
    price = draw(cents)
    discount = draw(st.integers(0, int(qty * price * 100))) if draw(st.booleans()) else 0
    return {"sku": draw(st.sampled_from(["TV-55", "SKU-1", "GC-50", "MUG"])),
            "category": draw(st.sampled_from(CATEGORIES)), "quantity": qty,
            "unit_price": str(price), "discount": str(Decimal(discount) / 100)}


# any minute of 2026, written with one of several UTC offsets
instants = st.builds(
    lambda minutes, offset: (datetime(2026, 1, 1, tzinfo=UTC)
                             + timedelta(minutes=minutes)).astimezone(
        timezone(timedelta(hours=offset))).isoformat(),
    st.integers(0, 365 * 24 * 60 - 1), st.sampled_from([-8, -5, -4, 0, 2, 9]))


# context and member attributes carry any JSON scalar: decimals of any precision or size
# (one digit off a threshold at the 20th place), written as numbers or as text
near = st.builds(lambda t, k, s: Decimal(t) + s * Decimal(10) ** -k,
                 st.sampled_from(["100", "0.5", "1E+25"]), st.integers(0, 30),
                 st.sampled_from([-1, 0, 1]))
# Numbers beyond the input contract (more than 4 decimal places, |x| >= 1e11) are sent as
# text, which the contract accepts and the engine still compares as numbers.
scalars = st.one_of(near.map(str), near.map(lambda d: f"{d:f}"),
                    st.decimals(allow_nan=False, allow_infinity=False).map(str)
                    .filter(lambda text: len(text) <= 200),
                    st.integers(-10**30, 10**30).map(str), st.floats(allow_nan=False).map(repr),
                    st.integers(-10**10, 10**10),
                    st.decimals(min_value=-10**10, max_value=10**10, places=4).map(float),
                    st.booleans(), st.sampled_from(["gold", "", "NaN", "2026-11-17"]), st.none())


@st.composite
def requests(draw, min_lines=0):
    return {
        "member": {"id": "M-1", "tier": draw(st.sampled_from(TIERS)),
                   "points_balance": draw(st.integers(0, 20_000)),
                   "attributes": {"segments": draw(st.lists(st.sampled_from(["vip", "new"]),
                                                            unique=True)),
                                  "birthday": "1990-11-17", "level": draw(scalars)}},
        "context": {"score": draw(scalars)},
        "order": {"id": "O-1", "placed_at": draw(instants),
                  "channel": draw(st.sampled_from(["web", "app", "store", None])),
                  "shipping": str(draw(st.integers(0, 2000)) / Decimal(100)),
                  "lines": draw(st.lists(lines(), min_size=min_lines, max_size=6))},
        "redeem": draw(st.one_of(st.none(), st.builds(lambda p: {"points": p},
                                                      st.integers(1, 10_000)))),
    }


RULES = [
    {"id": "big", "when": {"all": [{"field": "order.total", "gte": "250.00"},
                                   {"not": {"field": "member.tier", "eq": "bronze"}}]},
     "then": [{"bonus_points": 25}, {"tag": "big"}]},
    {"id": "vip-web", "when": {"any": [{"field": "member.attributes.segments", "contains": "vip"},
                                       {"field": "order.channel", "in": ["web"]}]},
     "then": [{"multiplier": "1.1"}]},
    {"id": "not-app", "when": {"field": "order.channel", "not_in": ["app"]},
     "then": [{"bonus_points": 3}]},
    {"id": "not-web", "when": {"not": {"field": "order.channel", "eq": "web"}},
     "then": [{"bonus_points": 2}]},
    {"id": "mid-line", "when": {"all": [{"field": "line.amount", "between": ["20.00", "200.00"]},
                                        {"field": "line.category", "ne": "gift_cards"}]},
     "then": [{"multiplier": 2}]},
    {"id": "qty", "when": {"field": "line.quantity", "gt": 2}, "then": [{"bonus_points": 1}]},
    {"id": "autumn", "when": {"all": [{"field": "order.local_date",
                                       "between": ["2026-09-01", "2026-11-30"]},
                                      {"field": "order.weekday", "in": ["friday", "saturday"]},
                                      {"field": "order.categories", "contains": "fashion"}]},
     "then": [{"bonus_points": 40}]},
    {"id": "small", "when": {"field": "order.subtotal", "lt": "30.00"},
     "then": [{"deny_redemption": {"code": "SMALL", "message": "small order"}}]},
    {"id": "score", "when": {"any": [{"field": "context.score", "gt": "100"},
                                     {"field": "context.score", "eq": "gold"}]},
     "then": [{"bonus_points": 5}]},
    {"id": "level", "when": {"not": {"field": "member.attributes.level",
                                     "between": ["0.5", "1E+25"]}},
     "then": [{"bonus_points": 6}]},
    {"id": "price-score", "when": {"all": [{"field": "line.unit_price", "gt": "100"},
                                           {"field": "context.score", "lte": "1E+25"}]},
     "then": [{"bonus_points": 1}]},
]


@pytest.fixture(scope="module")
def custom(variant):
    def change(data):
        data["rules"] = RULES
        data["seasonal_categories"] = [{"id": "q4", "from": "2026-10-01", "to": "2026-12-31",
                                        "categories": ["toys", "home"], "multiplier": 4,
                                        "cap": {"spend": "300.00", "period": "rotation"}}]
    return variant(change)


@SETTINGS
@given(request=requests())
def test_invariants_hold(retail, request):
    # points ≥ 0, by_rule sums to points, line points + bonuses = points, money as strings
    check_invariants(evaluate(retail, request))


@SETTINGS
@given(request=requests())
def test_money_sums_are_exact(retail, request):
    res = evaluate(retail, request)
    expected_lines = [Decimal(ln["quantity"]) * Decimal(ln["unit_price"]) - Decimal(ln["discount"])
                      for ln in request["order"]["lines"]]
    assert [Decimal(ln["amount"]) for ln in res["earn"]["lines"]] == expected_lines
    subtotal = sum(expected_lines, Decimal(0))
    assert Decimal(res["order"]["subtotal"]) == subtotal
    assert Decimal(res["order"]["total"]) == subtotal + Decimal(request["order"]["shipping"])


@SETTINGS
@given(request=requests(), extra=lines())
def test_adding_a_line_never_lowers_points(retail, request, extra):
    before = evaluate(retail, request)["earn"]["points"]
    request["order"]["lines"].append(extra)
    after = evaluate(retail, request)["earn"]["points"]
    assert after >= before


@SETTINGS
@given(request=requests())
def test_same_input_same_output(retail, request):
    request["explain"] = True
    assert evaluate(retail, request) == evaluate(retail, request)


@SETTINGS
@given(request=requests())
def test_engine_agrees_with_python_on_reference(retail, request):
    # every decision in the trace (order, lines, limits, goals, tiers, redemption) is
    # what the Python evaluation of its rule says over the facts the engine was asked
    request["explain"] = True
    request["member"]["state"] = {"qualifying": {"spend": "4900.00", "orders": 49}}
    res = evaluate(retail, request)
    assert check_trace(retail, res) >= 10


@SETTINGS
@given(request=requests())
def test_engine_agrees_with_python_on_custom_rules(custom, request):
    # the channel is sometimes missing: `not_in` and `not` over it must still agree
    request["explain"] = True
    res = evaluate(custom, request)
    check_invariants(res)
    assert check_trace(custom, res) >= len(custom.model.rules)


@SETTINGS
@given(request=requests(min_lines=1))
def test_line_rules_engine_agrees_with_python(custom, request):
    # the trace lists the lines a line-level rule fired on (decided by the rule engine);
    # recompute them with the Python evaluation of the same condition tree
    from engine.evaluation.request import parse
    from engine.rules.conditions import holds
    from engine.rules.facts import line_fact, order_fact

    request["explain"] = True
    res = evaluate(custom, request)
    parsed = parse(request)
    base = order_fact(custom, parsed, request["member"]["tier"])
    for rule in custom.model.rules:
        if not rule.line_level:
            continue
        entry = next(e for e in res["trace"] if e["rule"] == rule.rule_id)
        expected = [ln.index for ln in parsed.order.lines if holds(rule.when, line_fact(base, ln))]
        assert entry.get("lines", []) == expected, rule.rule_id


# points apportioned over parts (lines, rules): the largest remainder method
parts_of = st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e"]),
                           st.integers(-100_000, 100_000).map(lambda c: Decimal(c) / 1000),
                           min_size=1)


@given(parts_of, st.integers(-3, 3))
@SETTINGS
def test_apportion_gives_the_whole_total_by_largest_remainder(parts, off):
    """Every point of the total is given, the same keys get them, and with a total within
    the parts' count of their floors, each part gets its floor or one more (one part:
    the whole total, which its own short path gives)."""
    floors = {k: math.floor(v) for k, v in parts.items()}
    total = sum(floors.values()) + max(0, min(len(parts), abs(off)))
    out = apportion(total, parts)
    assert out.keys() == parts.keys() and sum(out.values()) == total
    if len(parts) == 1:
        assert out == dict.fromkeys(parts, total)
    assert all(out[k] - floors[k] in (0, 1) for k in parts)
    # the remainders decide: a part given one more never has a smaller remainder
    more = [parts[k] - floors[k] for k in parts if out[k] > floors[k]]
    less = [parts[k] - floors[k] for k in parts if out[k] == floors[k]]
    assert not more or not less or min(more) >= max(less)


ZONES = ["UTC", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kolkata"]


@given(st.datetimes(min_value=datetime.fromisoformat("1990-01-01"),
                    max_value=datetime.fromisoformat("2999-12-31")),
       st.integers(-24 * 60 + 1, 24 * 60 - 1), st.sampled_from(ZONES))
@SETTINGS
def test_a_calendar_year_window_is_the_local_year_of_any_instant(wall, minutes, zone_name):
    """The tier window's key is the year in the program's zone, whatever offset the
    instant was written with (its own year is read from February to November)."""
    at = wall.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    tz = ZoneInfo(zone_name)
    rules = TierRules(("t0",), ((Decimal(0), 0),), "calendar_year", "never", tz)
    assert rules.key(at) == str(at.astimezone(tz).year)
    assert rules.previous_key(at) == str(at.astimezone(tz).year - 1)
