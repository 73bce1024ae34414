"""The books balance, and the figures add up, on a history with expiry, refunds and
redemptions."""

from __future__ import annotations

from decimal import Decimal


def test_books_balance(retail_doc: dict) -> None:
    doc = retail_doc
    t = doc["totals"]
    assert t["points_expired"] > 0 and t["points_reversed"] > 0 and t["points_redeemed"] > 0
    assert t["points_issued"] - t["points_reversed"] - t["points_redeemed"] \
        - t["points_expired"] == t["points_outstanding"]
    assert t["points_outstanding"] == t["sum_of_member_balances"] and t["books_balance"]
    assert Decimal(t["liability"]) == Decimal(t["points_outstanding"]) / 100
    assert doc["members"] == 150 and doc["events"]["rejected"] == 0
    assert doc["events"]["processed"] == 3000


def test_figures_add_up(retail_doc: dict) -> None:
    doc = retail_doc
    t = doc["totals"]
    assert sum(doc["by_rule"].values()) == t["points_issued"]
    for field, total in (("issued", "points_issued"), ("redeemed", "points_redeemed"),
                         ("expired", "points_expired"), ("reversed", "points_reversed")):
        assert sum(m[field] for m in doc["by_month"].values()) == t[total], field
    assert sum(doc["tiers"]["end"].values()) == doc["members"]
    last = max(doc["tiers"]["by_month"])
    assert doc["tiers"]["by_month"][last] == doc["tiers"]["end"]
    assert doc["campaigns"]["double-points-weekend"]["points"] \
        == doc["by_rule"]["campaigns.double-points-weekend"]
    assert t["upgrades"] > 0
