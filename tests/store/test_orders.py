from decimal import Decimal

import pytest

from store.checkout.orders import commit, quote
from store.checkout.refunds import refund
from store.errors import Conflict, Unprocessable
from store.ledger import accounts, members
from store.ledger import entries as ledger
from store.registry.programs import ProgramCache
from tests.store.helpers import order, publish_retail


@pytest.fixture
def cache(db):
    publish_retail(db, 1)
    return ProgramCache()


def monthly_order(i):
    """120.00 of home goods, one order a month: five reach silver (500.00 and 5 orders)
    while no 30-day tier-up challenge window ever reaches 500.00."""
    return order(f"O-{i}", amount="120.00", category="home",
                 placed_at=f"2026-0{i + 2}-10T12:00:00+00:00")


def balance_matches_ledger(db, member_id="CUST-1"):
    with db.reading() as s:
        row = members.get(s, "retail", member_id)
        return row.balance == ledger.balance_from_entries(s, row.id), row.balance


def test_quote_has_no_side_effects(db, cache):
    result = quote(db, cache, "retail", order("O-1"))
    assert result["earn"]["points"] == 200  # bronze: 100.00 electronics x2
    with db.reading() as s:
        assert members.find(s, "retail", "CUST-1") is None


def test_commit_writes_lots_per_rule_and_the_first_purchase_bonus(db, cache):
    outcome = commit(db, cache, "retail", order("O-1"))
    assert outcome.created
    result = outcome.result
    assert result["earn"]["by_rule"] == {"earning.base": 100, "earning.categories.electronics": 100}
    assert result["commit"]["points_awarded"] == 200 + 200
    ok, balance = balance_matches_ledger(db)
    assert ok and balance == 400
    page = accounts.ledger_page(db, "retail", "CUST-1", None, 10)
    kinds = sorted((e["kind"], e["rule"], e["points"]) for e in page["entries"])
    assert kinds == [("bonus", "earning.activities.first_purchase", 200),
                     ("earn", "earning.base", 100), ("earn", "earning.categories.electronics", 100)]
    assert all(e["expires_at"].startswith("2028-11-17") for e in page["entries"])


def test_a_retry_returns_the_first_result_and_a_changed_body_is_refused(db, cache):
    first = commit(db, cache, "retail", order("O-1"))
    again = commit(db, cache, "retail", order("O-1"))
    assert not again.created and again.result == first.result
    with pytest.raises(Conflict) as err:
        commit(db, cache, "retail", order("O-1", amount="999.00"))
    assert err.value.code == "order_conflict" and err.value.pointer == "/order/id"
    assert balance_matches_ledger(db) == (True, 400)


def test_tier_upgrade_pays_its_bonus_once(db, cache):
    for i in range(5):
        result = commit(db, cache, "retail", monthly_order(i)).result
    assert result["tier_after"] == "silver"
    assert result["upgrade"]["rules"] == ["tiers.silver.upgrade_bonus"]
    with db.reading() as s:
        assert members.get(s, "retail", "CUST-1").tier == "silver"
    nxt = commit(db, cache, "retail", order("O-9", amount="10.00", category="home",
                                            placed_at="2026-08-01T12:00:00+00:00")).result
    assert nxt["upgrade"] is None and nxt["member"]["tier"] == "silver"
    assert balance_matches_ledger(db)[0]


def test_pinned_version_is_honoured(db, cache):
    publish_retail(db, 2, earning_edit=("electronics: 2.0", "electronics: 3.0"))
    assert commit(db, cache, "retail", order("O-1")).result["ruleset_version"] == 2
    pinned = commit(db, cache, "retail", order("O-2"), pinned=1).result
    assert pinned["ruleset_version"] == 1 and pinned["earn"]["points"] == 200


def test_partial_then_full_refund_reverses_points_exactly(db, cache):
    req = order("O-1", amount="33.33", quantity=3)  # 99.99 electronics → 199 points
    earned = commit(db, cache, "retail", req).result["earn"]["points"]
    first = refund(db, cache, "retail", "O-1", {"refund_id": "R-1",
                                                "lines": [{"sku": "SKU-electronics", "quantity": 1}]})
    assert first.created and 0 < first.result["points_reversed"] < earned
    assert refund(db, cache, "retail", "O-1", {"refund_id": "R-1", "lines": [
        {"sku": "SKU-electronics", "quantity": 1}]}).result == first.result
    rest = refund(db, cache, "retail", "O-1", {"refund_id": "R-2"}).result
    # ... and the first-purchase bonus (200) leaves with the whole order.
    assert first.result["points_reversed"] + rest["points_reversed"] == earned + 200
    assert balance_matches_ledger(db) == (True, 0)  # nothing of the order is left
    with pytest.raises(Unprocessable) as err:
        refund(db, cache, "retail", "O-1", {"refund_id": "R-3"})
    assert err.value.code == "nothing_to_refund"


def test_refund_more_than_bought_points_at_the_line(db, cache):
    commit(db, cache, "retail", order("O-1", quantity=2))
    with pytest.raises(Unprocessable) as err:
        refund(db, cache, "retail", "O-1", {"refund_id": "R-1", "lines": [
            {"sku": "SKU-electronics", "quantity": 3}]})
    assert err.value.pointer == "/lines/0/quantity"


def test_refund_requalifies_the_tier(db, cache):
    for i in range(5):
        commit(db, cache, "retail", monthly_order(i))
    result = refund(db, cache, "retail", "O-4", {"refund_id": "R-1",
                                                 "refunded_at": "2026-11-18T10:00:00+00:00"}).result
    assert (result["tier_before"], result["tier_after"]) == ("silver", "bronze")
    summary = accounts.summary(db, cache, "retail", "CUST-1",
                               __import__("datetime").datetime.fromisoformat("2026-11-20T00:00:00+00:00"))
    assert summary["tier"] == "bronze"
    assert Decimal(summary["progress"]["qualifying_spend"]) == Decimal("480.00")
    assert summary["progress"]["qualifying_orders"] == 4
