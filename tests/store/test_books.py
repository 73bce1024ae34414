"""The store keeps each member's book (engine/lifecycle) and writes what the core changed:
the member row shows the book, the ledger names lots and draws, `due_at` says when time
alone changes the book, and order records learn what expired."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from engine.lifecycle import from_json
from engine.lifecycle.records import order_from
from store.checkout import orders
from store.jobs import expiry
from store.redemptions import redeem as redemptions
from store.registry.programs import ProgramCache
from store.tables.core import LedgerEntryRow, MemberRow, OrderRow
from tests.store.helpers import assert_ledger_exact, order, publish_retail

EARNED = "2026-01-06T12:00:00-05:00"  # retail lots expire 24 months later


def member_row(db, member="CUST-1"):
    with db.reading() as session:
        return session.scalars(select(MemberRow).where(MemberRow.member_id == member)).one()


def test_a_commit_keeps_the_book_and_its_due_instant(db):
    publish_retail(db)
    orders.commit(db, ProgramCache(), "retail", order("O-1", placed_at=EARNED))
    row = member_row(db)
    book = from_json(row.book)
    assert row.balance == book.balance == sum(lot.left for lot in book.lots) > 0
    # due when the retail program's expiring-points alert comes, 30 days before the lots
    # expire (on the program's calendar), then again at the expiry itself
    expiry = min(lot.expires_at for lot in book.lots)
    assert expiry.year == 2028
    assert row.due_at == datetime(2027, 12, 7, tzinfo=ZoneInfo("America/New_York"))
    assert (expiry - row.due_at).days == 30
    with db.reading() as session:
        credits = session.scalars(select(LedgerEntryRow).where(
            LedgerEntryRow.lot.is_not(None))).all()
    assert {e.lot for e in credits} == {lot.no for lot in book.lots}


def test_the_expiry_job_tells_the_order_what_it_lost(db, server_clock):
    """A refund after expiry takes back nothing the order lost (the job noted it on the
    order's record, although nothing had loaded that record in the job's transaction)."""
    publish_retail(db)
    cache = ProgramCache()
    earned = orders.commit(db, cache, "retail", order("O-1", placed_at=EARNED)).result
    server_clock.set("2029-01-01T00:00:00Z")
    report = expiry.expire(db, "retail", datetime(2029, 1, 1, tzinfo=UTC))
    assert report.points_expired == earned["commit"]["points_awarded"]
    with db.reading() as session:
        record = order_from(session.scalars(select(OrderRow)).one().record)
    assert sum(record.lost.values()) == report.points_expired
    assert member_row(db).due_at is None
    from store.checkout import refunds
    done = refunds.refund(db, cache, "retail", "O-1", {
        "refund_id": "R-1", "refunded_at": "2029-01-01T00:00:00+00:00"}).result
    assert done["points_reversed"] == 0 and done["balance"] == 0
    assert_ledger_exact(db)


def test_cancelling_a_hold_after_its_time_ran_out_gives_its_points_back_once(db, server_clock):
    publish_retail(db)
    cache = ProgramCache()
    server_clock.set("2026-11-17T20:00:00Z")
    before = orders.commit(db, cache, "retail", order("O-1", amount="400.00"))
    balance = before.result["commit"]["balance"]
    hold = redemptions.redeem(db, cache, "retail", {
        "member_id": "CUST-1", "points": 500, "order_id": "H-1", "order_total": "100.00",
        "as_of": "2026-11-17T15:00:00-05:00", "hold_minutes": 5}).result
    assert hold["status"] == "held" and hold["balance"] == balance - 500
    assert member_row(db).due_at == datetime.fromisoformat(hold["hold_expires_at"])
    server_clock.set("2026-11-17T21:00:00Z")
    done = redemptions.cancel(db, cache, "retail", hold["id"],
                              {"cancelled_at": "2026-11-17T21:00:00+00:00"}).result
    assert done["status"] == "released" and done["balance"] == balance
    with db.reading() as session:
        back = session.scalars(select(LedgerEntryRow).where(
            LedgerEntryRow.source_type == "redemption", LedgerEntryRow.kind == "reverse")).all()
    assert [e.points for e in back] == [500]
    assert_ledger_exact(db)
