"""`--workers N` gives exactly the `--workers 1` result, shared budgets and stock included."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from engine.program import Program
from engine.simulation.simulate import simulate

BUDGETED = {
    "campaigns.yaml": [("    stacking: combine\n", "    stacking: combine\n    budget: {points: 8000}\n")],
    "redemption.yaml": [("stock: 500", "stock: 2")],
}


def test_two_workers_match_one(retail: Program, history: Path, retail_doc: dict) -> None:
    assert simulate(retail, history, workers=2) == retail_doc


def test_shared_budget_and_stock_stay_exact(retail_copy: Callable[..., Program],
                                            history: Path) -> None:
    program = retail_copy(BUDGETED)
    one = simulate(program, history, workers=1)
    campaign = one["campaigns"]["double-points-weekend"]
    assert campaign["budget"] == 8000 and campaign["budget_used"] == 8000  # exhausted
    assert one["redemptions"].get("declined:OUT_OF_STOCK", 0) > 0
    assert simulate(program, history, workers=3) == one


def test_member_states_are_the_same_whatever_the_workers(retail: Program, history: Path,
                                                         tmp_path: Path) -> None:
    """`--member-states`: one JSON line per member, sorted by id, identical for 1 and 2
    workers; the balances add up to the report's outstanding points."""
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    doc = simulate(retail, history, member_states=one)
    simulate(retail, history, workers=2, member_states=two)
    assert one.read_bytes() == two.read_bytes()
    states = [json.loads(line) for line in one.read_text().splitlines()]
    assert [s["member_id"] for s in states] == sorted(s["member_id"] for s in states)
    assert len(states) == doc["members"]
    assert sum(s["balance"] for s in states) == doc["totals"]["points_outstanding"]
    assert all(sum(lot["left"] for lot in s["lots"]) - s["debt"] == s["balance"]
               for s in states)
    assert any(s["tier"] != "bronze" and s["tier_since"] for s in states)
