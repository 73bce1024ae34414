"""The documented caps and campaign limits: seasonal categories with a shared spending cap,
campaign max_points / budget / limit_per_member, eligibility (tier, segment, channel,
minimum order = lines net + shipping). Figures computed by hand in the comments."""

from __future__ import annotations

from decimal import Decimal

import pytest

Q4 = {"id": "2026-q4", "from": "2026-10-01", "to": "2026-12-31",
      "categories": ["online_shopping", "department_stores", "electronics"],
      "multiplier": 5, "cap": {"spend": "1500.00", "period": "rotation"}}
RULE = "seasonal_categories.2026-q4"


@pytest.fixture(scope="module")
def seasonal(variant):
    return variant(lambda data: data.__setitem__("seasonal_categories", [dict(Q4)]))


@pytest.fixture(scope="module")
def seasonal_monthly(variant):
    rot = dict(Q4, cap={"spend": "1500.00", "period": "month"})
    return variant(lambda data: data.__setitem__("seasonal_categories", [rot]))


def _caps(res):
    return [(c["rule"], c["period"], Decimal(c["spend"])) for c in res["usage"]["caps"]]


def test_spend_past_the_cap_earns_the_regular_rate(seasonal, req, run):
    # bronze, 2000.00 online_shopping: 1500 × 5 + 500 × 1 = 8000
    res = run(seasonal, req([("online_shopping", "2000.00")], tier="bronze"))
    assert res["earn"]["points"] == 8000
    assert res["earn"]["lines"][0]["seasonal_amount"] == "1500.00"
    assert _caps(res) == [(RULE, "2026-q4", Decimal("1500.00"))]
    assert res["usage"]["caps_hit"] == [RULE]


def test_within_the_cap(seasonal, req, run):
    # 100.00 online_shopping bronze: 100 × 5 = 500; cap not hit
    res = run(seasonal, req([("online_shopping", "100.00")], tier="bronze"))
    assert res["earn"]["points"] == 500
    assert res["usage"]["caps_hit"] == []
    assert _caps(res) == [(RULE, "2026-q4", Decimal("100.00"))]


def test_past_the_cap_a_category_keeps_its_own_multiplier(seasonal, req, run):
    # gold electronics 2000.00: (1500 × 5 + 500 × 2.0) × 1.5 = (7500 + 1000) × 1.5 = 12750
    res = run(seasonal, req([("electronics", "2000.00")]))
    assert res["earn"]["points"] == 12750
    # the line's reported category multiplier is the best one that earned something
    assert res["earn"]["lines"][0]["category_multiplier"] == {"rule": RULE, "value": "5"}


def test_cap_is_shared_across_lines_and_categories(seasonal, req, run):
    # bronze: online 1000 uses 1000 of the cap (5000); department 1000 gets the other 500
    # at ×5 (2500) and 500 at ×1 (500) → 3000; total 8000
    res = run(seasonal, req([("online_shopping", "1000.00"), ("department_stores", "1000.00")],
                            tier="bronze"))
    assert [ln["points"] for ln in res["earn"]["lines"]] == [5000, 3000]
    assert res["earn"]["points"] == 8000
    assert _caps(res) == [(RULE, "2026-q4", Decimal("1500.00"))]


def test_cap_usage_comes_from_member_state(seasonal, req, run):
    # 1000.00 of the 1500.00 already used: 500 × 5 + 500 × 1 = 3000
    res = run(seasonal, req([("online_shopping", "1000.00")], tier="bronze",
                            state={"cap_usage": {RULE: "1000.00"}}))
    assert res["earn"]["points"] == 3000
    assert _caps(res) == [(RULE, "2026-q4", Decimal("500.00"))]   # what this order consumed
    assert res["usage"]["caps_hit"] == [RULE]


def test_exhausted_cap_earns_regular_rate_only(seasonal, req, run):
    res = run(seasonal, req([("online_shopping", "1000.00")], tier="bronze", explain=True,
                            state={"cap_usage": {RULE: "1500.00"}}))
    assert res["earn"]["points"] == 1000    # 1000 × 1
    assert res["usage"]["caps"] == []
    assert res["usage"]["caps_hit"] == [RULE]
    entry = next(e for e in res["trace"] if e["rule"] == RULE)
    assert "cap" in entry["reason"]


def test_rotation_dates_are_local(seasonal, req, run):
    # 2026-10-01T03:00Z is 2026-09-30 23:00 EDT: before the rotation → 1000 × 1 = 1000
    res = run(seasonal, req([("online_shopping", "1000.00")], tier="bronze",
                            at="2026-10-01T03:00:00Z"))
    assert res["earn"]["points"] == 1000
    # 2026-10-01T04:00Z is 00:00 EDT on 2026-10-01: inside → 5000
    res = run(seasonal, req([("online_shopping", "1000.00")], tier="bronze",
                            at="2026-10-01T04:00:00Z"))
    assert res["earn"]["points"] == 5000


