"""Automatic redemption in simulation, as the store does it (tests/api/test_auto_redemption.py):
a member opts in with an `auto_redemption` event (card-rewards: threshold 2,500, unit
2,500, at most once a month); after each order that leaves the balance at or above the
threshold, a unit is redeemed within the limit. The books still balance."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

from engine.simulation.generate import generate
from engine.simulation.simulate import simulate

ROOT = Path(__file__).resolve().parents[2]
CARD = ROOT / "rulesets" / "card-rewards"


def history(tmp_path: Path, *events: dict) -> Path:
    path = tmp_path / "history.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def order(order_id: str, at: str, amount: str) -> dict:
    return {"type": "order", "member_id": "M1", "at": at, "order": {"id": order_id, "lines": [
        {"sku": "X", "category": "home", "quantity": 1, "unit_price": amount}]}}


def test_opted_in_members_redeem_once_a_month(tmp_path):
    doc = simulate(CARD, history(
        tmp_path,
        {"type": "enroll", "member_id": "M1", "at": "2026-11-01T12:00:00-06:00"},
        {"type": "auto_redemption", "member_id": "M1", "at": "2026-11-01T12:05:00-06:00",
         "method": "cashback"},
        order("O1", "2026-11-02T12:00:00-06:00", "2000.00"),   # 2,000: below the threshold
        order("O2", "2026-11-03T12:00:00-06:00", "1000.00"),   # 3,000: one unit → 500
        order("O3", "2026-11-20T12:00:00-06:00", "4000.00"),   # 4,500: the month's one is used
        order("O4", "2026-12-02T12:00:00-06:00", "100.00"),    # December: 4,600 → 2,100
    ))
    assert doc["redemptions"] == {"automatic:cashback": 2}
    assert doc["totals"]["points_redeemed"] == 5000
    assert doc["totals"]["points_outstanding"] == 7100 - 5000 == doc["totals"]["sum_of_member_balances"]


def test_settings_the_program_does_not_allow_are_rejected(tmp_path):
    doc = simulate(CARD, history(
        tmp_path,
        {"type": "enroll", "member_id": "M1", "at": "2026-11-01T12:00:00-06:00"},
        {"type": "auto_redemption", "member_id": "M1", "at": "2026-11-01T12:05:00-06:00",
         "threshold": 1000},
        {"type": "auto_redemption", "member_id": "M1", "at": "2026-11-01T12:06:00-06:00",
         "frequency": {"count": 3, "per": "month"}},
        {"type": "auto_redemption", "member_id": "M1", "at": "2026-11-01T12:07:00-06:00",
         "frequency": "monthly"},
        order("O1", "2026-11-02T12:00:00-06:00", "3000.00"),
    ))
    messages = [e["message"] for e in doc["events"]["errors"]]
    assert messages[0].startswith("below_threshold: ")
    assert messages[1].startswith("exceeds_frequency_limit: ")
    assert "`frequency` must be" in messages[2]
    assert "redemptions" not in doc or not doc["redemptions"]


def test_a_program_without_automatic_redemption_rejects_opt_ins(tmp_path):
    doc = simulate(ROOT / "rulesets" / "retail", history(
        tmp_path,
        {"type": "enroll", "member_id": "M1", "at": "2026-11-01T12:00:00-05:00"},
        {"type": "auto_redemption", "member_id": "M1", "at": "2026-11-01T12:05:00-05:00"},
    ))
    assert doc["events"]["rejected"] == 1
    assert "offers no automatic redemption" in doc["events"]["errors"][0]["message"]


def test_generated_card_histories_have_opt_ins_and_workers_agree(tmp_path):
    out = io.StringIO()
    generate(out, members=300, events=6000, seed=5, start=date(2026, 1, 1),
             end=date(2026, 12, 31), program="card-rewards")
    path = tmp_path / "card.jsonl"
    path.write_text(out.getvalue())
    assert '"type": "auto_redemption"' in out.getvalue()
    one, two = simulate(CARD, path), simulate(CARD, path, workers=2)
    automatic = sum(n for k, n in one["redemptions"].items() if k.startswith("automatic:"))
    assert automatic > 0 and one["events"]["rejected"] == 0
    assert one == two
    assert one["totals"]["points_outstanding"] == one["totals"]["sum_of_member_balances"]
