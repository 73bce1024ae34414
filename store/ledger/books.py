"""Members' books in the store: loaded under the member's row lock, handed to the
lifecycle core (engine/lifecycle), and what the core changed written back in the same
transaction.

The core decides everything about points, tiers and usage; this module only persists:

* the book itself as JSON on the member row (`members.book`), with the columns read
  without it kept beside it (balance, tier, tier_since, orders_count, attributes) and
  `due_at`, the earliest instant at which time alone changes the member's points (a lot's
  expiry, a hold's timeout), which the expiry job selects on;
* each ledger `Entry` as a row of `ledger_entries` (credits name their lot, debits and
  restores the lots they drew on);
* the step's domain events (engine/lifecycle/events.py) in the outbox
  (store/events/outbox.py);
* each `CashbackMove` as a row of `cashback_entries` (store/ledger/cashback.py);
* shared limits (`BudgetMove`, `StockMove`) on the campaign budget and reward stock rows,
  which the step's `Pool` read under their row locks, and coupon code uses (`CodeMove`,
  store/ledger/coupons.py);
* order records (`orders.record`) the step touched, and the holds the step released
  because their time ran out (recorded by store/redemptions/rows.py `save`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

import store.clock as clock
import store.events.outbox as outbox
import store.inventory.stock as inventory
import store.ledger.cashback as cashback
import store.ledger.coupons as coupon_codes
from engine.lifecycle import Change, Entry, Lifecycle, MemberBook, OrderRecord, Step
from engine.lifecycle.book import from_json, to_json
from engine.lifecycle.changes import BudgetMove, CashbackMove, CodeMove, StockMove
from engine.lifecycle.events import events_of
from engine.lifecycle.records import order_from, order_json
from engine.program import Program
from store.db.types import json_text, utc_naive
from store.db.upsert import insert_ignore
from store.ledger.members import Snapshot
from store.tables.core import CampaignBudgetRow, LedgerEntryRow, MemberRow, OrderRow, RewardStockRow
from store.tables.money import CashbackEntryRow
from store.tables.redemptions import RedemptionRow

_THREAD = threading.local()


def lifecycle(program: Program) -> Lifecycle:
    """The lifecycle rules of one compiled program version, one per thread (a Lifecycle
    keeps per-instant memos, so threads do not share one)."""
    cache: dict[int, tuple[Program, Lifecycle]] = _THREAD.__dict__.setdefault("lcs", {})
    held = cache.get(id(program))
    if held is None or held[0] is not program:
        if len(cache) > 64:
            cache.clear()
        lc = Lifecycle(program)
        lc.expire_until = clock.now  # never ahead of the server clock
        held = cache[id(program)] = (program, lc)
    return held[1]


# ---------------------------------------------------------------- shared limits

class StorePool:
    """Campaign budgets and reward stock as the core reads them. With `lock` (a write
    transaction), the rows read stay locked until the commit (PostgreSQL FOR UPDATE;
    SQLite's write transaction holds the database lock already)."""

    def __init__(self, session: Session | Connection, program: Program, lock: bool) -> None:
        self.session, self.program, self.lock = session, program, lock
        self._budgets: dict[str, int] | None = None
        self._stock: dict[str, int | None] = {}

    def budget_used(self, campaign: str) -> int:
        if self._budgets is None:
            self._budgets = self._read_budgets()
        return self._budgets.get(campaign, 0)

    def _read_budgets(self) -> dict[str, int]:
        ids = sorted(c.id for c in self.program.model.campaigns if c.budget_points is not None)
        if not ids:
            return {}
        name = self.program.program
        if self.lock:
            assert isinstance(self.session, Session)
            for cid in ids:
                insert_ignore(self.session, CampaignBudgetRow.__table__,
                              {"program": name, "campaign_id": cid, "points_used": 0},
                              ["program", "campaign_id"])
        query = select(CampaignBudgetRow.campaign_id, CampaignBudgetRow.points_used).where(
            CampaignBudgetRow.program == name, CampaignBudgetRow.campaign_id.in_(ids))
        if self.lock:
            query = query.order_by(CampaignBudgetRow.campaign_id).with_for_update()
        return dict(self.session.execute(query).tuples().all())

    def codes(self, presented: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
        return coupon_codes.resolve(self.session, self.program, presented)

    def stock_left(self, reward: str) -> int | None:
        if reward not in self._stock:
            self._stock[reward] = self._read_stock(reward)
        return self._stock[reward]

    def _read_stock(self, reward_id: str) -> int | None:
        config = self.program.model.redemption
        reward = config.reward(reward_id) if config else None
        if reward is None or reward.stock is None:
            return None
        name = self.program.program
        if self.lock:  # the reward_stock row's lock, then the inventory row's (as orders)
            assert isinstance(self.session, Session)
            row = inventory.locked_row(self.session, name, reward_id)
            if row is not None:
                return row.available
        else:
            left = inventory.available(self.session, name, reward_id)
            if left is not None:
                return left
        query = select(RewardStockRow.issued).where(RewardStockRow.program == name,
                                                    RewardStockRow.reward_id == reward_id)
        issued = self.session.scalar(query) or 0
        return max(0, reward.stock - int(issued))


# ---------------------------------------------------------------- order records

_ORDER = select(OrderRow).where(OrderRow.program == bindparam("program"),
                                OrderRow.order_id == bindparam("order_id"))


def find_order(session: Session, program_id: str, order_id: str) -> OrderRow | None:
    return session.scalar(_ORDER, {"program": program_id, "order_id": order_id})


class OrderRecords(Mapping[str, OrderRecord]):
    """A member's order records, loaded from `orders.record` when the core asks for one
    (to tell an order its points expired, or to refund it); `save` writes back every
    record loaded, since the core may have changed it."""

    def __init__(self, session: Session, program: str, member_pk: int) -> None:
        self.session, self.program, self.member_pk = session, program, member_pk
        self._rows: dict[str, tuple[OrderRow, OrderRecord]] = {}

    def __getitem__(self, order_id: str) -> OrderRecord:
        held = self._rows.get(order_id)
        if held is None:
            row = self.session.scalar(_ORDER, {"program": self.program, "order_id": order_id})
            if row is None or row.member_pk != self.member_pk or row.record is None:
                raise KeyError(order_id)
            held = self._rows[order_id] = (row, order_from(row.record))
        return held[1]

    def add(self, row: OrderRow, record: OrderRecord) -> None:
        self._rows[record.order_id] = (row, record)

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def save(self) -> None:
        for row, record in self._rows.values():
            row.record = order_json(record)


# ---------------------------------------------------------------- loading

def book_of(lc: Lifecycle, row: MemberRow | Row[Any] | Snapshot, at: datetime) -> MemberBook:
    """The member's book (a member row written before any event: a new book at `at`)."""
    if row.book is not None:
        return from_json(row.book)
    return lc.new_book(row.member_id, at, dict(row.attributes or {}), row.tier)


def view_at(lc: Lifecycle, row: MemberRow | Row[Any] | Snapshot | None, member_id: str,
            at: datetime) -> MemberBook:
    """A copy of the member's book brought to `at`, for reading only (quotes, summaries):
    nothing of it is written back."""
    if row is None:
        return lc.new_book(member_id, at)
    book = book_of(lc, row, at)
    lc.advance(book, at)
    return book


# ---------------------------------------------------------------- writing

def due_at(book: MemberBook, lc: Lifecycle | None = None) -> datetime | None:
    """When time alone next changes the book: a lot's expiry, a hold's timeout, or (given
    the program's lifecycle) an alert the `engagement:` section declares coming due
    (points about to expire, a campaign about to start). The expiry job brings the book
    forward then (store/jobs/expiry.py), which raises the alert as a domain event."""
    dues = [h.hold_expires_at for h in book.holds if h.hold_expires_at is not None]
    expiry = book.next_expiry()
    if expiry is not None:
        dues.append(expiry)
    alert = lc.alert_due(book) if lc is not None else None
    if alert is not None:
        dues.append(alert)
    return min(dues) if dues else None


def save(session: Session, program: Program, row: MemberRow, book: MemberBook, step: Step,
         records: OrderRecords | None = None, reason: str | None = None) -> list[int]:
    """Persist one step: its changes and their domain events (the outbox, in this
    transaction), the records touched and the book. Returns the new
    ledger rows' ids, in the order of `step.entries()`. The holds the step released
    (`step.released`) are the caller's to record (store/redemptions/rows.py `save`).
    `reason`: why an administrator adjusted the points, for the adjustment's event."""
    assert not step.released, "holds released by the step: store/redemptions/rows.py save"
    entries = step.entries()
    ids = write_changes(session, program, row, step.changes)
    outbox.publish(session, events_of(step.changes, book, program, reason=reason))
    _link_redemptions(session, entries, ids)
    step.changes.clear()
    step.noted = 0
    if records is not None:
        records.save()
    store_book(row, book, lifecycle(program))
    return ids


def _link_redemptions(session: Session, entries: list[Entry], ids: list[int]) -> None:
    """A redemption row names the entry that took its points and the one that gave them
    back (a cancel, a released hold, a refund of its order)."""
    for entry, entry_id in zip(entries, ids, strict=True):
        if entry.source_type != "redemption" or not entry.source_ref.isdigit():
            continue
        column = "ledger_entry_id" if entry.kind == "redeem" else "reversal_entry_id"
        session.execute(update(RedemptionRow).where(RedemptionRow.id == int(entry.source_ref))
                        .values({column: entry_id}))


def store_book(row: MemberRow, book: MemberBook, lc: Lifecycle | None = None) -> None:
    """The book and the columns read without it; `lc`: the program's lifecycle, so that
    alerts coming due make the member due (`due_at`)."""
    row.book = to_json(book)
    row.balance, row.tier, row.tier_since = book.balance, book.tier, book.tier_since
    row.orders_count = book.orders_count
    if book.status != (row.status or "active"):
        row.status = book.status
    if book.attributes != (row.attributes or {}):
        row.attributes = dict(book.attributes)
    row.due_at = due_at(book, lc)
    row.updated_at = datetime.now(UTC)


def write_changes(session: Session, program: Program, row: MemberRow,
                  changes: list[Change]) -> list[int]:
    """Ledger rows for the entries (one statement), shared limits moved. Returns the
    new ledger rows' ids in the entries' order."""
    now = datetime.now(UTC)
    rows = []
    money = []
    for change in changes:
        if type(change) is Entry:
            rows.append(_entry_row(row, program.version, change, now))
        elif type(change) is CashbackMove and change.amount:
            money.append(cashback.entry_row(row, program.version, change, now))
        elif type(change) is BudgetMove and change.points:
            session.execute(update(CampaignBudgetRow).where(
                CampaignBudgetRow.program == program.program,
                CampaignBudgetRow.campaign_id == change.campaign)
                .values(points_used=CampaignBudgetRow.points_used + change.points))
        elif type(change) is StockMove and change.quantity:
            insert_ignore(session, RewardStockRow.__table__,
                          {"program": program.program, "reward_id": change.reward, "issued": 0},
                          ["program", "reward_id"])
            session.execute(update(RewardStockRow).where(
                RewardStockRow.program == program.program,
                RewardStockRow.reward_id == change.reward)
                .values(issued=RewardStockRow.issued + change.quantity))
            inventory.redeemed(session, program.program, change.reward, change.quantity)
        elif type(change) is CodeMove:
            coupon_codes.move(session, program, change)
    if money:
        session.execute(insert(CashbackEntryRow), money)
    if not rows:
        return []
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        ids = connection.execute(_INSERT_ENTRIES_PG, _entry_rows_json(connection, rows))
        return sorted(ids.scalars().all())  # ids are given in the rows' order
    return list(connection.execute(_INSERT_ENTRIES, rows).scalars().all())


# The ledger rows' insert on the connection, not through the ORM's bulk insert (which
# costs more than the statement), built once. On PostgreSQL the rows go as one JSON
# array: the statement's text is the same whatever the number of rows (a multi-row
# VALUES is a new text, parsed again, for each count).
_ENTRIES = cast(Table, LedgerEntryRow.__table__)
_INSERT_ENTRIES = insert(_ENTRIES).returning(_ENTRIES.c.id, sort_by_parameter_order=True)
_INSERT_ENTRIES_PG = text("""
INSERT INTO ledger_entries (member_pk, program, kind, points, remaining, expires_at,
                            ruleset_version, rule, source_type, source_ref, lot_id, lot,
                            draws, occurred_at, recorded_at)
SELECT :member_pk, :program, e.row->>'kind', CAST(e.row->>'points' AS bigint), NULL,
       CAST(e.row->>'expires_at' AS timestamp), :version, e.row->>'rule',
       e.row->>'source_type', e.row->>'source_ref', NULL, CAST(e.row->>'lot' AS integer),
       e.row->'draws', CAST(e.row->>'occurred_at' AS timestamp), :recorded_at
FROM json_array_elements(CAST(:rows AS json)) WITH ORDINALITY AS e(row, n)
ORDER BY e.n
RETURNING id""")


def _entry_rows_json(connection: Connection, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`_INSERT_ENTRIES_PG`'s parameters from `_entry_row`s (one member, one version, one
    instant of recording), written as the table's column types write them (instants as
    naive UTC; a row without draws leaves the key out, so the column is NULL)."""
    first = rows[0]
    out = []
    for r in rows:
        row = {"kind": r["kind"], "points": r["points"], "rule": r["rule"],
               "source_type": r["source_type"], "source_ref": r["source_ref"],
               "lot": r["lot"], "occurred_at": utc_naive(r["occurred_at"]).isoformat()}
        if r["expires_at"] is not None:
            row["expires_at"] = utc_naive(r["expires_at"]).isoformat()
        if r["draws"] is not None:
            row["draws"] = r["draws"]
        out.append(row)
    return {"member_pk": first["member_pk"], "program": first["program"],
            "version": first["ruleset_version"], "recorded_at": utc_naive(first["recorded_at"]),
            "rows": json_text(connection.dialect, out)}


def _entry_row(member: MemberRow, version: int, entry: Entry, now: datetime) -> dict[str, Any]:
    return {"member_pk": member.id, "program": member.program, "kind": entry.kind,
            "points": entry.points, "remaining": None, "expires_at": entry.expires_at,
            "ruleset_version": version, "rule": entry.rule, "source_type": entry.source_type,
            "source_ref": entry.source_ref, "lot_id": None, "lot": entry.lot,
            "draws": [[d.lot, d.points] for d in entry.draws] if entry.draws else None,
            "occurred_at": entry.at, "recorded_at": now}