def test_monthly_cap_period_key(seasonal_monthly, req, run):
    res = run(seasonal_monthly, req([("online_shopping", "10.00")], tier="bronze"))
    assert res["earn"]["points"] == 50     # 10 × 5
    assert _caps(res) == [(RULE, "2026-11", Decimal("10.00"))]


def test_seasonal_and_weekend_stack_multiplicatively(seasonal, req, run):
    # first Saturday of November, bronze online 100: 100 × 5 (seasonal, best-of) × 2 = 1000
    res = run(seasonal, req([("online_shopping", "100.00")], tier="bronze",
                            at="2026-11-07T12:00:00-05:00"))
    assert res["earn"]["points"] == 1000


# ------------------------------------------------------------------ campaign point caps

def _weekend(**changes):
    def change(data):
        camp = next(c for c in data["campaigns"] if c["id"] == "double-points-weekend")
        camp.update(changes)
    return change


SAT = "2026-11-07T14:30:00-05:00"
TV = [("electronics", "100.00")]


def test_campaign_max_points_truncates_only_its_extra(variant, req, run):
    program = variant(_weekend(max_points=100))
    # weekend extra would be 300; capped at 100: 300 + 100 = 400
    res = run(program, req(TV, at=SAT, explain=True))
    assert res["earn"]["points"] == 400
    assert res["earn"]["by_rule"]["campaigns.double-points-weekend"] == 100
    assert res["earn"]["by_rule"]["earning.base"] == 100           # untouched
    entry = next(e for e in res["trace"] if e["rule"] == "campaigns.double-points-weekend")
    assert entry["fired"] and "capped at 100" in entry["reason"]
    # two lines: extra would be 600, capped at 100 → 600 + 100 = 700
    res = run(program, req(TV * 2, at=SAT))
    assert res["earn"]["points"] == 700


def test_campaign_cap_does_not_touch_another_campaigns_share(variant, req, run):
    boost = {"id": "saturday-boost", "name": "Boost", "type": "multiplier",
             "multiplier": "1.5", "schedule": {"days_of_week": ["saturday"]}}

    def change(data):
        _weekend(max_points=100)(data)
        data["campaigns"].append(boost)
    program = variant(change)
    # layers: 300 → weekend adds 300 (600) → boost adds 600 × 0.5 = 300 (900);
    # the weekend's 300 is cut to 100, the boost keeps its 300: 300 + 100 + 300 = 700
    res = run(program, req(TV, at=SAT))
    assert res["earn"]["points"] == 700
    assert res["earn"]["by_rule"]["campaigns.saturday-boost"] == 300


@pytest.mark.parametrize("used, points", [
    (0, 600),       # budget 1000 untouched: full 300 extra
    (950, 350),     # 50 left: 300 + 50
    (1000, 300),    # exhausted: campaign skipped
    (5000, 300),    # over-spent: still skipped, never negative
])
def test_campaign_budget(variant, req, run, used, points):
    program = variant(_weekend(budget={"points": 1000}))
    res = run(program, req(TV, at=SAT, explain=True,
                           state={"campaign_budget_used": {"double-points-weekend": used}}))
    assert res["earn"]["points"] == points
    if used >= 1000:
        # the campaign's conditions hold (fired); the budget decision left it unapplied
        entry = next(e for e in res["trace"] if e["rule"] == "campaigns.double-points-weekend")
        assert entry["fired"] is True and entry["applied"] is False
        assert entry["reason"] == "budget exhausted"
        budget = next(e for e in res["trace"]
                      if e["rule"] == "campaigns.double-points-weekend.budget")
        assert budget["fired"] is True
        assert budget["facts"] == {"program.campaign_budget_used.double-points-weekend": used}


def test_budget_and_max_points_take_the_smaller(variant, req, run):
    program = variant(_weekend(max_points=200, budget={"points": 1000}))
    # allowance = min(200, 1000 − 900 = 100) = 100 → 400
    res = run(program, req(TV, at=SAT, state={"campaign_budget_used":
                                                {"double-points-weekend": 900}}))
    assert res["earn"]["points"] == 400


@pytest.mark.parametrize("used, points", [(0, 600), (1, 600), (2, 300), (3, 300)])
def test_limit_per_member(variant, req, run, used, points):
    program = variant(_weekend(limit_per_member=2))
    res = run(program, req(TV, at=SAT, explain=True,
                           state={"campaign_usage": {"double-points-weekend": used}}))
    assert res["earn"]["points"] == points
    if used >= 2:
        entry = next(e for e in res["trace"] if e["rule"] == "campaigns.double-points-weekend")
        assert entry["reason"] == f"usage limit reached ({used} of 2)"
        assert entry["fired"] is True and entry["applied"] is False
        limit = next(e for e in res["trace"]
                     if e["rule"] == "campaigns.double-points-weekend.limit_per_member")
        assert limit["fired"] is True
        assert res["usage"]["campaigns"] == []
    else:
        assert res["usage"]["campaigns"] == [{"id": "double-points-weekend", "uses": 1,
                                              "points": 300}]


