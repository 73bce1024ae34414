"""The documented earning semantics: the worked example, schedules in program-local time,
best-of category multipliers, exclusions, line amounts, rounding and stacking.

Every expected figure is computed by hand in a comment; none is copied from output.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

# Reference program: gold ×1.5, electronics ×2.0, fashion ×1.5, home ×1.25, base 1/1.00,
# double points weekend ×2.0 on the first Saturday of the month and the Sunday after it,
# fashion week ×3.0 (category bonus) 2026-09-14..20, timezone America/New_York.

TV = [("electronics", "100.00")]


# ------------------------------------------------------------------ worked example

def test_worked_example_weekday(retail, req, run):
    # Tuesday 2026-11-17: 100 × 2.0 (electronics) × 1.5 (gold) = 300
    res = run(retail, req(TV))
    assert res["earn"]["points"] == 300
    assert res["campaigns"] == []
    line = res["earn"]["lines"][0]
    assert line["category_multiplier"] == {"rule": "earning.categories.electronics", "value": "2"}
    assert line["tier_multiplier"] == {"rule": "tiers.gold", "value": "1.5"}
    # attribution: base 100; tier adds 100 × 0.5 = 50; category adds 150 × 1.0 = 150
    assert res["earn"]["by_rule"] == {"earning.base": 100, "tiers.gold": 50,
                                      "earning.categories.electronics": 150}


@pytest.mark.parametrize("at, points", [
    ("2026-11-07T14:30:00-05:00", 600),   # first Saturday of November: 300 × 2.0
    ("2026-11-08T10:00:00-05:00", 600),   # the Sunday after it
    ("2026-11-14T14:30:00-05:00", 300),   # second Saturday: no campaign
    ("2026-11-15T14:30:00-05:00", 300),   # second Sunday
    ("2026-11-06T14:30:00-05:00", 300),   # the Friday before
    ("2026-11-09T09:00:00-05:00", 300),   # the Monday after
    ("2026-02-07T12:00:00-05:00", 600),   # Feb: 1st is a Sunday, first Saturday is the 7th
    ("2026-02-08T12:00:00-05:00", 600),   # … and the Sunday after it is the 8th
    ("2026-02-01T12:00:00-05:00", 300),   # Sunday the 1st follows January's Saturday: no
    ("2026-08-01T12:00:00-04:00", 600),   # Saturday 1 August (EDT)
    ("2026-08-02T12:00:00-04:00", 600),   # Sunday 2 August
])
def test_double_points_weekend_schedule(retail, req, run, at, points):
    res = run(retail, req(TV, at=at))
    assert res["earn"]["points"] == points
    applied = [c["id"] for c in res["campaigns"]]
    assert applied == (["double-points-weekend"] if points == 600 else [])


@pytest.mark.parametrize("at, points", [
    # 2026-11-07T03:00Z is Friday 2026-11-06 22:00 in New York: a weekday → 300
    ("2026-11-07T03:00:00Z", 300),
    # 2026-11-08T04:30Z is Saturday 2026-11-07 23:30 in New York → 600
    ("2026-11-08T04:30:00Z", 600),
    # 2026-11-09T04:59Z is Sunday 23:59 locally → still the weekend → 600
    ("2026-11-09T04:59:00Z", 600),
    # 2026-11-09T05:00Z is Monday 00:00 locally → 300
    ("2026-11-09T05:00:00Z", 300),
    # the same local Saturday written with a +09:00 offset: 2026-11-08T13:00+09:00 = 23:00 Sat NY
    ("2026-11-08T13:00:00+09:00", 600),
])
def test_weekend_is_decided_in_program_local_time(retail, req, run, at, points):
    assert run(retail, req(TV, at=at))["earn"]["points"] == points


def test_weekend_campaign_share_is_its_extra_points(retail, req, run):
    res = run(retail, req(TV, at="2026-11-07T14:30:00-05:00"))
    # 300 without the campaign, 600 with it: the campaign's share is 300
    assert res["earn"]["by_rule"]["campaigns.double-points-weekend"] == 300
    assert res["campaigns"] == [{"id": "double-points-weekend", "type": "multiplier",
                                 "points": 300, "rule": "campaigns.double-points-weekend"}]
    assert res["earn"]["lines"][0]["multipliers"] == [
        {"rule": "campaigns.double-points-weekend", "value": "2"}]
    assert {"type": "multiplier", "rule": "campaigns.double-points-weekend", "value": "2",
            "lines": [0]} in res["effects"]


# ------------------------------------------------------------------ fashion week

FASHION = [("fashion", "100.00")]


@pytest.mark.parametrize("at, points", [
    ("2026-09-14T00:00:00-04:00", 300),   # first day: best-of(1.5, 3.0) = 3.0 → 100 × 3 = 300
    ("2026-09-17T12:00:00-04:00", 300),
    ("2026-09-20T23:59:00-04:00", 300),   # last day, inclusive
    ("2026-09-13T23:59:00-04:00", 150),   # day before: fashion ×1.5 → 150
    ("2026-09-21T00:00:00-04:00", 150),   # day after
    ("2026-09-14T03:30:00Z", 150),        # = 2026-09-13 23:30 EDT: not yet
    ("2026-09-21T03:30:00Z", 300),        # = 2026-09-20 23:30 EDT: still on
])
def test_fashion_week_boundaries_local(retail, req, run, at, points):
    # bronze (×1.0) so the category multiplier is visible alone
    res = run(retail, req(FASHION, tier="bronze", at=at))
    assert res["earn"]["points"] == points


def test_fashion_week_is_best_of_not_product(retail, req, run):
    # gold: 100 × 3.0 × 1.5 = 450 (a product with the 1.5 category rate would be 675)
    res = run(retail, req(FASHION, at="2026-09-16T12:00:00-04:00"))
    assert res["earn"]["points"] == 450
    line = res["earn"]["lines"][0]
    assert line["category_multiplier"] == {"rule": "campaigns.fashion-week", "value": "3"}
    assert line["multipliers"] == []
    # attribution: base 100, tier 50, category (150 × 0.5) = 75, fashion week (150 × 1.5) = 225
    assert res["earn"]["by_rule"] == {"earning.base": 100, "tiers.gold": 50,
                                      "earning.categories.fashion": 75,
                                      "campaigns.fashion-week": 225}


def test_fashion_week_leaves_other_categories_alone(retail, req, run):
    # electronics during fashion week: 100 × 2.0 × 1.5 = 300; fashion 50 × 3.0 × 1.5 = 225
    res = run(retail, req([("electronics", "100.00"), ("fashion", "50.00")],
                          at="2026-09-16T12:00:00-04:00"))
    assert [ln["points"] for ln in res["earn"]["lines"]] == [300, 225]
    assert res["earn"]["points"] == 525


def test_fashion_week_trace_when_no_fashion_line(retail, req, run):
    res = run(retail, req(TV, at="2026-09-16T12:00:00-04:00", explain=True))
    # the campaign runs (fired) but has no line to apply to
    entry = next(e for e in res["trace"] if e["rule"] == "campaigns.fashion-week")
    assert entry["fired"] is True and entry["applied"] is False
    assert "fashion" in entry["reason"]


# ------------------------------------------------------------------ exclusions, shipping, amounts

def test_gift_cards_earn_nothing_but_count_in_order_total(retail, req, run):
    # gift card 100.00 earns 0; home 20.00 gold: 20 × 1.25 × 1.5 = 37.5 → floor 37
    res = run(retail, req([("gift_cards", "100.00"), ("home", "20.00")], balance=100_000,
                          redeem={"points": 500}))
    gift, home = res["earn"]["lines"]
    assert gift["points"] == 0 and gift["eligible_amount"] == "0.00"
    assert gift["excluded_by"] == "earning.exclusions.gift_cards"
    assert gift["amount"] == "100.00"
    assert home["points"] == 37 and res["earn"]["points"] == 37
    # order total 120.00 → at most 50 % = 60.00 = 6000 points
    assert res["order"]["total"] == "120.00"
    assert res["redemption"]["max_points"] == 6000
    # the shipped custom rule refuses points for carts with gift cards
    assert [r["code"] for r in res["redemption"]["reasons"]] == ["GIFT_CARD_IN_CART"]


def test_gift_card_counts_for_min_order_of_a_reward(retail, req, run):
    # REWARD-001 needs an order of 25.00; gift card 20.00 + home 10.00 = 30.00 ≥ 25.00
    res = run(retail, req([("gift_cards", "20.00"), ("home", "10.00")], balance=1000,
                          redeem={"reward_id": "REWARD-001"}))
    codes = [r["code"] for r in res["redemption"]["reasons"]]
    assert "BELOW_MIN_ORDER" not in codes
    assert codes == ["GIFT_CARD_IN_CART"]


@pytest.mark.parametrize("shipping", ["0.00", "5.00", "49.99"])
def test_shipping_earns_nothing(retail, req, run, shipping):
    res = run(retail, req(TV, shipping=shipping))
    assert res["earn"]["points"] == 300   # 100 × 2.0 × 1.5, whatever the shipping


def test_line_amount_is_quantity_times_price_minus_discount(retail, req, run):
    # 3 × 19.99 − 5.00 = 54.97; bronze home: 54.97 × 1.25 = 68.7125 → 68
    line = {"category": "home", "quantity": 3, "unit_price": "19.99", "discount": "5.00"}
    res = run(retail, req([line], tier="bronze"))
    assert res["earn"]["lines"][0]["amount"] == "54.97"
    assert res["earn"]["lines"][0]["points_exact"] == "68.7125"
    assert res["earn"]["points"] == 68
    assert res["order"]["subtotal"] == "54.97"


def test_fully_discounted_line_earns_nothing(retail, req, run):
    line = {"category": "electronics", "quantity": 2, "unit_price": "10.00", "discount": "20.00"}
    res = run(retail, req([line]))
    assert res["earn"]["points"] == 0 and res["earn"]["lines"][0]["amount"] == "0.00"


def test_numbers_accepted_as_money(retail, req, run):
    # unit_price 100 (a JSON number) is the same as "100.00"
    res = run(retail, req([{"category": "electronics", "unit_price": 100}], shipping=5))
    assert res["earn"]["points"] == 300
    assert Decimal(res["order"]["total"]) == Decimal("105.00")
    # a float is read through its shortest repr, so 19.99 is exact: 3 × 19.99 = 59.97;
    # bronze home 59.97 × 1.25 = 74.9625 → 74
    res = run(retail, req([{"category": "home", "unit_price": 19.99, "quantity": 3}],
                          tier="bronze"))
    assert res["earn"]["lines"][0]["amount"] == "59.97"
    assert res["earn"]["lines"][0]["points_exact"] == "74.9625"
    assert res["earn"]["points"] == 74


def test_money_in_result_is_decimal_strings(retail, req, run):
    res = run(retail, req([("home", "10.10", 3)], shipping="4.95"))
    assert res["order"]["subtotal"] == "30.30"     # 3 × 10.10
    assert res["order"]["total"] == "35.25"        # + 4.95
    assert res["earn"]["lines"][0]["amount"] == "30.30"
    assert res["benefits"]["free_shipping_threshold"] == "25.00"
    assert res["redemption"]["max_value"] == "0.00"  # balance 0
    assert isinstance(res["member"]["progress"]["spend_needed"], str)


# ------------------------------------------------------------------ rounding

def _rounding(variant, mode, scope):
    def change(data):
        data["rounding"], data["rounding_scope"] = mode, scope
    return variant(change)


@pytest.mark.parametrize("mode, scope, prices, points", [
    # two books lines of 0.50 at bronze ×1.0 → 0.5 + 0.5 = 1.0 points
    ("floor", "order", ["0.50", "0.50"], 1),          # floor(1.0) = 1, not 0 + 0
    ("floor", "line", ["0.50", "0.50"], 0),           # floor(0.5) + floor(0.5) = 0
    # 0.75 + 0.75 = 1.5
    ("floor", "order", ["0.75", "0.75"], 1),          # floor(1.5) = 1
    ("round_half_up", "order", ["0.75", "0.75"], 2),  # round(1.5) = 2
    ("round_half_up", "line", ["0.75", "0.75"], 2),   # round(0.75) + round(0.75) = 1 + 1
    ("round_half_up", "order", ["0.50"], 1),          # 0.5 → 1 (half up)
    ("round_half_up", "order", ["0.49"], 0),          # 0.49 → 0
    ("round_half_up", "line", ["0.25", "0.25"], 0),   # 0 + 0
    ("round_half_up", "order", ["0.25", "0.25"], 1),  # round(0.5) = 1
    ("ceil", "order", ["0.01", "0.01"], 1),           # ceil(0.02) = 1
    ("ceil", "line", ["0.01", "0.01"], 2),            # 1 + 1
    ("ceil", "order", ["2.00"], 2),                   # integral stays
])
def test_rounding_modes_and_scopes(variant, req, run, mode, scope, prices, points):
    program = _rounding(variant, mode, scope)
    res = run(program, req([("books", p) for p in prices], tier="bronze"))
    assert res["earn"]["points"] == points


def test_order_rounding_with_reference_program(retail, req, run):
    # retail is floor/order: two 0.50 books lines at bronze → 1 point (floor once over 1.0)
    res = run(retail, req([("books", "0.50"), ("books", "0.50")], tier="bronze"))
    assert res["earn"]["points"] == 1
    assert sum(ln["points"] for ln in res["earn"]["lines"]) == 1


def test_order_rounding_with_tier_fraction(retail, req, run):
    # silver ×1.25: three home lines of 1.00 → 3 × 1.25 × 1.25 = 4.6875 → 4 (floor once);
    # line rounding would give 3 × floor(1.5625) = 3
    res = run(retail, req([("home", "1.00")] * 3, tier="silver"))
    assert res["earn"]["points"] == 4


# ------------------------------------------------------------------ stacking

def _campaigns(*extra):
    def change(data):
        data["campaigns"] = data["campaigns"] + list(extra)
    return change


BONUS_250 = {"id": "welcome-bonus", "name": "Welcome", "type": "fixed_bonus", "points": 250}
TRIPLE_EXCL = {"id": "triple-excl", "name": "Triple", "type": "multiplier", "multiplier": 3,
               "stacking": "exclusive", "schedule": {"from": "2026-11-07", "to": "2026-11-07"}}
ONE_AND_HALF_EXCL = {"id": "half-excl", "name": "Half", "type": "multiplier",
                     "multiplier": "1.5", "stacking": "exclusive",
                     "schedule": {"from": "2026-11-07", "to": "2026-11-07"}}
ONE_AND_HALF = {"id": "saturday-boost", "name": "Boost", "type": "multiplier",
                "multiplier": "1.5", "stacking": "combine",
                "schedule": {"days_of_week": ["saturday"]}}


def test_fixed_bonus_is_never_multiplied(variant, req, run):
    program = variant(_campaigns(BONUS_250))
    # weekend: 100 × 2 × 1.5 × 2 = 600, plus 250 added after multiplication → 850
    res = run(program, req(TV, at="2026-11-07T14:30:00-05:00"))
    assert res["earn"]["points"] == 850
    assert res["earn"]["bonuses"] == [{"rule": "campaigns.welcome-bonus", "points": 250,
                                       "campaign": "welcome-bonus"}]
    assert res["earn"]["by_rule"]["campaigns.welcome-bonus"] == 250
    # weekday: 300 + 250 = 550
    assert run(program, req(TV))["earn"]["points"] == 550


def test_two_combine_campaigns_multiply(variant, req, run):
    program = variant(_campaigns(ONE_AND_HALF))
    # first Saturday: 100 × 2.0 × 1.5 × 2.0 (weekend) × 1.5 (boost) = 900
    res = run(program, req(TV, at="2026-11-07T14:30:00-05:00"))
    assert res["earn"]["points"] == 900
    assert {c["id"] for c in res["campaigns"]} == {"double-points-weekend", "saturday-boost"}
    # second Saturday: only the boost: 300 × 1.5 = 450
    assert run(program, req(TV, at="2026-11-14T14:30:00-05:00"))["earn"]["points"] == 450
    # first Sunday: only the weekend: 600
    assert run(program, req(TV, at="2026-11-08T14:30:00-05:00"))["earn"]["points"] == 600


def test_exclusive_keeps_only_the_best_exclusive(variant, req, run):
    program = variant(_campaigns(TRIPLE_EXCL, ONE_AND_HALF_EXCL))
    # 2026-11-07: weekend ×2 (combine), triple ×3 (exclusive), half ×1.5 (exclusive).
    # Only the best exclusive applies and the combine campaign is dropped:
    # 300 × 3 = 900 (not 300 × 2 × 3 × 1.5 = 2700)
    res = run(program, req(TV, at="2026-11-07T14:30:00-05:00"))
    assert res["earn"]["points"] == 900
    assert [m["rule"] for m in res["earn"]["lines"][0]["multipliers"]] == ["campaigns.triple-excl"]
    assert [c["id"] for c in res["campaigns"]] == ["triple-excl"]


def test_exclusive_drops_combine_campaigns_even_when_lower(variant, req, run):
    # Documented behaviour: an exclusive campaign replaces every other multiplier campaign,
    # even one that would give more. Weekend ×2 (combine) + half ×1.5 (exclusive):
    # 300 × 1.5 = 450 (the weekend alone would give 600).
    program = variant(_campaigns(ONE_AND_HALF_EXCL))
    res = run(program, req(TV, at="2026-11-07T14:30:00-05:00"))
    assert res["earn"]["points"] == 450


def test_multiplier_campaign_category_filter(variant, req, run):
    home_x2 = {"id": "home-x2", "name": "Home", "type": "multiplier", "multiplier": 2,
               "categories": ["home"]}
    program = variant(_campaigns(home_x2))
    # electronics 100: 300 (no filter match); home 100: 100 × 1.25 × 1.5 × 2 = 375
    res = run(program, req([("electronics", "100.00"), ("home", "100.00")]))
    assert [ln["points"] for ln in res["earn"]["lines"]] == [300, 375]
    assert [m["rule"] for m in res["earn"]["lines"][1]["multipliers"]] == ["campaigns.home-x2"]
    assert res["earn"]["lines"][0]["multipliers"] == []


def test_multiplier_campaign_share_exact(variant, req, run):
    home_x2 = {"id": "home-x2", "name": "Home", "type": "multiplier", "multiplier": 2,
               "categories": ["home"]}
    program = variant(_campaigns(home_x2))
    # home 100 gold: 187.5 before the campaign, 375 after → its share is 187.5; with the
    # other parts (base 100, tier 50, home 37.5) the integer split by largest remainder
    # gives 375 in total; the campaign share must be 187 or 188.
    res = run(program, req([("home", "100.00")]))
    assert res["earn"]["points"] == 375
    assert res["earn"]["by_rule"]["campaigns.home-x2"] in (187, 188)
