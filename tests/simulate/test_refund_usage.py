"""A refund in simulation gives back what the order used, as the store does: the
refunded share of its seasonal-cap spend (card-rewards' 1,500.00 quarterly cap)."""

from __future__ import annotations

import json
from pathlib import Path

from engine.simulation.simulate import simulate

ROOT = Path(__file__).resolve().parents[2]


def order(order_id: str, day: int, amount: str) -> dict:
    return {"type": "order", "member_id": "M1", "at": f"2026-11-{day:02d}T12:00:00-06:00",
            "order": {"id": order_id, "lines": [{"sku": "X", "category": "online_shopping",
                                                 "quantity": 1, "unit_price": amount}]}}


def test_a_refund_frees_the_cap_spend_it_used(tmp_path):
    def run(refund: dict | None) -> dict:
        events = [{"type": "enroll", "member_id": "M1", "at": "2026-11-01T12:00:00-06:00"},
                  order("O1", 2, "1500.00"), *([refund] if refund else []),
                  order("O2", 10, "100.00")]
        path = tmp_path / "history.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
        return simulate(ROOT / "rulesets" / "card-rewards", path)

    rule = "seasonal_categories.2026-q4"
    kept = run(None)
    half = run({"type": "refund", "member_id": "M1", "at": "2026-11-05T12:00:00-06:00",
                "order_id": "O1", "amount": "750.00"})
    whole = run({"type": "refund", "member_id": "M1", "at": "2026-11-05T12:00:00-06:00",
                 "order_id": "O1"})
    # 1,500.00 fills the cap (5×: 1,500 base + 6,000 seasonal); without a refund the
    # 100.00 order is past it. A refund frees what it refunded: the 100.00 earns 5× again.
    assert kept["caps"][rule]["orders_over_cap"] == 1
    assert kept["by_rule"][rule] == 6000
    for refunded in (half, whole):
        assert rule not in refunded["caps"] or refunded["caps"][rule]["orders_over_cap"] == 0
        assert refunded["by_rule"][rule] == 6000 + 400


def test_a_refund_takes_its_spend_out_of_a_running_tier_challenge(tmp_path):
    def home(order_id: str, day: int, amount: str) -> dict:
        return {"type": "order", "member_id": "M1", "at": f"2026-11-{day:02d}T12:00:00-05:00",
                "order": {"id": order_id, "lines": [{"sku": "X", "category": "home",
                                                     "quantity": 1, "unit_price": amount}]}}

    def tiers(refunded: bool) -> dict:
        events = [{"type": "enroll", "member_id": "M1", "at": "2026-11-01T12:00:00-05:00"},
                  home("O1", 2, "300.00"),
                  *([{"type": "refund", "member_id": "M1", "at": "2026-11-03T12:00:00-05:00",
                      "order_id": "O1"}] if refunded else []),
                  home("O2", 4, "300.00")]
        path = tmp_path / "history.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
        return simulate(ROOT / "rulesets" / "retail", path)["tiers"]["end"]

    # retail's tier-up challenge: 500.00 within 30 days advances bronze to silver.
    assert tiers(refunded=False).get("silver") == 1      # 300 + 300
    assert tiers(refunded=True).get("silver", 0) == 0    # the refunded 300 no longer counts
