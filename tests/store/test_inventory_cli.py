"""Reward inventory beside single redemptions, and the `loyalty inventory` and
`loyalty b2b-orders` commands on the test database (click's CliRunner).

The ruleset's `stock:` is the initial stock: until the inventory is touched, a single
redemption counts against `stock − issued`; once seeded, the inventory row is the stock
of record for redemptions too (taken by a redemption, given back by its cancel)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import store.b2b_orders.place as placing
from cli.main import cli
from store.checkout import orders
from store.redemptions import redeem as redemptions
from store.registry.programs import ProgramCache
from tests.store.b2b_helpers import make_company, publish_b2b
from tests.store.b2b_order_support import items, points_api
from tests.store.helpers import order, publish_retail

MUG = "REWARD-101"  # retail: stock 500


def run(db, *args: str):
    return CliRunner().invoke(cli, [*args, "--database-url", db.url], catch_exceptions=False)


def mug(db) -> dict:
    listed = run(db, "inventory", "list", "retail")
    assert listed.exit_code == 0, listed.output
    return next(i for i in json.loads(listed.output)["items"] if i["reward_id"] == MUG)


def test_single_redemptions_take_from_the_inventory_once_it_is_seeded(db):
    publish_retail(db, 1)
    cache = ProgramCache()
    orders.commit(db, cache, "retail", order("O-1", amount="5000.00"))
    ask = {"member_id": "CUST-1", "reward_id": MUG, "quantity": 2}
    first = redemptions.redeem(db, cache, "retail", {**ask, "idempotency_key": "R-1"})
    assert mug(db)["available"] == 498  # not seeded yet: stock − issued
    restocked = run(db, "inventory", "restock", "retail", MUG, "10", "--reason", "delivery")
    assert restocked.exit_code == 0 and json.loads(restocked.output)["available"] == 508
    redemptions.redeem(db, cache, "retail", {**ask, "idempotency_key": "R-2"})
    assert mug(db)["available"] == 506
    redemptions.cancel(db, cache, "retail", first.result["id"], {})
    assert mug(db)["available"] == 508
    short = run(db, "inventory", "adjust", "retail", MUG, "--by", "-509", "--reason", "count")
    assert short.exit_code == 5 and json.loads(short.stdout)["code"] == "stock_below_zero"
    assert run(db, "inventory", "adjust", "retail", MUG, "--by", "-507", "--reason",
               "count").exit_code == 0
    redemptions.redeem(db, cache, "retail", {**ask, "quantity": 1, "idempotency_key": "R-3"})
    with pytest.raises(redemptions.Refused) as refused:  # the last unit went to R-3
        redemptions.redeem(db, cache, "retail", {**ask, "quantity": 1, "idempotency_key": "R-4"})
    assert refused.value.code == "OUT_OF_STOCK"
    kinds = [c["kind"] for c in json.loads(run(db, "inventory", "changes", "retail").output)
             ["changes"]]
    assert kinds == ["redeem", "adjust", "return", "redeem", "restock", "seed"]
    assert run(db, "inventory", "low-stock", "retail", MUG, "5").exit_code == 0
    assert mug(db)["low_stock"] == 5


def test_operators_work_an_order_from_the_command_line(db, monkeypatch):
    with points_api(monkeypatch, {"ACC-ACME": 10**6}):
        publish_b2b(db)
        order_ = placing.place(db, ProgramCache(), make_company(db),
                               {"items": items(("PHYS-LAPTOP-BAG", 1), ("PHYS-COFFEE-MACHINE", 1))},
                               "manager:ann", 72).result
    number = order_["order_number"]
    queue = json.loads(run(db, "b2b-orders", "queue", "b2b-portal").output)
    assert [i["line"] for i in queue["items"]] == [1, 2]
    assert run(db, "b2b-orders", "acknowledge", "b2b-portal", number, "1").exit_code == 0
    shipped = run(db, "b2b-orders", "ship", "b2b-portal", number, "1", "--carrier", "DHL",
                  "--tracking", "JD01")
    assert json.loads(shipped.output)["items"][0]["tracking"] == "JD01"
    delivered = json.loads(run(db, "b2b-orders", "deliver", "b2b-portal", number, "1").output)
    assert delivered["status"] == "partially_fulfilled"
    early = run(db, "b2b-orders", "deliver", "b2b-portal", number, "2")
    assert early.exit_code == 5 and json.loads(early.stdout)["code"] == "invalid_transition"
    cancelled = run(db, "b2b-orders", "cancel", "b2b-portal", number, "--line", "2")
    assert json.loads(cancelled.output)["status"] == "fulfilled"
    shown = json.loads(run(db, "b2b-orders", "show", "b2b-portal", number).output)
    assert [(h["step"], h["actor"].split(":")[0]) for h in shown["history"]][-4:] == [
        ("acknowledged", "cli"), ("shipped", "cli"), ("delivered", "cli"),
        ("item_cancelled", "cli")]
