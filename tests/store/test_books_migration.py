"""Migration 0010 turns the tables the store wrote up to revision 0009 into member books,
and each book is the one the lifecycle core reaches on the same history.

`data/books_0009.json` holds the rows of every table of a database at 0009, written by
the store code of that revision (`data/make_books_0009.py`) from two histories — retail
and card-rewards members with orders, partial and full refunds, refunds after
redemptions leaving a debt, points and reward redemptions, checkout holds captured,
released, timed out and still live, cancels, automatic redemption, expiry, activities, a
referral, tier challenges and downgrades — and the histories themselves. The test loads
the rows into a fresh database at 0009 (SQLite, or PostgreSQL with CI=true), upgrades it
to head, and compares every member's book with the simulator's (`engine.simulation`)
after the same history: `engine.lifecycle.book.snapshot` of each, the book brought by the
core to the history's end (a book is dated at the latest instant its rows show), plus
the holds, the debt, the due time and the records.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from engine.lifecycle import Lifecycle, Step, cancel, refund
from engine.lifecycle.book import MemberBook, from_json, snapshot, to_json
from engine.lifecycle.records import OrderRecord, order_from, redemption_from
from engine.program import Program, load_program
from engine.simulation.history import Event
from engine.simulation.partition import LocalPool
from engine.simulation.replay import Replay
from engine.simulation.stats import Stats
from store.db.database import Database, open_database
from store.db.migrate import alembic_config, current_revision, upgrade
from store.db.types import UTCDateTime
from store.migrations.books import BookMismatch
from tests.store.db_support import scratch_database

DATA = Path(__file__).parent / "data" / "books_0009.json"
RULESETS = Path(__file__).resolve().parents[2] / "rulesets"
FIXTURE: dict[str, Any] = json.loads(DATA.read_text())


# ---------------------------------------------------------------- the database at 0009

def load_rows(db: Database, tables: dict[str, Any]) -> None:
    """Insert the fixture's rows, tables in foreign-key order, values in the column
    types of the schema at 0009."""
    meta = sa.MetaData()
    with db.engine.begin() as conn:
        meta.reflect(conn)
        for table in meta.sorted_tables:
            if table.name not in tables:
                continue
            dump = tables[table.name]
            stamps = {c.name for c in table.columns if isinstance(c.type, sa.DateTime)}
            rows = [{name: datetime.fromisoformat(v) if name in stamps and v is not None
                     else v for name, v in zip(dump["columns"], row)} for row in dump["rows"]]
            conn.execute(table.delete())
            if rows:
                conn.execute(table.insert(), rows)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    with scratch_database(tmp_path_factory.mktemp("books"), "books.db") as url:
        db = open_database(url)
        upgrade(db, "0009")
        load_rows(db, FIXTURE["tables"])
        upgrade(db)
        yield db
        db.dispose()


MEMBERS = sa.table("members", sa.column("id"), sa.column("program"), sa.column("member_id"),
                   sa.column("balance"), sa.column("book", sa.JSON()),
                   sa.column("due_at", UTCDateTime()))
LEDGER = sa.table("ledger_entries", sa.column("member_pk"), sa.column("kind"),
                  sa.column("points"), sa.column("lot"), sa.column("occurred_at", UTCDateTime()))
ORDERS = sa.table("orders", sa.column("program"), sa.column("order_id"),
                  sa.column("record", sa.JSON()))
REDEMPTIONS = sa.table("redemptions", sa.column("id"), sa.column("program"),
                       sa.column("status"), sa.column("record", sa.JSON()))


def books(db: Database, program: str) -> dict[str, tuple[MemberBook, int, Any]]:
    """member id → (book, stored balance, due_at) after the migration."""
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(MEMBERS).where(MEMBERS.c.program == program)).all()
    return {r.member_id: (from_json(r.book), r.balance, r.due_at) for r in rows}


# ---------------------------------------------------------------- the simulator

def program_of(name: str) -> Program:
    """The shipped program as the fixture's rows were written with it: before its
    `engagement:` section (milestones and alerts came later; a migrated book starts
    counting them from the migration on)."""
    folder = RULESETS / name
    return load_program({f.name: f.read_text(encoding="utf-8")
                         for f in sorted(folder.glob("*.yaml")) if f.name != "engagement.yaml"})


def simulate(program: Program, history: list[dict[str, Any]]) -> tuple[Replay, datetime]:
    """The history through the simulator's replay (holds and cancels included, which a
    history file cannot say), every book brought to the history's end."""
    replay = Replay(program, LocalPool(program), Stats())
    lines: dict[str, dict[str, Any]] = {}
    end = max(datetime.fromisoformat(e["at"]) for e in history)
    for n, e in enumerate(history, start=1):
        kind, data = e["type"], json.loads(json.dumps(e))
        if kind == "expire":
            continue  # time passing: the core expires at the next event or the end
        if kind == "order":
            data["order"].update(channel="web", currency="USD")
            lines[data["order"]["id"]] = data["order"]["lines"][0]
        elif kind in ("redemption", "hold"):
            kind, data["id"] = "redemption", data.pop("label")
        elif kind == "cancel":
            data["redemption_id"] = sim_redemption(replay, e)
        elif kind == "refund" and "quantity" in data:
            line = lines[data["order_id"]]
            data["amount"] = str(Decimal(line["unit_price"]) * data.pop("quantity"))
        data["type"] = kind
        replay.handle(Event(n, kind, e["member_id"], datetime.fromisoformat(e["at"]), data))
    replay.finish(end)
    return replay, end


