"""The documented tiers (benefits, progress, upgrade, challenge), activities that come with
an order, redemption limits and reason codes, determinism. Figures computed by hand."""

from __future__ import annotations

import copy
import json

import pytest

from engine import evaluate

# tiers: bronze 0/0 ×1.0 ship≥75 bday 10 %; silver 500/5 ×1.25 ship≥50 15 % bonus 100;
# gold 1500/15 ×1.5 ship≥25 20 % bonus 250; platinum 5000/50 ×2.0 ship≥0 25 % bonus 500


# ------------------------------------------------------------------ benefits

@pytest.mark.parametrize("tier, price, shipping, free", [
    ("gold", "24.99", "5.00", False),     # subtotal 24.99 < 25.00 (shipping does not count)
    ("gold", "25.00", "5.00", True),
    ("bronze", "74.99", "10.00", False),
    ("bronze", "75.00", "0.00", True),
    ("silver", "50.00", "0.00", True),
    ("platinum", "0.01", "9.99", True),   # threshold 0.00
])
def test_free_shipping_threshold_on_merchandise_subtotal(retail, req, run, tier, price,
                                                         shipping, free):
    res = run(retail, req([("books", price)], tier=tier, shipping=shipping))
    assert res["benefits"]["free_shipping"] is free
    has_effect = {"type": "free_shipping", "rule": f"tiers.{tier}.free_shipping"} in res["effects"]
    assert has_effect is free


def test_gift_cards_count_in_the_free_shipping_subtotal(retail, req, run):
    # decision as implemented: the subtotal is every line's net amount (75.00 here)
    res = run(retail, req([("gift_cards", "75.00")], tier="bronze"))
    assert res["benefits"]["free_shipping"] is True


@pytest.mark.parametrize("at, percent", [
    ("2026-11-17T14:30:00-05:00", "20"),
    ("2026-11-01T03:00:00Z", None),       # = 2026-10-31 23:00 EDT: October locally
    ("2026-11-01T04:00:00Z", "20"),       # = 2026-11-01 00:00 EDT
    ("2026-12-01T04:30:00Z", "20"),       # = 2026-11-30 23:30 EST: still November locally
    ("2026-12-01T05:00:00Z", None),       # = 2026-12-01 00:00 EST
])
def test_birthday_discount_only_in_birthday_month_local(retail, req, run, at, percent):
    res = run(retail, req([("books", "10.00")], at=at, attributes={"birthday": "1990-11-17"}))
    assert res["benefits"]["birthday_discount_percent"] == percent
    effect = [e for e in res["effects"] if e["type"] == "birthday_discount"]
    assert effect == ([{"type": "birthday_discount", "rule": "tiers.gold.birthday_discount",
                        "percent": "20"}] if percent else [])


def test_flags_pass_through(retail, req, run):
    res = run(retail, req([("books", "1.00")], tier="platinum"))
    assert res["benefits"]["flags"]["concierge_service"] is True


# ------------------------------------------------------------------ progress and upgrade

def test_progress_without_state(retail, req, run):
    # gold → platinum needs 5000.00 and 50 orders; this order: 100.00 eligible, 1 order
    res = run(retail, req([("electronics", "100.00")]))
    assert res["member"]["progress"] == {"qualifying_spend": "100.00", "qualifying_orders": 1,
                                         "next_tier": "platinum", "spend_needed": "4900.00",
                                         "orders_needed": 49}


def test_progress_with_state(retail, req, run):
    # 4000.00 + 100.00 = 4100.00 → 900.00 to go; 40 + 1 = 41 → 9 orders to go
    res = run(retail, req([("electronics", "100.00")],
                          state={"qualifying": {"spend": "4000.00", "orders": 40}}))
    prog = res["member"]["progress"]
    assert (prog["spend_needed"], prog["orders_needed"]) == ("900.00", 9)
    assert res["upgrade"] is None and res["member"]["tier_after"] == "gold"


