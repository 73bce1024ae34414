"""The typed outcome (engine/evaluation/outcome.py) — what the lifecycle core books, the
simulator counts and explain reads — says the same as the result JSON rendered from it
(what the API and `loyalty evaluate` answer), for every shipped example request and for
random carts on every shipped program; rendering changes nothing."""

from __future__ import annotations

import copy
import json
import random
from decimal import Decimal
from pathlib import Path

import pytest

from engine import evaluate, load_program, outcome_of, parse
from engine.evaluation.render import result_json

ROOT = Path(__file__).resolve().parents[2]


def same_as_json(program, request):
    outcome = outcome_of(program, parse(request))
    before = copy.deepcopy(outcome.earn.by_rule)
    full = result_json(outcome)
    assert result_json(outcome) == full == evaluate(program, request)
    assert outcome.earn.by_rule == before
    earn = full["earn"]
    assert outcome.earn.points == earn["points"]
    assert outcome.earn.by_rule == earn["by_rule"]
    assert [(b.rule, b.points) for b in outcome.earn.bonuses] == [
        (b["rule"], b["points"]) for b in earn["bonuses"]]
    assert [(r.line.index, r.line.category, r.awarded, r.eligible) for r in outcome.earn.lines] \
        == [(ln["index"], ln["category"], ln["points"], Decimal(ln["eligible_amount"]))
            for ln in earn["lines"]]
    assert str(outcome.earn.cashback.quantize(Decimal("0.01"))) == earn["cashback"]
    assert [(c.id, c.points, c.tier_advance) for c in outcome.campaigns] == [
        (c["id"], c["points"], c.get("tier_advance", False)) for c in full["campaigns"]]
    assert [(a.activity, a.points) for a in outcome.activities] == [
        (a["activity"], a["points"]) for a in full["activities"]]
    assert outcome.tier_after == full["tier_after"] == full["member"]["tier_after"]
    assert (outcome.upgrade.bonus_points if outcome.upgrade else None) == (
        full["upgrade"]["bonus_points"] if full["upgrade"] else None)
    assert outcome.projected_balance == full["member"]["projected_balance"]
    usage = full["usage"]
    assert [(c.rule, c.period, c.spend) for c in outcome.usage.caps] == [
        (c["rule"], c["period"], Decimal(c["spend"])) for c in usage["caps"]]
    assert outcome.usage.caps_hit == usage["caps_hit"]
    assert [(c.id, c.spend) for c in outcome.usage.challenges] == [
        (c["id"], Decimal(c["spend"])) for c in usage["challenges"]]
    red = full["redemption"]
    assert (outcome.redemption.eligible, outcome.redemption.max_points) == (
        red["eligible"], red["max_points"])
    assert [r.code for r in outcome.redemption.reasons] == [r["code"] for r in red["reasons"]]
    assert outcome.trace is None and "trace" not in full
    explained = outcome_of(program, parse({**request, "explain": True}))
    assert explained.trace and result_json(explained)["trace"] == explained.trace


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "requests").glob("*.json")),
                         ids=lambda p: p.stem)
def test_example_requests(path):
    same_as_json(load_program(ROOT / "rulesets" / "retail"), json.loads(path.read_text()))


@pytest.mark.parametrize("program_id", ["retail", "card-rewards", "b2b-portal"])
def test_random_carts(program_id):
    program = load_program(ROOT / "rulesets" / program_id)
    tiers = [t.id for t in program.model.tiers.levels] if program.model.tiers else [None]
    categories = ["electronics", "fashion", "home", "grocery", "gift_cards", "travel",
                  "dining", "office_supplies", "furniture"]
    rng = random.Random(11)
    for n in range(300):
        lines = [{"sku": f"S{i}", "category": rng.choice(categories),
                  "quantity": rng.randint(1, 3), "unit_price": f"{rng.randint(1, 90000) / 100:.2f}",
                  "discount": "0.00"} for i in range(rng.randint(1, 6))]
        request = {"member": {"id": f"M-{n}", "tier": rng.choice(tiers),
                              "points_balance": rng.randint(0, 20000)},
                   "order": {"id": f"O-{n}", "placed_at": f"2026-{rng.randint(1, 12):02d}-"
                             f"{rng.randint(1, 28):02d}T12:00:00-05:00", "lines": lines,
                             "shipping": "5.00"}}
        if n % 3 == 0:
            request["redeem"] = {"points": rng.randint(100, 5000)}
        same_as_json(program, request)
