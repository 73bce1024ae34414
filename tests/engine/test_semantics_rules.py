"""The documented custom rules: all / any / not, every operator, order-level vs line-level
rules, and every effect kind reported in `effects[]` with its rule id."""

from __future__ import annotations

import pytest


def _bonus(rule_id, when, points=1):
    return {"id": rule_id, "when": when, "then": [{"bonus_points": points}]}


OPERATOR_RULES = [
    _bonus("r-eq", {"field": "order.channel", "eq": "web"}),
    _bonus("r-ne", {"field": "order.channel", "ne": "app"}),
    _bonus("r-gt", {"field": "order.total", "gt": "100.00"}),
    _bonus("r-gte", {"field": "order.total", "gte": "100.00"}),
    _bonus("r-lt", {"field": "order.line_count", "lt": 3}),
    _bonus("r-lte", {"field": "order.subtotal", "lte": "100.00"}),
    _bonus("r-in", {"field": "member.tier", "in": ["gold", "platinum"]}),
    _bonus("r-not-in", {"field": "member.tier", "not_in": ["bronze"]}),
    _bonus("r-contains", {"field": "member.attributes.segments", "contains": "vip"}),
    _bonus("r-between", {"field": "order.total", "between": ["50.00", "150.00"]}),
    _bonus("r-categories", {"field": "order.categories", "contains": "fashion"}),
    _bonus("r-nested", {"all": [
        {"any": [{"field": "context.source", "eq": "newsletter"},
                 {"field": "order.weekday", "eq": "saturday"}]},
        {"not": {"field": "member.tier", "eq": "bronze"}}]}),
    _bonus("r-date", {"field": "order.local_date", "gte": "2026-11-15"}),
]


@pytest.fixture(scope="module")
def operators(variant):
    return variant(lambda data: data.__setitem__("rules", OPERATOR_RULES))


def _fired_rules(res):
    return {k.split(".", 1)[1] for k in res["earn"]["by_rule"] if k.startswith("rules.")}


def test_operators_request_a(operators, req, run):
    # gold, vip, web, one books line 100.00, no shipping (total 100.00), Tue 2026-11-17
    res = run(operators, req([("books", "100.00")], attributes={"segments": ["vip"]},
                             context={"source": "newsletter"}, explain=True))
    assert _fired_rules(res) == {"r-eq", "r-ne", "r-gte", "r-lt", "r-lte", "r-in", "r-not-in",
                                 "r-contains", "r-between", "r-nested", "r-date"}
    # not fired: r-gt (100.00 is not > 100.00), r-categories (no fashion line)
    # points: 100 × 1.5 = 150, + 11 bonus rules × 1 = 161
    assert res["earn"]["points"] == 161
    gt = next(e for e in res["trace"] if e["rule"] == "rules.r-gt")
    assert gt["fired"] is False and "order.total" in gt["reason"]


def test_operators_request_b(operators, req, run):
    # bronze, no segments, app, 3 lines 150 + 10 + 10 = 170.00, Saturday 2026-11-07
    res = run(operators, req([("fashion", "150.00"), ("books", "10.00"), ("books", "10.00")],
                             tier="bronze", channel="app", at="2026-11-07T12:00:00-05:00"))
    assert _fired_rules(res) == {"r-gt", "r-gte", "r-categories"}
    # r-nested: saturday holds but the member is bronze → not
    # points: (150 × 1.5 + 20) × 2 (weekend) = 490, + 3 = 493
    assert res["earn"]["points"] == 493


def test_between_is_inclusive(operators, req, run):
    for price, fired in (("50.00", True), ("150.00", True), ("49.99", False), ("150.01", False)):
        res = run(operators, req([("books", price)]))
        assert ("r-between" in _fired_rules(res)) is fired, price


EFFECT_RULES = [
    {"id": "home-double", "when": {"field": "line.category", "eq": "home"},
     "then": [{"multiplier": 2}]},
    {"id": "big-line-bonus", "when": {"field": "line.unit_price", "gte": "50.00"},
     "then": [{"bonus_points": 10}]},
    {"id": "no-points-sku", "when": {"field": "line.sku", "eq": "SKU-BAN"},
     "then": [{"deny_redemption": {"code": "SKU_BANNED", "message": "Not with points."}}]},
    {"id": "bulk-gift", "when": {"field": "line.quantity", "gte": 5},
     "then": [{"grant_reward": "REWARD-002"}]},
    {"id": "app-boost", "when": {"field": "order.channel", "eq": "app"},
     "then": [{"multiplier": "1.5"}]},
    {"id": "vip-tag", "when": {"field": "member.attributes.segments", "contains": "vip"},
     "then": [{"tag": "vip-order"}, {"bonus_points": 5}]},
]


@pytest.fixture(scope="module")
def effects(variant):
    return variant(lambda data: data.__setitem__("rules", EFFECT_RULES))