def test_fixed_bonus_respects_budget(variant, req, run):
    bonus = {"id": "welcome", "name": "W", "type": "fixed_bonus", "points": 250,
             "budget": {"points": 1000}}
    program = variant(lambda data: data["campaigns"].append(bonus))
    # 100 points of budget left: bonus is 100, not 250 → 300 + 100
    res = run(program, req(TV, state={"campaign_budget_used": {"welcome": 900}}))
    assert res["earn"]["points"] == 400
    assert res["earn"]["bonuses"] == [{"rule": "campaigns.welcome", "points": 100,
                                       "campaign": "welcome"}]


# ------------------------------------------------------------------ eligibility

ELIG = {"id": "vip-app", "name": "VIP app bonus", "type": "fixed_bonus", "points": 50,
        "eligibility": {"tiers": ["gold", "platinum"], "segments": ["vip"],
                        "channels": ["app"], "min_order": "100.00"}}
THRESHOLD = {"id": "spend-200", "name": "Spend 200", "type": "spend_threshold",
             "points": 100, "threshold": "200.00"}


@pytest.fixture(scope="module")
def eligibility(variant):
    return variant(lambda data: data["campaigns"].extend([dict(ELIG), dict(THRESHOLD)]))


def _bonus_ids(res):
    return [b.get("campaign") for b in res["earn"]["bonuses"]]


@pytest.mark.parametrize("tier, segments, channel, shipping, gets", [
    ("gold", ["vip"], "app", "5.00", True),       # 95.00 + 5.00 = 100.00 ≥ 100.00
    ("platinum", ["vip", "x"], "app", "5.00", True),
    ("silver", ["vip"], "app", "5.00", False),    # tier
    ("gold", ["regular"], "app", "5.00", False),  # segment
    ("gold", [], "app", "5.00", False),
    ("gold", ["vip"], "web", "5.00", False),      # channel
    ("gold", ["vip"], None, "5.00", False),       # no channel given
    ("gold", ["vip"], "app", "4.99", False),      # 99.99 < 100.00
])
def test_campaign_eligibility(eligibility, req, run, tier, segments, channel, shipping, gets):
    res = run(eligibility, req([("books", "95.00")], tier=tier, channel=channel,
                               shipping=shipping, attributes={"segments": segments}))
    assert ("vip-app" in _bonus_ids(res)) is gets
    if gets:
        assert {"type": "bonus_points", "rule": "campaigns.vip-app", "points": 50} \
            in res["effects"]


def test_eligible_bonus_totals(eligibility, req, run):
    # gold books 95.00: 95 × 1.5 = 142.5; + 50 fixed (not multiplied) → floor(142.5) + 50 = 192
    res = run(eligibility, req([("books", "95.00")], channel="app", shipping="5.00",
                               attributes={"segments": ["vip"]}))
    assert res["earn"]["points"] == 192


@pytest.mark.parametrize("lines, shipping, gets", [
    ([("books", "195.00")], "5.00", True),        # 195 + 5 = 200.00 (at or above)
    ([("gift_cards", "200.00")], "0.00", True),   # excluded lines still count in the total
    ([("books", "195.00")], "4.99", False),       # 199.99
])
def test_spend_threshold_uses_order_total(eligibility, req, run, lines, shipping, gets):
    res = run(eligibility, req(lines, shipping=shipping))
    assert ("spend-200" in _bonus_ids(res)) is gets


@pytest.fixture(scope="module")
def fifth_saturday(variant):
    """A campaign on the 5th Saturday of the month and the two days after it."""
    campaign = {"id": "fifth-saturday", "name": "Fifth Saturday", "type": "multiplier",
                "multiplier": 3.0, "stacking": "combine",
                "schedule": {"monthly": {"nth": 5, "weekday": "saturday", "days": 3}}}
    return variant(lambda data: data.__setitem__("campaigns", [campaign]))


@pytest.mark.parametrize(("at", "runs"), [
    ("2026-01-31T12:00:00-05:00", True),    # the 5th Saturday is January's last day
    ("2026-02-01T12:00:00-05:00", True),    # so the window runs into February: Sunday
    ("2026-02-02T12:00:00-05:00", True),    # and Monday
    ("2026-02-03T12:00:00-05:00", False),   # three days only
    ("2026-02-08T12:00:00-05:00", False),   # a Sunday after a 1st (not 5th) Saturday
    ("2026-05-30T12:00:00-04:00", True),    # May: the 5th Saturday is the 30th, inside May
    ("2026-05-31T12:00:00-04:00", True),
    ("2026-06-01T12:00:00-04:00", True),    # … and Monday 1 June
    ("2026-06-28T12:00:00-04:00", False),   # June has four Saturdays: no window
])
def test_a_monthly_window_runs_across_the_month_end(fifth_saturday, req, run, at, runs):
    # gold, 100.00 of home: 100 × 1.25 × 1.5 = 187.5 → 187; × 3 in the window → 562
    res = run(fifth_saturday, req([("home", "100.00")], at=at, explain=True))
    assert res["earn"]["points"] == (562 if runs else 187)
    assert ("campaigns.fifth-saturday" in [c["rule"] for c in res["campaigns"]]) is runs
