"""`--workers N` gives exactly the `--workers 1` result, shared budgets and stock included."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.program import Program
from engine.simulate import simulate

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