def test_rule_effects(effects, req, run):
    res = run(effects, req([("home", "100.00"), ("books", "60.00"), ("books", "1.00", 5)],
                           channel="app", attributes={"segments": ["vip"]}))
    earn = res["earn"]
    # home 100 gold: 100 × 1.25 × 1.5 = 187.5, × 1.5 (app, order rule) × 2 (home, line rule)
    #   = 562.5
    # books 60: 60 × 1.5 × 1.5 = 135;  books 5 × 1.00: 5 × 1.5 × 1.5 = 11.25
    # lines: floor(562.5 + 135 + 11.25 = 708.75) = 708
    # bonuses: big-line-bonus on 2 lines (unit price ≥ 50) = 20, vip-tag 5 → 733
    assert sum(ln["points"] for ln in earn["lines"]) == 708
    assert earn["points"] == 733
    assert earn["by_rule"]["rules.big-line-bonus"] == 20
    assert earn["by_rule"]["rules.vip-tag"] == 5
    assert [m["rule"] for m in earn["lines"][0]["multipliers"]] == ["rules.app-boost",
                                                                    "rules.home-double"]
    assert [m["rule"] for m in earn["lines"][1]["multipliers"]] == ["rules.app-boost"]
    eff = res["effects"]
    assert {"type": "multiplier", "rule": "rules.home-double", "value": "2", "lines": [0]} in eff
    assert {"type": "multiplier", "rule": "rules.app-boost", "value": "1.5",
            "lines": [0, 1, 2]} in eff
    assert {"type": "tag", "rule": "rules.vip-tag", "tag": "vip-order"} in eff
    assert {"type": "grant_reward", "rule": "rules.bulk-gift", "reward_id": "REWARD-002"} in eff
    assert [e for e in eff if e["type"] == "bonus_points"] == [
        {"type": "bonus_points", "rule": "rules.vip-tag", "points": 5},
        {"type": "bonus_points", "rule": "rules.big-line-bonus", "points": 10},
        {"type": "bonus_points", "rule": "rules.big-line-bonus", "points": 10}]
    assert all("rule" in e for e in eff)


def test_line_rule_multiplier_only_on_matching_lines(effects, req, run):
    # web (no app boost): home 100 gold = 187.5 × 2 = 375; electronics 100 = 300
    res = run(effects, req([("home", "100.00"), ("electronics", "100.00")]))
    assert [ln["points"] for ln in res["earn"]["lines"]] == [375, 300]
    # + big-line-bonus on both lines (unit price 100 ≥ 50): 675 + 20 = 695
    assert res["earn"]["points"] == 695


def test_custom_deny_code(effects, req, run):
    res = run(effects, req([{"sku": "SKU-BAN", "category": "books", "unit_price": "100.00"}],
                           balance=5000, redeem={"points": 500}))
    red = res["redemption"]
    assert red["eligible"] is False
    assert red["reasons"] == [{"code": "SKU_BANNED", "message": "Not with points.",
                               "rule": "rules.no-points-sku"}]
    assert {"type": "deny_redemption", "rule": "rules.no-points-sku", "code": "SKU_BANNED",
            "message": "Not with points."} in res["effects"]


def test_shipped_tag_rule(retail, req, run):
    # order.total ≥ 1000.00 → tag big-basket; 995.00 + 5.00 shipping = 1000.00
    res = run(retail, req([("books", "995.00")], shipping="5.00"))
    assert {"type": "tag", "rule": "rules.big-basket", "tag": "big-basket"} in res["effects"]
    res = run(retail, req([("books", "995.00")], shipping="4.99"))
    assert not [e for e in res["effects"] if e["type"] == "tag"]


NOT_MISSING = [_bonus("not-web", {"not": {"field": "order.channel", "eq": "web"}}, 7)]


def test_not_over_missing_field_agrees(variant, req, run):
    program = variant(lambda data: data.__setitem__("rules", NOT_MISSING))
    # no channel: "order.channel eq web" is false (missing field), so its `not` holds
    res = run(program, req([("books", "100.00")], channel=None, explain=True))
    assert res["earn"]["by_rule"].get("rules.not-web") == 7


def test_not_over_present_field(variant, req, run):
    program = variant(lambda data: data.__setitem__("rules", NOT_MISSING))
    assert "rules.not-web" in run(program, req([("books", "1.00")], channel="app"))["earn"]["by_rule"]
    assert "rules.not-web" not in run(program, req([("books", "1.00")]))["earn"]["by_rule"]


TYPED = [_bonus("adult", {"field": "member.attributes.age", "gte": 18}, 5)]


@pytest.fixture(scope="module")
def typed(variant):
    return variant(lambda data: data.__setitem__("rules", TYPED))


@pytest.mark.parametrize("age, fires", [(20, True), (18, True), (17, False), ("30", True),
                                        (True, False)])
def test_attribute_comparisons(typed, req, run, age, fires):
    res = run(typed, req([("books", "10.00")], attributes={"age": age}, explain=True))
    assert ("rules.adult" in res["earn"]["by_rule"]) is fires


def test_string_attribute_against_number_does_not_fire(typed, req, run):
    res = run(typed, req([("books", "10.00")], attributes={"age": "unknown"}, explain=True))
    assert "rules.adult" not in res["earn"]["by_rule"]


def test_list_attribute_against_number_is_handled(typed, req, run):
    from engine import RequestInvalid
    try:
        res = run(typed, req([("books", "10.00")], attributes={"age": [1]}))
    except RequestInvalid:
        return
    assert "rules.adult" not in res["earn"]["by_rule"]
