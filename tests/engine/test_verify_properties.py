"""No cart beats a proven bound (hypothesis): random rulesets within the schema (tiers and
their multipliers, category multipliers, exclusions, cashback, rotations with caps,
campaigns of every points type with random schedules, eligibility, stacking, limits, caps
and budgets) and random carts by random members on random days. `prove` itself checks
every witness on the evaluator, so each example also checks that the bounds are reached.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.evaluation.evaluate import outcome_of
from engine.evaluation.request import parse
from engine.language.loader import load_sources
from engine.language.validate import validate
from engine.program import Program
from engine.verify import prove

CATEGORIES = ["electronics", "fashion", "home", "groceries", "travel"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
TIER_IDS = ["t0", "t1", "t2", "t3"]
multipliers = st.sampled_from(["0.5", "1", "1.25", "1.5", "2", "3", "5"])
day_in_2026 = st.integers(0, 364).map(lambda n: date(2026, 1, 1) + timedelta(days=n))


@st.composite
def tiers(draw):
    count = draw(st.integers(1, 4))
    levels = []
    spend, orders = 0, 0
    for i in range(count):
        levels.append({"id": TIER_IDS[i], "name": TIER_IDS[i],
                       "qualification": {"min_spend": f"{spend}.00", "min_orders": orders},
                       "benefits": {"points_multiplier": draw(multipliers)},
                       **({"upgrade_bonus": draw(st.integers(1, 500))}
                          if i and draw(st.booleans()) else {})})
        spend += draw(st.integers(1, 3000))
        orders += draw(st.integers(0, 5))
    return {"window": "calendar_year", "downgrade": {"policy": "never"}, "levels": levels}


@st.composite
def schedules(draw):
    out = {}
    if draw(st.booleans()):
        start = draw(day_in_2026)
        out["from"] = start.isoformat()
        out["to"] = (start + timedelta(days=draw(st.integers(0, 60)))).isoformat()
    if draw(st.integers(0, 3)) == 0:
        out["days_of_week"] = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=3,
                                            unique=True))
    elif draw(st.integers(0, 3)) == 0:
        out["monthly"] = {"nth": draw(st.integers(1, 5)), "weekday": draw(st.sampled_from(WEEKDAYS)),
                          "days": draw(st.integers(1, 3))}
    return out


@st.composite
def campaigns(draw, tier_ids, excluded):
    kind = draw(st.sampled_from(["multiplier", "multiplier", "category_bonus", "fixed_bonus",
                                 "spend_threshold"]))
    allowed = [c for c in CATEGORIES if c not in excluded]
    c: dict = {"name": "c", "type": kind}
    if kind in ("multiplier", "category_bonus"):
        c["multiplier"] = draw(multipliers)
        if kind == "category_bonus" or draw(st.booleans()):
            c["categories"] = draw(st.lists(st.sampled_from(allowed), min_size=1, max_size=2,
                                            unique=True))
        if kind == "multiplier":
            c["stacking"] = draw(st.sampled_from(["combine", "combine", "exclusive"]))
    else:
        c["points"] = draw(st.integers(1, 400))
        if kind == "spend_threshold":
            c["threshold"] = f"{draw(st.integers(1, 300))}.00"
    schedule = draw(schedules())
    if schedule:
        c["schedule"] = schedule
    eligibility: dict = {}
    if draw(st.booleans()):
        eligibility["tiers"] = draw(st.lists(st.sampled_from(tier_ids), min_size=1, unique=True))
    if draw(st.integers(0, 3)) == 0:
        eligibility["channels"] = draw(st.lists(st.sampled_from(["web", "app"]), min_size=1,
                                                unique=True))
    if draw(st.integers(0, 3)) == 0:
        eligibility["segments"] = [draw(st.sampled_from(["vip", "new"]))]
    if draw(st.integers(0, 3)) == 0:
        eligibility["min_order"] = f"{draw(st.integers(1, 200))}.00"
    if eligibility:
        c["eligibility"] = eligibility
    if draw(st.integers(0, 3)) == 0:
        c["limit_per_member"] = draw(st.integers(1, 3))
    if draw(st.integers(0, 2)) == 0:
        c["max_points"] = draw(st.integers(1, 2000))
    if draw(st.integers(0, 2)) == 0:
        c["budget"] = {"points": draw(st.integers(1, 5000))}
    return c


@st.composite
def rulesets(draw):
    tier_section = draw(tiers())
    tier_ids = [t["id"] for t in tier_section["levels"]]
    excluded = draw(st.lists(st.sampled_from(CATEGORIES), max_size=1))
    earning: dict = {"base_rate": draw(st.sampled_from(["0.5", "1", "2"])),
                     "exclusions": {"categories": excluded}}
    earning["categories"] = {c: draw(multipliers) for c in draw(
        st.lists(st.sampled_from([c for c in CATEGORIES if c not in excluded]), unique=True,
                 max_size=3))}
    if draw(st.booleans()):
        earning["cashback"] = {"percent": draw(st.sampled_from(["0.5", "1", "1.5"])),
                               "categories": {"groceries": "3"} if "groceries" not in excluded
                               else {},
                               "tiers": {tier_ids[-1]: "2"},
                               **({"max_per_order": "5.00"} if draw(st.booleans()) else {})}
    data: dict = {"program": "prop", "version": 1,
                  "timezone": draw(st.sampled_from(["UTC", "America/New_York", "Asia/Tokyo"])),
                  "effective_from": "2026-01-01T00:00:00Z",
                  "rounding": draw(st.sampled_from(["floor", "round_half_up", "ceil"])),
                  "rounding_scope": draw(st.sampled_from(["order", "line"])),
                  "tiers": tier_section, "earning": earning,
                  "redemption": {"rate": {"points": draw(st.sampled_from([50, 100, 200])),
                                          "value": "1.00"}}}
    rotations = []
    free = [c for c in CATEGORIES if c not in excluded]
    for i in range(draw(st.integers(0, 2))):
        start = draw(day_in_2026)
        rotations.append({"id": f"r{i}", "from": start.isoformat(),
                          "to": (start + timedelta(days=draw(st.integers(0, 90)))).isoformat(),
                          "categories": [free[i]], "multiplier": draw(multipliers),
                          "cap": {"spend": f"{draw(st.integers(1, 500))}.00",
                                  "period": "rotation"}})
    if rotations:
        data["seasonal_categories"] = rotations
    found = draw(st.lists(campaigns(tier_ids, excluded), max_size=5))
    if found:
        data["campaigns"] = [{**c, "id": f"c{i}"} for i, c in enumerate(found)]
    return data


@st.composite
def carts(draw, data):
    tier_ids = [t["id"] for t in data["tiers"]["levels"]]
    lines = [{"sku": f"S{i}", "category": draw(st.sampled_from(CATEGORIES + ["misc"])),
              "quantity": draw(st.integers(1, 3)),
              "unit_price": f"{Decimal(draw(st.integers(1, 60_000))) / 100:.2f}",
              "discount": "0.00"}
             for i in range(draw(st.integers(1, 4)))]
    ids = [c["id"] for c in data.get("campaigns", [])]
    state: dict = {"qualifying": {"spend": f"{draw(st.integers(0, 10_000))}.00",
                                  "orders": draw(st.integers(0, 20))}}
    if ids:
        state["campaign_usage"] = {i: draw(st.integers(0, 3)) for i in
                                   draw(st.lists(st.sampled_from(ids), unique=True))}
        state["campaign_budget_used"] = {i: draw(st.integers(0, 5000)) for i in
                                         draw(st.lists(st.sampled_from(ids), unique=True))}
    day = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 700)))
    order: dict = {"id": "O", "placed_at": f"{day.isoformat()}T{draw(st.integers(0, 23)):02d}:"
                   "30:00+00:00", "shipping": f"{draw(st.integers(0, 300))}.00", "lines": lines}
    channel = draw(st.sampled_from(["web", "app", None]))
    if channel:
        order["channel"] = channel
    return {"member": {"id": "M", "tier": draw(st.sampled_from(tier_ids)),
                       "attributes": {"segments": draw(st.lists(st.sampled_from(["vip", "new"]),
                                                                unique=True))},
                       "state": state},
            "order": order}


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_no_cart_beats_a_proven_bound(data) -> None:
    ruleset = data.draw(rulesets())
    loaded = load_sources({"prop.yaml": yaml.safe_dump(ruleset, sort_keys=False)})
    problems = validate(loaded)
    assume(not problems)
    program = Program.from_data(loaded.data, loaded.sources)
    bounds = prove(program)  # raises when a witness is not reproduced
    per_unit = bounds.get("max_points_per_unit").value  # type: ignore[union-attr]
    back = bounds.get("max_value_back").value  # type: ignore[union-attr]
    bonus = bounds.get("max_bonus_points_per_order").value  # type: ignore[union-attr]
    point_value = program.model.redemption.point_value  # type: ignore[union-attr]
    for _ in range(8):
        request = data.draw(carts(ruleset))
        outcome = outcome_of(program, parse(request))
        for line in outcome.earn.lines:
            if line.eligible:
                assert line.exact_points / line.eligible <= per_unit, request
                # cashback is per order: its share on a line is at most the best percent
        spend = outcome.earn.spend
        if spend:
            given_back = (sum(line.exact_points for line in outcome.earn.lines) * point_value
                          + outcome.earn.cashback)
            assert given_back / spend <= back, request
        upgrade = outcome.upgrade.bonus_points if outcome.upgrade else 0
        assert sum(b.points for b in outcome.earn.bonuses) + upgrade <= bonus, request
        for use in outcome.campaigns:
            day = bounds.get("max_campaign_points_per_day", use.id)
            if day is not None and day.value is not None:
                assert use.points <= day.value