def test_progress_counts_eligible_spend_only(retail, req, run):
    # decision as implemented: gift cards (excluded) do not count as qualifying spend
    res = run(retail, req([("gift_cards", "100.00"), ("books", "100.00")], tier="bronze"))
    assert res["member"]["progress"]["qualifying_spend"] == "100.00"
    assert res["member"]["progress"]["spend_needed"] == "400.00"    # silver 500 − 100


def test_top_tier_progress(retail, req, run):
    res = run(retail, req([("books", "1.00")], tier="platinum"))
    assert res["member"]["progress"]["next_tier"] is None
    assert res["member"]["progress"]["spend_needed"] == "0.00"


def test_upgrade_bonus_reported_apart_from_earn(retail, req, run):
    # silver with 1450.00 / 14 orders; + 100.00 electronics → 1550.00 / 15 → gold
    res = run(retail, req([("electronics", "100.00")], tier="silver", balance=1000,
                          state={"qualifying": {"spend": "1450.00", "orders": 14}}))
    # this order still earns at the silver rate: 100 × 2.0 × 1.25 = 250
    assert res["earn"]["points"] == 250
    assert res["upgrade"] == {"from": "silver", "to": "gold", "bonus_points": 250,
                              "rules": ["tiers.gold.upgrade_bonus"],
                              "rule": "tiers.gold.upgrade_bonus"}
    assert res["tier_after"] == res["member"]["tier_after"] == "gold"
    assert "tiers.gold.upgrade_bonus" not in res["earn"]["by_rule"]
    # balance 1000 + earned 250 + upgrade 250 = 1500
    assert res["member"]["projected_balance"] == 1500
    # progress is now towards platinum: 5000 − 1550 = 3450.00, 50 − 15 = 35
    assert res["member"]["progress"]["next_tier"] == "platinum"
    assert res["member"]["progress"]["spend_needed"] == "3450.00"
    assert res["member"]["progress"]["orders_needed"] == 35
    assert any(e["type"] == "tier_upgrade" and e["to"] == "gold" for e in res["effects"])


def test_upgrade_bonus_awarded_once(retail, req, run):
    res = run(retail, req([("electronics", "100.00")], tier="silver",
                          state={"qualifying": {"spend": "1450.00", "orders": 14},
                                 "awarded_upgrades": ["gold"]}))
    assert res["upgrade"]["to"] == "gold" and res["upgrade"]["bonus_points"] == 0


def test_skipping_a_tier_pays_both_bonuses(retail, req, run):
    # bronze → gold in one order: silver 100 + gold 250 = 350
    res = run(retail, req([("books", "100.00")], tier="bronze",
                          state={"qualifying": {"spend": "1450.00", "orders": 14}}))
    assert res["upgrade"]["bonus_points"] == 350
    assert res["upgrade"]["rules"] == ["tiers.silver.upgrade_bonus", "tiers.gold.upgrade_bonus"]


def test_both_thresholds_needed(retail, req, run):
    # 1550.00 spend but 14 orders: stays silver
    res = run(retail, req([("books", "100.00")], tier="silver",
                          state={"qualifying": {"spend": "1450.00", "orders": 13}}))
    assert res["upgrade"] is None and res["tier_after"] == "silver"


def test_no_upgrade_predicted_without_qualifying_state(retail, req, run):
    # 9000.00 would qualify for platinum, but without `qualifying` no upgrade is predicted
    # (the tier challenge, which would also fire, is used up here)
    res = run(retail, req([("books", "9000.00")], tier="silver",
                          state={"campaign_usage": {"tier-up-challenge": 1}}))
    assert res["upgrade"] is None


# ------------------------------------------------------------------ tier challenge