def sim_redemption(replay: Replay, event: dict[str, Any]) -> str:
    """The simulator's id of a redemption the history names by label (an automatic one
    as `auto:<order>:<n>`)."""
    label = event["label"]
    if not label.startswith("auto:"):
        return str(label)
    _, order_id, n = label.split(":")
    records = replay.members[event["member_id"]].redemptions.values()
    return [r.id for r in records if r.kind == "automatic" and r.order_id == order_id][int(n)]


def comparable(shot: dict[str, Any]) -> dict[str, Any]:
    """A snapshot with its spend as numbers: "600.0000" (a money column's four places)
    and "600.00" are the same spend."""
    caps = {rule: {**cap, "spend": Decimal(cap["spend"])}
            for rule, cap in shot["cap_spend"].items()}
    return {**shot, "cap_spend": caps}


def due_of(book: MemberBook) -> datetime | None:
    """When time alone next changes the book's points: a lot expires, a hold ends."""
    dated = [lot.expires_at for lot in book.lots if lot.left > 0 and lot.expires_at]
    dated += [h.hold_expires_at for h in book.holds if h.hold_expires_at]
    return min(dated) if dated else None


def lots_view(book: MemberBook) -> list[tuple[int, Any, Any, int]]:
    return sorted((lot.no, lot.earned_at, lot.expires_at, lot.left) for lot in book.lots)


def record_view(record: OrderRecord) -> tuple[Any, ...]:
    """What an order record says beyond its lines (the simulator keeps none)."""
    return (record.placed_at, record.net, record.spend, record.by_rule, record.cashback,
            record.lot, record.first_purchase, record.caps, record.campaigns, record.budgeted,
            [(p.kind, p.points, p.given_back, [(d.lot, d.points) for d in p.draws])
             for p in record.payments],
            record.refunded_money(), record.reversed, record.lost, record.cashback_back,
            [(cid, spend) for cid, _, spend in record.challenges])


def holds_view(book: MemberBook) -> list[tuple[Any, ...]]:
    return sorted((h.kind, h.status, h.points, h.order_id, h.hold_expires_at,
                   tuple((d.lot, d.points) for d in h.draws)) for h in book.holds)


def auto_used(lc: Lifecycle, book: MemberBook, at: datetime) -> int:
    """Automatic redemptions counted in the frequency period of `at` (the core also
    notes a period with none, after an order that redeemed nothing; the old counters
    have no row for it)."""
    auto = book.auto
    if auto is None or auto.frequency_per is None:
        return 0
    period, used = book.auto_used
    return used if period == lc.period(auto.frequency_per, at) else 0


# ---------------------------------------------------------------- the comparison

