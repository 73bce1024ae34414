"""A milestone's catalog reward in the store and the simulator: given as a redemption of
0 points (kind `gift`) listed with the member's redemptions, announced by
`redemption.created`, queued for fulfilment and taking a unit of stock; when no unit is
left, the milestone is reached without it (`gift: out_of_stock`); a refund of the order
takes none of it back. The simulator (one process and partitioned) counts the same.
SQLite, or PostgreSQL with CI=true."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import store.events.outbox as outbox
import store.redemptions.rows as redemption_rows
from engine import load_program
from engine.simulation.simulate import run
from store.checkout import orders, refunds
from store.db.database import Database
from store.redemptions import history
from store.registry import versions as registry
from store.registry.programs import ProgramCache
from store.tables.core import MemberRow, RewardStockRow
from store.tables.redemptions import RedemptionRow
from tests.store.helpers import order, retail_sources

AT = ("2026-11-17T14:30:00-05:00", "2026-11-18T10:00:00-05:00", "2026-11-19T10:00:00-05:00")


def gift_sources() -> dict[str, str]:
    """The shipped retail program whose first-electronics milestone gives the stocked mug
    (REWARD-101), of which one unit is left."""
    sources = retail_sources()
    assert "reward: {reward: REWARD-002}" in sources["engagement.yaml"]
    sources["engagement.yaml"] = sources["engagement.yaml"].replace(
        "reward: {reward: REWARD-002}", "reward: {reward: REWARD-101}")
    assert "stock: 500" in sources["redemption.yaml"]
    sources["redemption.yaml"] = sources["redemption.yaml"].replace("stock: 500", "stock: 1")
    return sources


def publish(db: Database) -> None:
    with db.writing() as session:
        registry.publish(session, load_program(gift_sources()), "tests", "gift")
        registry.activate(session, "retail", 1, "tests", at_declared=True)


def milestone_payloads(db: Database, member: str) -> list[dict[str, Any]]:
    with db.reading() as session:
        published = outbox.read_after(session, "retail", 0, 10_000)
    return [p.event.payload for p in published
            if p.event.type == "milestone.reached" and p.event.member_id == member]


def test_a_milestone_gift_is_a_redemption_fulfilled_like_any_reward(db: Database) -> None:
    publish(db)
    cache = ProgramCache()
    first = orders.commit(db, cache, "retail", order("O-1", "CUST-1", "100.00",
                                                     placed_at=AT[0]))
    assert "gifts" not in first.result["commit"]  # the order's answer keeps its shape
    page = history.member_page(db, "retail", "CUST-1", None, 50)
    (gift,) = page["redemptions"]
    assert (gift["kind"], gift["status"], gift["points"], gift["reward_id"], gift["quantity"],
            gift["order_id"]) == ("gift", "completed", 0, "REWARD-101", 1, "O-1")
    assert history.member_page(db, "retail", "CUST-1", None, 50, kind="gift") == page
    with db.reading() as session:
        row = session.get(RedemptionRow, int(gift["id"]))
        assert row is not None
        view = redemption_rows.view(session, row)
        stock = session.scalar(select(RewardStockRow.issued).where(
            RewardStockRow.program == "retail", RewardStockRow.reward_id == "REWARD-101"))
        balance = session.scalar(select(MemberRow.balance).where(
            MemberRow.member_id == "CUST-1"))
    assert view["reward"]["code"].startswith("RW-") and view["lots"] == []
    assert view["fulfilment"] is not None and view["fulfilment"]["status"] in ("pending",
                                                                               "queued")
    assert [(h["status"], h.get("milestone")) for h in view["history"]][:1] == [
        ("completed", "first_electronics")]
    assert stock == 1
    assert balance == first.result["commit"]["balance"]  # a gift costs no points
    assert milestone_payloads(db, "CUST-1") == [{
        "milestone": "first_electronics", "name": "First electronics order",
        "reward": {"points": None, "badge": None, "reward_id": "REWARD-101", "gift": "issued"}}]
    with db.reading() as session:
        created = [p.event for p in outbox.read_after(session, "retail", 0, 10_000)
                   if p.event.type == "redemption.created"]
    assert [(e.payload["redemption_id"], e.payload["points"]) for e in created] == [
        (gift["id"], 0)]

    # the only unit is gone: the next member reaches the milestone without the gift
    orders.commit(db, cache, "retail", order("O-2", "CUST-2", "100.00", placed_at=AT[1]))
    assert history.member_page(db, "retail", "CUST-2", None, 50)["redemptions"] == []
    (reached,) = milestone_payloads(db, "CUST-2")
    assert reached["reward"]["gift"] == "out_of_stock"

    # a refund of the order that reached it takes nothing back, and nothing is reached again
    refunds.refund(db, cache, "retail", "O-1", {"refund_id": "R-1", "refunded_at": AT[2]})
    orders.commit(db, cache, "retail", order("O-3", "CUST-1", "100.00", placed_at=AT[2]))
    (still,) = history.member_page(db, "retail", "CUST-1", None, 50)["redemptions"]
    assert still["status"] == "completed" and len(milestone_payloads(db, "CUST-1")) == 1


@pytest.mark.parametrize("workers", [1, 2])
def test_the_simulator_counts_the_gifts_as_the_store_made_them(tmp_path: Path,
                                                               workers: int) -> None:
    def line(member: str, order_id: str, at: str) -> dict[str, Any]:
        return {"type": "order", "member_id": member, "at": at, "order": {
            "id": order_id, "lines": [{"sku": "TV", "category": "electronics",
                                       "quantity": 1, "unit_price": "100.00"}]}}

    events = [line("CUST-1", "O-1", AT[0]), line("CUST-2", "O-2", AT[1]),
              line("CUST-3", "O-3", AT[2])]
    path = tmp_path / "history.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    part = run(load_program(gift_sources()), path, workers=workers)
    assert part.stats.rejected == 0, part.stats.errors
    assert part.stats.milestones["first_electronics"] == 3
    assert {k: v for k, v in part.stats.redemptions.items() if k.startswith("gift")} == {
        "gift": 1, "gift:out_of_stock": 2}