@pytest.mark.parametrize("tier, lines, state, to", [
    ("bronze", [("books", "500.00")], None, "silver"),                # 500 ≥ 500
    ("bronze", [("books", "499.99")], None, None),
    ("bronze", [("books", "100.00")], {"challenge_spend": {"tier-up-challenge": "400.00"}},
     "silver"),                                                        # 400 + 100
    ("gold", [("books", "500.00")], None, "platinum"),
    ("platinum", [("books", "500.00")], None, None),                  # not eligible
    ("bronze", [("books", "500.00")], {"campaign_usage": {"tier-up-challenge": 1}}, None),
    ("bronze", [("gift_cards", "500.00")], None, None),               # excluded spend
])
def test_tier_challenge_advances_one_tier(retail, req, run, tier, lines, state, to):
    res = run(retail, req(lines, tier=tier, state=state))
    advances = [e for e in res["effects"] if e["type"] == "tier_advance"]
    if to is None:
        assert advances == [] and res["tier_after"] == tier
        return
    assert advances == [{"type": "tier_advance", "rule": "campaigns.tier-up-challenge",
                         "campaign": "tier-up-challenge", "from": tier, "to": to}]
    assert res["tier_after"] == to
    assert {"id": "tier-up-challenge", "type": "tier_challenge", "points": 0,
            "rule": "campaigns.tier-up-challenge", "tier_advance": True} in res["campaigns"]
    bonus = {"silver": 100, "platinum": 500}[to]
    assert res["upgrade"]["bonus_points"] == bonus
    # earn is at the old tier and excludes the upgrade bonus: books 500 × tier multiplier
    # bronze books 500 → 500, bronze books 100 → 100, gold books 500 → 750
    expected = {("bronze", "500.00"): 500, ("bronze", "100.00"): 100, ("gold", "500.00"): 750}
    assert res["earn"]["points"] == expected[(tier, lines[0][1])]


def test_challenge_on_top_of_qualification(retail, req, run):
    # silver 1450/14 + 500 → 1950/15 qualifies for gold; the challenge then advances one
    # more tier, to platinum: bonuses gold 250 + platinum 500 = 750
    res = run(retail, req([("books", "500.00")], tier="silver",
                          state={"qualifying": {"spend": "1450.00", "orders": 14}}))
    assert res["tier_after"] == "platinum"
    assert res["upgrade"]["bonus_points"] == 750


# ------------------------------------------------------------------ activities

@pytest.mark.parametrize("state, expected", [
    ({"orders_count": 0}, 200),
    ({"orders_count": 3}, None),
    (None, None),                                                    # unknown: no bonus
    ({"orders_count": 0, "activity_counts": {"first_purchase": 1}}, None),
])
def test_first_purchase(retail, req, run, state, expected):
    res = run(retail, req([("electronics", "100.00")], balance=10, state=state))
    assert res["earn"]["points"] == 300           # never includes the activity
    if expected is None:
        assert res["activities"] == []
        assert res["member"]["projected_balance"] == 10 + 300
    else:
        assert res["activities"] == [{"activity": "first_purchase",
                                      "rule": "earning.activities.first_purchase",
                                      "points": 200}]
        assert "earning.activities.first_purchase" not in res["earn"]["by_rule"]
        assert res["member"]["projected_balance"] == 10 + 300 + 200
        assert {"type": "activity", "activity": "first_purchase",
                "rule": "earning.activities.first_purchase", "points": 200} in res["effects"]


# ------------------------------------------------------------------ redemption

def _red(run, retail, req, lines=(("books", "100.00"),), shipping="5.00", **kw):
    return run(retail, req(list(lines), shipping=shipping, **kw))["redemption"]


def _codes(red):
    return [r["code"] for r in red["reasons"]]


def test_pay_with_points_value_and_limits(retail, req, run):
    # 1000 points at 100 = 1.00 → 10.00; order 105.00 → 50 % = 52.50 = 5250 points;
    # balance 2500 is the tighter limit
    red = _red(run, retail, req, balance=2500, redeem={"points": 1000})
    assert red == {"eligible": True, "max_points": 2500, "max_value": "25.00",
                   "points": 1000, "value": "10.00", "reasons": []}


@pytest.mark.parametrize("points, balance, price, codes", [
    (400, 2500, "100.00", ["BELOW_MINIMUM"]),
    (500, 2500, "100.00", []),                       # exactly the minimum
    (3000, 2500, "100.00", ["INSUFFICIENT_POINTS"]),
    # order 10.00 (5.00 + 5.00 shipping) → at most 5.00 = 500 points
    (600, 2500, "5.00", ["EXCEEDS_ORDER_SHARE"]),
    (500, 2500, "5.00", []),
    # 10.01 → 5.005 → floor 500 points
    (501, 2500, "5.01", ["EXCEEDS_ORDER_SHARE"]),
    (400, 300, "100.00", ["BELOW_MINIMUM", "INSUFFICIENT_POINTS"]),
])
def test_pay_with_points_reasons(retail, req, run, points, balance, price, codes):
    red = _red(run, retail, req, lines=[("books", price)], balance=balance,
               redeem={"points": points})
    assert _codes(red) == codes
    assert red["eligible"] is (codes == [])
    assert all(r["message"] for r in red["reasons"])


