"""The console's member lookup: recorded orders and redemptions, and the explain trace
of a recorded order rebuilt from the member's history (store/console/members.py)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

import store.checkout.orders as orders
import store.console.members as lookup
import store.imports.importer as importer
from engine.simulation.generate import generate
from store.db.database import Database
from store.errors import NotFound
from store.registry import versions as registry
from store.registry.programs import ProgramCache
from store.tables.core import MemberRow, OrderRow
from tests.store.helpers import order, publish_retail


@pytest.fixture
def imported(db: Database, tmp_path: Path) -> Database:
    publish_retail(db, 1, activate=False)
    with db.writing() as session:
        registry.activate(session, "retail", 1, "tests", datetime(2021, 1, 1, tzinfo=UTC))
    out = io.StringIO()
    generate(out, members=6, events=240, seed=4, start=date(2023, 1, 1),
             end=date(2025, 6, 30), lifecycle=True)
    path = tmp_path / "h.jsonl"
    path.write_text(out.getvalue())
    importer.run(db, "retail", path)
    return db


def test_every_recorded_order_is_explained_with_the_points_it_was_recorded_with(
        imported: Database) -> None:
    cache = ProgramCache()
    with imported.reading() as session:
        rows = session.execute(select(MemberRow.member_id, OrderRow.order_id).join(
            OrderRow, OrderRow.member_pk == MemberRow.id).order_by(OrderRow.id)).all()
    assert len(rows) > 40
    for member_id, order_id in rows[::7]:
        traced = lookup.order_trace(imported, cache, "retail", member_id, order_id)
        assert traced["source"] == "replayed"
        assert traced["matches"], (member_id, order_id, traced)
        assert traced["points"] == traced["recorded_points"]
        rules = {entry["rule"] for entry in traced["trace"]}
        assert "earning.base" in rules and any(e["fired"] for e in traced["trace"])


def test_orders_and_redemptions_of_a_member_newest_first(imported: Database) -> None:
    with imported.reading() as session:
        ids = list(session.scalars(select(MemberRow.member_id)))
    seen_redemption = False
    for member_id in ids:
        listed = lookup.orders(imported, "retail", member_id)
        assert [o["placed_at"] for o in listed] == sorted(
            (o["placed_at"] for o in listed), reverse=True)
        redeemed = lookup.redemptions(imported, "retail", member_id)
        assert all(r["member_id"] == member_id for r in redeemed)
        seen_redemption = seen_redemption or bool(redeemed)
    assert seen_redemption


def test_an_order_committed_with_explain_shows_its_own_trace(db: Database,
                                                              server_clock: object) -> None:
    publish_retail(db)
    orders.commit(db, ProgramCache(), "retail", {**order("O-1"), "explain": True})
    traced = lookup.order_trace(db, ProgramCache(), "retail", "CUST-1", "O-1")
    assert traced["source"] == "recorded" and traced["trace"] and traced["matches"]


def test_an_order_of_someone_else_is_not_found(imported: Database) -> None:
    with imported.reading() as session:
        first, second = session.scalars(select(MemberRow.member_id).limit(2)).all()
        theirs = session.scalar(select(OrderRow.order_id).join(
            MemberRow, MemberRow.id == OrderRow.member_pk).where(MemberRow.member_id == second))
    with pytest.raises(NotFound):
        lookup.order_trace(imported, ProgramCache(), "retail", first, theirs or "x")
    with pytest.raises(NotFound):
        lookup.order_trace(imported, ProgramCache(), "retail", "nobody", "x")
