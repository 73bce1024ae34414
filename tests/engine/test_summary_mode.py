"""`evaluate(..., summary=True)` (what the simulator runs) gives the same points, usage,
tiers and redemption as the full result, for every shipped example request and for
random carts on every shipped program."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path

import pytest

from engine import evaluate, load_program

ROOT = Path(__file__).resolve().parents[2]
SAME = ("program", "ruleset_version", "ruleset_digest", "campaigns", "activities", "upgrade",
        "tier_after", "redemption", "usage", "order")


def same_as_full(program, request):
    full = evaluate(program, request)
    short = evaluate(program, request, summary=True)
    for key in SAME:
        assert short.get(key) == full.get(key), key
    for key in ("points", "bonuses", "by_rule", "cashback"):
        assert short["earn"][key] == full["earn"][key], key
    assert [(ln["index"], ln["category"], ln["points"], ln["eligible_amount"])
            for ln in short["earn"]["lines"]] == [
        (ln["index"], ln["category"], ln["points"], Decimal(ln["eligible_amount"]))
        for ln in full["earn"]["lines"]]
    assert short["member"]["points_balance"] == full["member"]["points_balance"]
    assert short["member"]["projected_balance"] == full["member"]["projected_balance"]
    assert "trace" not in evaluate(program, {**request, "explain": True}, summary=True)


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "requests").glob("*.json")),
                         ids=lambda p: p.stem)
def test_example_requests(path):
    same_as_full(load_program(ROOT / "rulesets" / "retail"), json.loads(path.read_text()))


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
        same_as_full(program, request)
