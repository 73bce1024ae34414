"""Reward stock per (program, reward), kept apart from ruleset versions: restocking
needs no new version.

How it relates to the ruleset's `stock:` and the `reward_stock` counter: a reward's
`stock:` in the ruleset is its *initial* stock. Until its inventory row exists, what is
left is `stock − issued` (the `reward_stock` row counts what single redemptions took).
The first time the inventory is touched for a reward (a restock, an adjustment, a
threshold, an order reserving it), its row is seeded with exactly that, and from then on
the row is the stock of record for everything: orders reserve from it, and single
redemptions (`store.ledger.books.StorePool`, `write_changes`) read and take from it too
(the `reward_stock` counter keeps counting what was issued). A reward without `stock:`
is unlimited: it has no inventory (a restock of it is refused; declare a `stock:` in a
new version to stock it).

Quantities: `available` (may be ordered or redeemed) and `reserved` (held by orders
awaiting approval or not yet shipped). Locks: the reward's `reward_stock` row first,
then its inventory row (PostgreSQL FOR UPDATE; SQLite's write transaction serializes),
rewards in id order — the same order single redemptions take — so an order and a
redemption never deadlock, and neither oversells. Every change writes an
`inventory_changes` row (who, why, the quantities after it); a change that takes
`available` down to the reward's `low_stock` threshold or below (from above it) records an
`inventory.low_stock` entry in the audit log and publishes the `inventory.low_stock` domain
event (store/events/outbox.py: the event feed and webhooks), in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

import store.clock as clock
import store.events.outbox as outbox
import store.registry.audit as audit
from engine.events import DomainEvent
from engine.program import Program
from store.db.database import Database
from store.db.upsert import insert_ignore
from store.errors import Conflict, NotFound, Unprocessable
from store.tables.core import RewardStockRow
from store.tables.inventory import InventoryChangeRow, InventoryRow

MAX_QUANTITY = 10**9


@dataclass(frozen=True)
class Change:
    """Who changes the stock and why (an order number where an order does)."""

    actor: str
    kind: str
    reason: str | None = None
    order_number: str | None = None


def _lock_counter(session: Session, program_id: str, reward_id: str) -> int:
    insert_ignore(session, RewardStockRow.__table__,
                  {"program": program_id, "reward_id": reward_id, "issued": 0},
                  ["program", "reward_id"])
    return int(session.scalar(select(RewardStockRow.issued).where(
        RewardStockRow.program == program_id, RewardStockRow.reward_id == reward_id)
        .with_for_update()) or 0)


def locked_row(session: Session, program_id: str, reward_id: str) -> InventoryRow | None:
    """The reward's inventory row under its lock (after the `reward_stock` row's), or None
    when it has none yet."""
    _lock_counter(session, program_id, reward_id)
    return session.scalar(select(InventoryRow).where(
        InventoryRow.program == program_id, InventoryRow.reward_id == reward_id)
        .with_for_update().execution_options(populate_existing=True))


def seeded_row(session: Session, program: Program, reward_id: str,
               actor: str) -> InventoryRow | None:
    """The reward's inventory row under its lock, seeded from the ruleset's `stock −
    issued` when it has none yet and the ruleset stocks it. None: an unlimited reward."""
    row = locked_row(session, program.program, reward_id)
    if row is not None:
        return row
    config = program.model.redemption
    reward = config.reward(reward_id) if config is not None else None
    if reward is None or reward.stock is None:
        return None
    issued = int(session.scalar(select(RewardStockRow.issued).where(
        RewardStockRow.program == program.program,
        RewardStockRow.reward_id == reward_id)) or 0)
    start = max(0, reward.stock - issued)
    now = clock.now()
    row = InventoryRow(program=program.program, reward_id=reward_id, available=start,
                       reserved=0, low_stock=None, created_at=now, updated_at=now)
    session.add(row)
    _write(session, row, 0, 0, Change(actor, "seed", "initial stock from the ruleset "
                                      f"version {program.version}"), now)
    return row


def move(session: Session, row: InventoryRow, available: int, reserved: int,
         change: Change) -> None:
    """Add the deltas to a locked row (never below zero: the callers check first) and
    audit the change."""
    assert row.available + available >= 0 and row.reserved + reserved >= 0, (row, change)
    before = row.available
    now = clock.now()
    row.available += available
    row.reserved += reserved
    row.updated_at = now
    _write(session, row, available, reserved, change, now)
    if row.low_stock is not None and row.available <= row.low_stock < before:
        detail = {"reward_id": row.reward_id, "available": row.available,
                  "reserved": row.reserved, "threshold": row.low_stock,
                  "order_number": change.order_number}
        audit.record(session, change.actor, "inventory.low_stock", row.program, **detail)
        # The domain event, in the same transaction (the feed and webhooks): about the
        # program, not a member, and decided by no ruleset version (stock is apart from them).
        outbox.publish(session, [DomainEvent.new(
            "inventory.low_stock", row.program, "", now, 0,
            {**detail, "actor": change.actor[:200]})])


def _write(session: Session, row: InventoryRow, available: int, reserved: int,
           change: Change, at: datetime) -> None:
    session.add(InventoryChangeRow(
        program=row.program, reward_id=row.reward_id, kind=change.kind,
        available_delta=available, reserved_delta=reserved, available_after=row.available,
        reserved_after=row.reserved, actor=change.actor[:200],
        reason=change.reason[:500] if change.reason else None,
        order_number=change.order_number, at=at))


def reserve(session: Session, program: Program, reward_id: str, quantity: int,
            change: Change, pointer: str) -> bool:
    """Hold `quantity` units for an order (available → reserved). False: the reward is
    unlimited (nothing to hold). Conflict OUT_OF_STOCK when too few are available (the
    caller's transaction rolls back whatever it reserved before)."""
    row = seeded_row(session, program, reward_id, change.actor)
    if row is None:
        return False
    if row.available < quantity:
        raise Conflict("OUT_OF_STOCK", f"only {row.available} of {reward_id} available, "
                       f"{quantity} asked", pointer=pointer)
    move(session, row, -quantity, quantity, change)
    return True


def release(session: Session, program_id: str, reward_id: str, quantity: int,
            change: Change) -> None:
    """Give reserved units back (reserved → available): an order rejected, expired,
    cancelled or failed."""
    row = locked_row(session, program_id, reward_id)
    if row is not None:
        held = min(quantity, row.reserved)
        move(session, row, held, -held, change)


def consume(session: Session, program_id: str, reward_id: str, quantity: int,
            change: Change) -> None:
    """Reserved units left the warehouse (shipped, or sent to the fulfilment API)."""
    row = locked_row(session, program_id, reward_id)
    if row is not None:
        move(session, row, 0, -min(quantity, row.reserved), change)


def redeemed(session: Session, program_id: str, reward_id: str, quantity: int) -> None:
    """A single redemption took `quantity` units (negative: its cancel gave them back);
    the caller checked the stock under the same locks (StorePool)."""
    row = session.scalar(select(InventoryRow).where(
        InventoryRow.program == program_id, InventoryRow.reward_id == reward_id)
        .with_for_update())
    if row is not None:
        move(session, row, -min(quantity, row.available), 0,
             Change("redemption", "redeem" if quantity > 0 else "return"))


def available(session: Session | Connection, program_id: str, reward_id: str) -> int | None:
    """What may be taken now, from the inventory row (None: it has none)."""
    return session.scalar(select(InventoryRow.available).where(
        InventoryRow.program == program_id, InventoryRow.reward_id == reward_id))


# --- operators ------------------------------------------------------------------------

def _stocked(session: Session, program: Program, reward_id: str, actor: str) -> InventoryRow:
    """The row of a stocked reward of the version's catalog, under its lock."""
    config = program.model.redemption
    if config is None or config.reward(reward_id) is None:
        raise NotFound("unknown_reward", f"{program.program} has no reward {reward_id!r} in "
                       f"version {program.version}", pointer="/reward_id")
    row = seeded_row(session, program, reward_id, actor)
    if row is None:
        raise Conflict("reward_not_stocked", f"{reward_id} declares no `stock:` in "
                       f"{program.program} version {program.version}: it is unlimited",
                       pointer="/reward_id")
    return row


def restock(db: Database, program: Program, reward_id: str, quantity: int, actor: str,
            reason: str | None = None) -> dict[str, Any]:
    """Add `quantity` units (a delivery came in)."""
    if not 1 <= quantity <= MAX_QUANTITY:
        raise Unprocessable("invalid_quantity", f"a restock adds 1 to {MAX_QUANTITY} units",
                            pointer="/quantity")
    with db.writing() as session:
        row = _stocked(session, program, reward_id, actor)
        move(session, row, quantity, 0, Change(actor, "restock", reason))
        audit.record(session, actor, "inventory.restock", program.program,
                     reward_id=reward_id, quantity=quantity, reason=reason)
        return view(row)


def adjust(db: Database, program: Program, reward_id: str, delta: int, actor: str,
           reason: str) -> dict[str, Any]:
    """Correct the available count by `delta` (a count, breakage, a found box); never
    below zero."""
    if delta == 0 or abs(delta) > MAX_QUANTITY:
        raise Unprocessable("invalid_delta", f"an adjustment changes the available units by "
                            f"1 to {MAX_QUANTITY}, up or down", pointer="/delta")
    with db.writing() as session:
        row = _stocked(session, program, reward_id, actor)
        if row.available + delta < 0:
            raise Conflict("stock_below_zero", f"{reward_id} has {row.available} available; "
                           f"an adjustment of {delta} would leave less than none",
                           pointer="/delta")
        move(session, row, delta, 0, Change(actor, "adjust", reason))
        audit.record(session, actor, "inventory.adjust", program.program,
                     reward_id=reward_id, delta=delta, reason=reason)
        return view(row)


def set_low_stock(db: Database, program: Program, reward_id: str, threshold: int | None,
                  actor: str) -> dict[str, Any]:
    """The level at or below which a change of `available` raises `low_stock` (None: off)."""
    if threshold is not None and not 0 <= threshold <= MAX_QUANTITY:
        raise Unprocessable("invalid_threshold", f"a threshold is 0 to {MAX_QUANTITY}",
                            pointer="/low_stock")
    with db.writing() as session:
        row = _stocked(session, program, reward_id, actor)
        row.low_stock, row.updated_at = threshold, clock.now()
        _write(session, row, 0, 0, Change(actor, "threshold", f"low_stock = {threshold}"),
               row.updated_at)
        audit.record(session, actor, "inventory.threshold", program.program,
                     reward_id=reward_id, low_stock=threshold)
        return view(row)


def view(row: InventoryRow) -> dict[str, Any]:
    return {"reward_id": row.reward_id, "stocked": True, "available": row.available,
            "reserved": row.reserved, "low_stock": row.low_stock,
            "updated_at": row.updated_at.isoformat()}


def listing(db: Database, program: Program) -> dict[str, Any]:
    """Every reward of the version's catalog with its stock: from the inventory, else
    from the ruleset (`stock − issued`), else unlimited."""
    config = program.model.redemption
    with db.reading() as session:
        rows = {r.reward_id: r for r in session.scalars(select(InventoryRow).where(
            InventoryRow.program == program.program))}
        issued = {reward: int(count) for reward, count in session.execute(
            select(RewardStockRow.reward_id, RewardStockRow.issued)
            .where(RewardStockRow.program == program.program)).all()}
    items = []
    for reward in config.catalog if config is not None else ():
        if reward.id in rows:
            items.append(view(rows[reward.id]))
        elif reward.stock is not None:
            items.append({"reward_id": reward.id, "stocked": True, "reserved": 0,
                          "available": max(0, reward.stock - int(issued.get(reward.id, 0))),
                          "low_stock": None, "updated_at": None})
        else:
            items.append({"reward_id": reward.id, "stocked": False, "available": None,
                          "reserved": 0, "low_stock": None, "updated_at": None})
    return {"program": program.program, "version": program.version, "items": items}


def changes(db: Database, program_id: str, reward_id: str | None, after: int | None,
            limit: int) -> dict[str, Any]:
    """The audit trail of stock changes, newest first; `after` is the cursor."""
    query = select(InventoryChangeRow).where(InventoryChangeRow.program == program_id)
    if reward_id is not None:
        query = query.where(InventoryChangeRow.reward_id == reward_id)
    if after is not None:
        query = query.where(InventoryChangeRow.id < after)
    with db.reading() as session:
        rows = list(session.scalars(query.order_by(InventoryChangeRow.id.desc())
                                    .limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"program": program_id, "changes": [
        {"id": str(r.id), "reward_id": r.reward_id, "kind": r.kind,
         "available_delta": r.available_delta, "reserved_delta": r.reserved_delta,
         "available": r.available_after, "reserved": r.reserved_after, "actor": r.actor,
         "reason": r.reason, "order_number": r.order_number, "at": r.at.isoformat()}
        for r in rows], "next_cursor": str(rows[-1].id) if more and rows else None}