def test_exceeds_order_share_message_mentions_limit(retail, req, run):
    red = _red(run, retail, req, lines=[("books", "5.00")], balance=2500,
               redeem={"points": 600})
    assert red["max_points"] == 500
    assert "50 %" in red["reasons"][0]["message"]


def test_no_redeem_asks_what_is_possible(retail, req, run):
    # balance 400 < 500 minimum: nothing can be redeemed
    red = _red(run, retail, req, balance=400)
    assert _codes(red) == ["BELOW_MINIMUM"] and red["max_points"] == 400
    red = _red(run, retail, req, balance=800)
    assert red["eligible"] is True and red["points"] == 800 and red["value"] == "8.00"


@pytest.mark.parametrize("reward, tier, balance, state, price, codes", [
    ("REWARD-999", "gold", 10_000, None, "100.00", ["UNKNOWN_REWARD"]),
    ("REWARD-201", "gold", 10_000, None, "100.00", ["TIER_RESTRICTED"]),
    ("REWARD-201", "platinum", 10_000, None, "100.00", []),
    ("REWARD-101", "gold", 10_000, {"reward_stock": {"REWARD-101": 0}}, "100.00",
     ["OUT_OF_STOCK"]),
    ("REWARD-101", "gold", 999, None, "100.00", ["INSUFFICIENT_POINTS"]),
    ("REWARD-001", "gold", 10_000, None, "19.99", ["BELOW_MIN_ORDER"]),   # 24.99 < 25.00
    ("REWARD-001", "gold", 10_000, None, "20.00", []),                    # 25.00
    ("REWARD-002", "bronze", 200, None, "1.00", []),   # 200 points: min_points not applied
])
def test_catalog_reasons(retail, req, run, reward, tier, balance, state, price, codes):
    red = _red(run, retail, req, lines=[("books", price)], tier=tier, balance=balance,
               state=state, redeem={"reward_id": reward})
    assert _codes(red) == codes
    assert red["eligible"] is (codes == [])


def test_reward_quantity_and_stock(retail, req, run):
    # 2 mugs: 2 × 1000 = 2000 points; stock 1 left → OUT_OF_STOCK
    red = _red(run, retail, req, balance=5000, state={"reward_stock": {"REWARD-101": 1}},
               redeem={"reward_id": "REWARD-101", "quantity": 2})
    assert red["points"] == 2000 and _codes(red) == ["OUT_OF_STOCK"]


def test_redemption_without_order(retail, run):
    # as_of instead of an order: no order-share limit, max = balance
    res = run(retail, {"member": {"id": "M", "tier": "gold", "points_balance": 700},
                       "as_of": "2026-11-17T12:00:00-05:00", "redeem": {"points": 700}})
    assert res["redemption"]["eligible"] is True and res["redemption"]["max_points"] == 700
    assert res["earn"]["points"] == 0 and "order" not in res


# ------------------------------------------------------------------ determinism

def test_deterministic(retail, req):
    request = req([("electronics", "100.00"), ("fashion", "35.50", 2), ("gift_cards", "25")],
                  at="2026-11-07T14:30:00-05:00", balance=3000, redeem={"points": 600},
                  state={"orders_count": 0, "qualifying": {"spend": "1000", "orders": 3}},
                  explain=True)
    frozen = copy.deepcopy(request)
    first = evaluate(retail, request)
    for _ in range(3):
        assert evaluate(retail, request) == first
    assert request == frozen                        # the request is not mutated
    json.dumps(first)                               # JSON-ready as it is
    assert first["ruleset_digest"].startswith("sha256:")
