"""A refund gives back what the refunded part of the order used: seasonal-cap spend
(card-rewards' quarterly 1,500.00 cap) and, once the whole order is refunded, its
campaign uses (a per-member limit counts it no more)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import load_program
from store.registry import versions as registry
from tests.api.conftest import make_key
from tests.api.test_auto_redemption import BASE, publish_card

RETAIL = Path(__file__).resolve().parents[2] / "rulesets" / "retail"


@pytest.fixture
def key(db):
    return {"Authorization": f"Bearer {make_key(db, 'evaluate', 'commit')}"}


@pytest.fixture
def card(db):
    publish_card(db)


def test_a_refund_gives_back_the_seasonal_cap_the_order_used(client, key, card):
    def online(order_id, amount, day):
        r = client.post(f"{BASE}/orders", headers=key, json={
            "member": {"id": "CAP-1"}, "order": {"id": order_id,
                                                 "placed_at": f"2026-11-{day}T12:00:00-06:00",
                                                 "lines": [{"sku": "X", "category": "online_shopping",
                                                            "quantity": 1, "unit_price": amount}]}})
        assert r.status_code == 201, r.text
        return r.json()

    def capped(result):
        return [c for c in result["usage"]["caps"] if c["rule"] == "seasonal_categories.2026-q4"]

    full = online("C-1", "1500.00", 10)                 # uses the whole 1,500.00 cap
    assert capped(full)[0]["spend"] == "1500.00"
    past = online("C-2", "100.00", 11)                  # past the cap: no 5× spend
    assert capped(past) == [] or capped(past)[0]["spend"] == "0.00"
    refund = client.post(f"{BASE}/orders/C-1/refunds", headers=key, json={
        "refund_id": "RF-1", "refunded_at": "2026-11-12T12:00:00-06:00"})
    assert refund.status_code == 201, refund.text
    again = online("C-3", "100.00", 13)                  # the refunded spend is free again
    assert capped(again)[0]["spend"] == "100.00"
    assert again["earn"]["points"] > past["earn"]["points"]


def test_a_whole_refund_gives_back_a_limited_campaign_use(client, key, db):
    sources = {p.name: p.read_text() for p in sorted(RETAIL.glob("*.yaml"))}
    old = "    schedule: {from: \"2026-09-14\", to: \"2026-09-20\"}\n"
    assert old in sources["campaigns.yaml"]
    sources["campaigns.yaml"] = sources["campaigns.yaml"].replace(
        old, old + "    limit_per_member: 1\n")
    sources["program.yaml"] = sources["program.yaml"].replace("version: 1\n", "version: 2\n")
    with db.writing() as session:  # the app's fixture published version 1
        registry.publish(session, load_program(sources), "tests", "limited fashion week")
        registry.activate(session, "retail", 2, "tests", at_declared=True)

    def fashion(order_id, day):
        r = client.post("/v1/programs/retail/orders", headers=key, json={
            "member": {"id": "FW-1", "tier": "gold"}, "order": {
                "id": order_id, "placed_at": f"2026-09-{day}T12:00:00-04:00", "lines": [
                    {"sku": "DRESS", "category": "fashion", "quantity": 2,
                     "unit_price": "50.00"}]}})
        assert r.status_code == 201, r.text
        return [c["id"] for c in r.json()["campaigns"]]

    assert fashion("F-1", 15) == ["fashion-week"]
    assert fashion("F-2", 16) == []                      # once per member
    partial = client.post("/v1/programs/retail/orders/F-1/refunds", headers=key, json={
        "refund_id": "RF-1", "refunded_at": "2026-09-17T12:00:00-04:00",
        "lines": [{"index": 0, "quantity": 1}]})
    assert partial.status_code == 201
    assert fashion("F-3", 17) == []                      # half the order still stands
    rest = client.post("/v1/programs/retail/orders/F-1/refunds", headers=key, json={
        "refund_id": "RF-2", "refunded_at": "2026-09-18T12:00:00-04:00"})
    assert rest.status_code == 201
    assert fashion("F-4", 18) == ["fashion-week"]        # the use came back


def home_order(client, key, member, order_id, amount, day):
    """Commit one retail home order in November 2026; returns the member's tier after it."""
    r = client.post("/v1/programs/retail/orders", headers=key, json={
        "member": {"id": member}, "order": {
            "id": order_id, "placed_at": f"2026-11-{day:02d}T12:00:00-05:00", "lines": [
                {"sku": "LAMP", "category": "home", "quantity": 1, "unit_price": amount}]}})
    assert r.status_code == 201, r.text
    return r.json()["commit"]["tier"]

def test_a_refund_keeps_a_tier_won_in_a_challenge_unless_it_takes_qualification(client, key):
    def buy(order_id, amount, day):
        return home_order(client, key, "CH-1", order_id, amount, day)

    def refund(order_id, refund_id):
        r = client.post(f"/v1/programs/retail/orders/{order_id}/refunds", headers=key,
                        json={"refund_id": refund_id, "refunded_at": "2026-11-20T12:00:00-05:00"})
        assert r.status_code == 201, r.text
        return r.json()

    # 500.00 in one order meets the tier-up challenge: bronze → silver, although silver
    # also needs 5 orders to qualify (qualification alone says bronze).
    assert buy("CH-A", "500.00", 2) == "silver"
    assert buy("CH-B", "10.00", 3) == "silver"
    # Refunding the small order changes nothing in qualification: silver stays.
    small = refund("CH-B", "RF-1")
    assert (small["tier_before"], small["tier_after"]) == ("silver", "silver")


def test_a_refund_takes_its_spend_out_of_a_running_tier_challenge(client, key):
    def buy(order_id, amount, day):
        return home_order(client, key, "CH-2", order_id, amount, day)

    assert buy("CH-C", "300.00", 2) == "bronze"          # 300.00 of the challenge's 500.00
    refund = client.post("/v1/programs/retail/orders/CH-C/refunds", headers=key,
                         json={"refund_id": "RF-1", "refunded_at": "2026-11-03T12:00:00-05:00"})
    assert refund.status_code == 201
    assert buy("CH-D", "300.00", 4) == "bronze"          # 300.00 again, not 600.00: no advance
    assert buy("CH-E", "200.00", 5) == "silver"          # 500.00 within the window: advance
