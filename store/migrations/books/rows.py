"""Reading the rows of a batch of members (the tables as of revision 0009), grouped by
member, with a few queries per batch rather than per member."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.migrations.books import tables as t

# Redemption statuses a member's history shows (fulfilment events are dated by the clock
# of the server that wrote them, not by the redemption's story).
LIFECYCLE_STATUSES = frozenset({"held", "completed", "captured", "released", "cancelled",
                                "refunded", "partially_refunded"})


@dataclass
class MemberRows:
    """One member's rows, each list in id order."""

    member: Any
    entries: list[Any] = field(default_factory=list)
    allocations: dict[int, list[Any]] = field(default_factory=dict)  # by debit entry
    orders: list[Any] = field(default_factory=list)
    refunds: dict[int, list[Any]] = field(default_factory=dict)  # by order row id
    redemptions: list[Any] = field(default_factory=list)
    events: dict[int, list[Any]] = field(default_factory=dict)  # by redemption row id
    activity_times: list[datetime] = field(default_factory=list)
    counters: list[Any] = field(default_factory=list)
    auto: Any = None
    referred_by: str | None = None
    referred: list[str] = field(default_factory=list)
    external_back: dict[int, int] = field(default_factory=dict)  # by redemption row id
    _met: dict[str, list[datetime]] | None = None

    def challenges_met(self) -> dict[str, list[datetime]]:
        """When orders met each tier challenge (campaign id → instants)."""
        if self._met is None:
            self._met = {}
            for order in self.orders:
                for campaign in (order.result or {}).get("campaigns") or ():
                    if campaign.get("tier_advance"):
                        self._met.setdefault(campaign.get("id"), []).append(order.placed_at)
        return self._met

    def instants(self) -> list[datetime]:
        """Every instant the member's rows date an event at (not the clock times at
        which rows were written)."""
        found = [e.occurred_at for e in self.entries]
        found += [o.placed_at for o in self.orders]
        found += [datetime.fromisoformat(r.result["refunded_at"])
                  for rows in self.refunds.values() for r in rows
                  if (r.result or {}).get("refunded_at")]
        found += [r.occurred_at for r in self.redemptions]
        found += [e.at for rows in self.events.values() for e in rows
                  if e.status in LIFECYCLE_STATUSES]
        return found + self.activity_times


def _by(rows: list[Any], key: str) -> dict[Any, list[Any]]:
    out: dict[Any, list[Any]] = defaultdict(list)
    for row in rows:
        out[getattr(row, key)].append(row)
    return out


def _all(conn: Connection, query: Any) -> list[Any]:
    return list(conn.execute(query))


def member_batches(conn: Connection, program: str, size: int) -> Iterator[list[Any]]:
    """The program's member rows, `size` at a time, by row id."""
    after = 0
    while True:
        batch = _all(conn, sa.select(t.members).where(
            t.members.c.program == program, t.members.c.id > after)
            .order_by(t.members.c.id).limit(size))
        if not batch:
            return
        yield batch
        after = batch[-1].id


def read(conn: Connection, program: str, batch: list[Any]) -> list[MemberRows]:
    """The rows of every member in `batch` (member rows of `program`)."""
    pks = [m.id for m in batch]
    out = {m.id: MemberRows(m) for m in batch}
    entries = _all(conn, sa.select(t.ledger).where(t.ledger.c.member_pk.in_(pks))
                   .order_by(t.ledger.c.id))
    debit_of = sa.select(t.ledger.c.id).where(t.ledger.c.member_pk.in_(pks))
    allocations = _by(_all(conn, sa.select(t.allocations).where(
        t.allocations.c.debit_entry_id.in_(debit_of)).order_by(t.allocations.c.id)),
        "debit_entry_id")
    orders = _all(conn, sa.select(t.orders).where(t.orders.c.member_pk.in_(pks))
                  .order_by(t.orders.c.id))
    refunds = _by(_all(conn, sa.select(t.refunds).where(t.refunds.c.order_pk.in_(
        sa.select(t.orders.c.id).where(t.orders.c.member_pk.in_(pks))))
        .order_by(t.refunds.c.id)), "order_pk")
    redemptions = _all(conn, sa.select(t.redemptions).where(
        t.redemptions.c.member_pk.in_(pks)).order_by(t.redemptions.c.id))
    mine = sa.select(t.redemptions.c.id).where(t.redemptions.c.member_pk.in_(pks))
    events = _by(_all(conn, sa.select(t.redemption_events).where(
        t.redemption_events.c.redemption_pk.in_(mine)).order_by(t.redemption_events.c.id)),
        "redemption_pk")
    external = _all(conn, sa.select(t.external_transfers.c.redemption_pk,
                                    sa.func.sum(t.external_transfers.c.points))
                    .where(t.external_transfers.c.redemption_pk.in_(mine))
                    .group_by(t.external_transfers.c.redemption_pk))
    member_of = {}
    for row in entries:
        out[row.member_pk].entries.append(row)
        member_of[row.id] = row.member_pk
    for debit, drawn in allocations.items():
        out[member_of[debit]].allocations[debit] = drawn
    for row in orders:
        out[row.member_pk].orders.append(row)
    for row in redemptions:
        rows = out[row.member_pk]
        rows.redemptions.append(row)
        rows.events[row.id] = events.get(row.id, [])
    back: dict[int, int] = {int(pk): int(points or 0) for pk, points in external}
    for rows in out.values():
        rows.refunds = {o.id: refunds.get(o.id, []) for o in rows.orders}
        rows.external_back = {r.id: back[r.id] for r in rows.redemptions if r.id in back}
    _read_usage(conn, program, pks, out)
    return list(out.values())


def _read_usage(conn: Connection, program: str, pks: list[int],
                out: dict[int, MemberRows]) -> None:
    for row in _all(conn, sa.select(t.activity_events.c.member_pk,
                                    t.activity_events.c.occurred_at)
                    .where(t.activity_events.c.member_pk.in_(pks))):
        out[row.member_pk].activity_times.append(row.occurred_at)
    for row in _all(conn, sa.select(t.usage_counters).where(
            t.usage_counters.c.member_pk.in_(pks)).order_by(t.usage_counters.c.id)):
        out[row.member_pk].counters.append(row)
    for row in _all(conn, sa.select(t.auto_redemptions).where(
            t.auto_redemptions.c.member_pk.in_(pks))):
        out[row.member_pk].auto = row
    by_id = {rows.member.member_id: rows for rows in out.values()}
    ids = list(by_id)
    for row in _all(conn, sa.select(t.referrals).where(
            t.referrals.c.program == program,
            sa.or_(t.referrals.c.friend_id.in_(ids), t.referrals.c.referrer_id.in_(ids)))
            .order_by(t.referrals.c.occurred_at, t.referrals.c.id)):
        if row.friend_id in by_id:
            by_id[row.friend_id].referred_by = row.referrer_id
            by_id[row.friend_id].activity_times.append(row.occurred_at)
        if row.referrer_id in by_id:
            by_id[row.referrer_id].referred.append(row.friend_id)
