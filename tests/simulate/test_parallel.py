"""`--workers N` gives exactly the `--workers 1` result, shared budgets and stock included."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from engine.program import Program
from engine.simulate import simulate

BUDGETED = {
    "campaigns.yaml": [("    stacking: combine\n", "    stacking: combine\n    budget: {points: 15000}\n")],
    "redemption.yaml": [("stock: 500", "stock: 3")],
}


def test_two_workers_match_one(retail: Program, history: Path) -> None:
    assert simulate(retail, history, workers=2) == simulate(retail, history, workers=1)


def test_shared_budget_and_stock_stay_exact(retail_copy: Callable[..., Program],
                                            history: Path) -> None:
    program = retail_copy(BUDGETED)
    one = simulate(program, history, workers=1)
    campaign = one["campaigns"]["double-points-weekend"]
    assert campaign["budget"] == 15000 and campaign["budget_used"] == 15000  # exhausted
    assert one["redemptions"].get("declined:OUT_OF_STOCK", 0) > 0
    assert simulate(program, history, workers=3) == one