@pytest.mark.parametrize("program", ["retail", "card-rewards"])
def test_each_book_is_the_one_the_core_reaches(migrated: Database, program: str) -> None:
    compiled = program_of(program)
    replay, end = simulate(compiled, FIXTURE["histories"][program])
    lc = Lifecycle(compiled)
    found = books(migrated, program)
    assert sorted(found) == sorted(replay.members)
    for member_id, (book, balance, due_at) in found.items():
        assert book.balance == balance, member_id
        assert book.last_at is not None and book.last_at <= end
        assert due_at == due_of(book), member_id
        lc.advance(book, end)
        sim = replay.members[member_id].book
        assert comparable(snapshot(book)) == comparable(snapshot(sim)), member_id
        assert lots_view(book) == lots_view(sim), member_id
        assert holds_view(book) == holds_view(sim), member_id
        assert (book.debt, book.referred_by, book.referred, book.auto) == (
            sim.debt, sim.referred_by, sim.referred, sim.auto), member_id
        assert auto_used(lc, book, end) == auto_used(lc, sim, end), member_id
        assert (book.windows, book.rolling, book.challenges, book.activities) == (
            sim.windows, sim.rolling, sim.challenges, sim.activities), member_id
        assert (book.best_tier, sorted(book.awarded_upgrades), book.next_lot) == (
            sim.best_tier, sorted(sim.awarded_upgrades), sim.next_lot), member_id
    orders, _ = records(migrated, program)
    for mem in replay.members.values():
        for order_id, sim_record in mem.orders.items():
            assert record_view(orders[order_id]) == record_view(sim_record), order_id


# ---------------------------------------------------------------- after the migration

# Events after each history's end: refunds of what is left of orders (their points
# partly spent, expired, or repaying a debt; first-purchase bonuses; a captured hold's
# points), the release of the hold still live, cancels of completed redemptions. They
# need the records the migration wrote on orders and redemptions.
AFTER = {
    "retail": [
        {"type": "cancel", "member_id": "R1", "at": "2028-05-01T12:10:00-04:00",
         "label": "R1-live"},
        {"type": "refund", "member_id": "R1", "at": "2028-05-02T12:00:00-04:00",
         "order_id": "O-R1-1"},
        {"type": "refund", "member_id": "R5", "at": "2028-05-02T12:00:00-04:00",
         "order_id": "O-R5-1"},
        {"type": "refund", "member_id": "R3", "at": "2028-05-03T12:00:00-04:00",
         "order_id": "O-R3-2"},
        {"type": "cancel", "member_id": "R1", "at": "2028-05-03T12:00:00-04:00",
         "label": "R1-mug"},
        {"type": "refund", "member_id": "R2", "at": "2028-05-03T12:00:00-04:00",
         "order_id": "O-R2-1"},
        {"type": "refund", "member_id": "R4", "at": "2028-05-04T12:00:00-04:00",
         "order_id": "O-R4-1"},
    ],
    "card-rewards": [
        {"type": "refund", "member_id": "C1", "at": "2027-06-03T12:00:00-05:00",
         "order_id": "O-C1-3"},
        {"type": "cancel", "member_id": "C1", "at": "2027-06-03T13:00:00-05:00",
         "label": "auto:O-C1-4:0"},
        {"type": "cancel", "member_id": "C1", "at": "2027-06-03T14:00:00-05:00",
         "label": "C1-cashback"},
        {"type": "refund", "member_id": "C2", "at": "2027-06-04T12:00:00-05:00",
         "order_id": "O-C2-9"},
        {"type": "refund", "member_id": "C3", "at": "2027-06-04T12:00:00-05:00",
         "order_id": "O-C3-1"},
    ],
}


def records(db: Database, program: str) -> tuple[dict[str, OrderRecord], dict[str, Any]]:
    """Order records by order id, live redemption records by the store's id."""
    with db.engine.connect() as conn:
        orders = conn.execute(sa.select(ORDERS).where(ORDERS.c.program == program)).all()
        live = conn.execute(sa.select(REDEMPTIONS).where(
            REDEMPTIONS.c.program == program, REDEMPTIONS.c.record.is_not(None))).all()
    return ({o.order_id: order_from(o.record) for o in orders},
            {str(r.id): redemption_from(r.record) for r in live})


def apply(lc: Lifecycle, book: MemberBook, event: dict[str, Any], mine: dict[str, OrderRecord],
          live: dict[str, Any], labels: dict[str, str]) -> Step:
    at = datetime.fromisoformat(event["at"])
    if event["type"] == "refund":
        return refund(lc, book, mine[event["order_id"]], at, "after", records=mine)
    held = next((h for h in book.holds if h.id == labels[event["label"]]), None)
    return cancel(lc, book, held or live[labels[event["label"]]], at, records=mine)


