"""One member's book, order records and redemption records from their rows (the tables
as of revision 0009)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from engine.lifecycle.book import MemberBook
from engine.lifecycle.context import Lifecycle
from engine.lifecycle.records import OrderRecord, RedemptionRecord
from store.migrations.books import records, standing
from store.migrations.books.lots import lots_of, next_due
from store.migrations.books.rows import MemberRows


class BookMismatch(ValueError):
    """The rows contradict each other: the book would not hold the member's balance."""


@dataclass
class Converted:
    member_pk: int
    book: MemberBook
    due_at: datetime | None
    orders: dict[int, OrderRecord]  # by order row id
    redemptions: dict[int, RedemptionRecord]  # by redemption row id (the live ones)
    lot_of_entry: dict[int, int]  # credit entry id → lot number


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def convert(lc: Lifecycle, rows: MemberRows) -> Converted:
    member = rows.member
    instants = sorted(_utc(at) for at in rows.instants())
    enrolled = instants[0] if instants else _utc(member.created_at)
    last_at = instants[-1] if instants else enrolled
    lots = lots_of(rows.entries)
    book = MemberBook(member_id=member.member_id, enrolled_at=enrolled,
                      attributes=dict(member.attributes or {}),
                      orders_count=int(member.orders_count or 0), lots=lots.open,
                      held=sum(lot.left for lot in lots.open), next_lot=lots.next_lot,
                      debt=lots.debt, last_at=last_at)
    if book.balance != member.balance:
        raise BookMismatch(
            f"{member.program} member {member.member_id!r}: its lots hold {book.held} points "
            f"and it owes {book.debt}, but its balance is {member.balance}; the ledger "
            "needs repairing before this migration can run")
    standing.qualification(lc, book, rows.orders)
    standing.tier(lc, book, rows, last_at)
    standing.usage(lc, book, rows)
    standing.automatic(book, rows)
    live = {r.id: records.redemption_record(rows, r, lots) for r in rows.redemptions
            if r.status in records.LIVE}
    book.holds = [record for record in live.values() if record.status == "held"]
    orders = {o.id: records.order_record(lc, rows, o, lots) for o in rows.orders}
    due = next_due(lots, [h.hold_expires_at for h in book.holds])
    return Converted(member.id, book, due, orders, live, lots.lot_of_entry)

