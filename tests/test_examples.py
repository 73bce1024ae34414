"""Every example request runs through `loyalty evaluate -o json`; the worked examples
give the figures docs/semantics.md states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
REQUESTS = sorted((ROOT / "examples" / "requests").glob("*.json"))


def _evaluate(path: Path) -> dict:
    result = CliRunner().invoke(cli, ["evaluate", "-r", str(ROOT / "rulesets" / "retail"),
                                      "-i", str(path), "-o", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_there_are_examples():
    assert len(REQUESTS) >= 6


@pytest.mark.parametrize("path", REQUESTS, ids=[p.stem for p in REQUESTS])
def test_every_example_evaluates(path):
    data = _evaluate(path)
    assert data["program"] == "retail"
    assert sum(data["earn"]["by_rule"].values()) == data["earn"]["points"]


def test_gold_weekday():
    # 100.00 electronics × 2.0 × gold 1.5 = 300
    data = _evaluate(ROOT / "examples/requests/gold-weekday.json")
    assert data["earn"]["points"] == 300
    assert data["redemption"]["eligible"] is True and data["redemption"]["value"] == "10.00"


def test_gold_weekend():
    # Saturday 2026-11-07 is the first Saturday of November: 300 × 2.0 = 600
    data = _evaluate(ROOT / "examples/requests/gold-weekend.json")
    assert data["earn"]["points"] == 600
    assert [c["id"] for c in data["campaigns"]] == ["double-points-weekend"]


def test_bronze_gift_card():
    # gift card earns 0; home 2 × 19.99 − 2.00 = 37.98 × 1.25 = 47.475 → 47;
    # the gift card in the cart refuses paying with points
    data = _evaluate(ROOT / "examples/requests/bronze-gift-card.json")
    assert data["earn"]["points"] == 47
    assert [r["code"] for r in data["redemption"]["reasons"]] == ["GIFT_CARD_IN_CART"]
    assert data["order"]["total"] == "94.93"          # 50.00 + 37.98 + 6.95 shipping


def test_platinum_fashion_week():
    # fashion (180 − 30) + 2 × 25 = 200 × 3.0 (fashion week) × 2.0 = 1200;
    # home 12 × 1.25 × 2.0 = 30 → 1230
    data = _evaluate(ROOT / "examples/requests/platinum-fashion-week.json")
    assert data["earn"]["points"] == 1230
    assert data["benefits"]["birthday_discount_percent"] == "25"   # September birthday


def test_reward_201_refused_for_gold():
    data = _evaluate(ROOT / "examples/requests/gold-reward-201-refused.json")
    assert [r["code"] for r in data["redemption"]["reasons"]] == ["TIER_RESTRICTED"]


def test_pay_with_points_over_half():
    # order 3 × 15.00 + 5.00 = 50.00 → at most 25.00 = 2500 points; 3000 asked
    data = _evaluate(ROOT / "examples/requests/pay-with-points-over-half.json")
    assert data["redemption"]["max_points"] == 2500
    assert [r["code"] for r in data["redemption"]["reasons"]] == ["EXCEEDS_ORDER_SHARE"]


def test_first_purchase():
    # 59.99 × 2.0 = 119.98 → 119 earned; +200 first purchase reported apart
    data = _evaluate(ROOT / "examples/requests/bronze-first-purchase.json")
    assert data["earn"]["points"] == 119
    assert data["activities"][0]["points"] == 200
    assert data["member"]["projected_balance"] == 100 + 119 + 200