@pytest.mark.parametrize("program", ["retail", "card-rewards"])
def test_the_records_carry_the_history_on(migrated: Database, program: str) -> None:
    """Refunds and cancels after the migration, through the core with the migrated
    books and records, end where the simulator ends with the same events."""
    compiled = program_of(program)
    after = AFTER[program]
    replay, end = simulate(compiled, FIXTURE["histories"][program] + after)
    lc = Lifecycle(compiled)
    found = books(migrated, program)
    orders, live = records(migrated, program)
    labels = FIXTURE["labels"][program]
    for member_id, (book, _, _) in found.items():
        mine = {oid: r for oid, r in orders.items() if any(
            o["order"]["id"] == oid for o in FIXTURE["histories"][program]
            if o["type"] == "order" and o["member_id"] == member_id)}
        for event in (e for e in after if e["member_id"] == member_id):
            apply(lc, book, event, mine, live, labels)
        lc.advance(book, end)
        sim = replay.members[member_id].book
        assert comparable(snapshot(book)) == comparable(snapshot(sim)), member_id
        assert lots_view(book) == lots_view(sim), member_id
        for order_id, record in mine.items():
            assert record_view(record) == record_view(
                replay.members[member_id].orders[order_id]), order_id


def test_downgrade_drops_the_columns_and_upgrade_writes_the_same_books(
        tmp_path: Path, migrated: Database) -> None:
    with scratch_database(tmp_path, "again.db") as url:
        db = open_database(url)
        try:
            upgrade(db, "0009")
            load_rows(db, FIXTURE["tables"])
            upgrade(db)
            cfg = alembic_config(db)
            with db.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, "0009")
            with db.engine.connect() as conn:
                found = sa.inspect(conn)
                columns = {t: {c["name"] for c in found.get_columns(t)}
                           for t in ("members", "orders", "redemptions", "ledger_entries")}
                indexes = {i["name"] for i in found.get_indexes("members")}
            assert not columns["members"] & {"book", "due_at"} and "ix_members_due" not in indexes
            assert "record" not in columns["orders"] | columns["redemptions"]
            assert not columns["ledger_entries"] & {"lot", "draws"}
            upgrade(db)
            for program in ("retail", "card-rewards"):
                again = {m: (to_json(b), due) for m, (b, _, due) in books(db, program).items()}
                first = {m: (to_json(b), due) for m, (b, _, due) in books(migrated,
                                                                          program).items()}
                assert again == first
        finally:
            db.dispose()


def test_credit_entries_name_their_lot(migrated: Database) -> None:
    """Every credit entry names the book lot it filled: the lots are numbered from 1 in
    the order they were credited, an order's per-rule entries share one."""
    with migrated.engine.connect() as conn:
        members = {r.id: from_json(r.book) for r in conn.execute(sa.select(MEMBERS))}
        entries = conn.execute(sa.select(LEDGER).where(LEDGER.c.points > 0, LEDGER.c.kind.in_(
            ("earn", "bonus", "adjust")))).all()
        others = conn.scalar(sa.select(sa.func.count()).select_from(LEDGER).where(
            LEDGER.c.lot.is_not(None), sa.or_(LEDGER.c.points < 0, LEDGER.c.kind.not_in(
                ("earn", "bonus", "adjust")))))
    assert others == 0
    numbers: dict[int, dict[int, Any]] = {}
    for entry in entries:
        assert entry.lot is not None
        numbers.setdefault(entry.member_pk, {}).setdefault(entry.lot, entry.occurred_at)
        assert numbers[entry.member_pk][entry.lot] == entry.occurred_at
    for pk, book in members.items():
        found = numbers.get(pk, {})
        assert sorted(found) == list(range(1, book.next_lot)), book.member_id
        assert [found[no] for no in sorted(found)] == sorted(found.values())
        for lot in book.lots:
            assert found[lot.no] == lot.earned_at


def test_a_ledger_that_does_not_add_up_stops_the_upgrade(tmp_path: Path) -> None:
    """A member whose cached balance is not what their lots and debt say is named, and
    nothing is written: the schema stays at 0009."""
    tables = json.loads(json.dumps(FIXTURE["tables"]))
    members = tables["members"]
    balance, member_id = members["columns"].index("balance"), members["columns"].index("member_id")
    wrong = next(row for row in members["rows"] if row[member_id] == "R3")
    wrong[balance] += 1
    with scratch_database(tmp_path, "wrong.db") as url:
        db = open_database(url)
        try:
            upgrade(db, "0009")
            load_rows(db, tables)
            with pytest.raises(BookMismatch, match=r"retail member 'R3'.*owes 175.*-174"):
                upgrade(db)
            assert current_revision(db) == "0009"
        finally:
            db.dispose()
