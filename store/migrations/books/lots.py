"""A member's lots from the ledger as revision 0009 writes it.

There, every credit entry (`earn`, `bonus`, `adjust` > 0) is a lot of its own with
`remaining` points, an order writes one entry per rule, debits record their draws in
`lot_allocations`, and a debt is the negative `remaining` of a refund's `reverse` entry.
The lifecycle core opens ONE lot per credit: an order's points (all its rules), its
upgrade bonuses, each of its activity bonuses (first purchase), each activity event.
So entries are grouped into the lots the core would have opened, numbered from 1 in the
order the core opens them (for one order: its points, its upgrade bonuses, its activity
bonuses), and a lot's `left` is the sum of its entries' `remaining`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.lifecycle.book import Lot
from engine.lifecycle.changes import Draw

CREDIT_KINDS = ("earn", "bonus", "adjust")
_RANK = {"order": 0, "tier": 1, "activity": 2}  # within one order commit


@dataclass
class Group:
    """The credit entries the core books as one lot."""

    source: str  # the core's lot source: "order:<id>", "tier:<id>", "activity:<ref>", …
    commit: str | None  # the order whose commit credited it
    rank: int
    entries: list[Any] = field(default_factory=list)

    def lot(self, no: int) -> Lot:
        first = self.entries[0]
        return Lot(no, first.occurred_at, first.expires_at, sum(e.points for e in self.entries),
                   sum(max(e.remaining or 0, 0) for e in self.entries), self.source)


@dataclass
class Lots:
    """The member's lots: open ones (left > 0) in consumption order, every lot by its
    number, the lot each credit entry filled, and the debt; and what debits did to
    them: refunds' reversals (by lot and rule), expiry (by lot), points given back to
    redemptions (by redemption id)."""

    open: list[Lot]
    every: dict[int, Lot]
    lot_of_entry: dict[int, int]
    debt: int
    next_lot: int
    by_source: dict[str, int] = field(default_factory=dict)
    reversed: dict[int, dict[str, int]] = field(default_factory=dict)
    expired: dict[int, int] = field(default_factory=dict)
    given_back: dict[str, int] = field(default_factory=dict)

    def source_lot(self, source: str) -> int | None:
        return self.by_source.get(source)

    def note(self, entry: Any) -> None:
        """What a debit or restore did to the lots."""
        no = self.lot_of_entry.get(entry.lot_id) if entry.lot_id is not None else None
        if entry.kind == "expire" and no is not None:
            self.expired[no] = self.expired.get(no, 0) - entry.points
        elif entry.kind == "reverse" and entry.source_type == "refund" and no is not None \
                and entry.rule:
            rules = self.reversed.setdefault(no, {})
            rules[entry.rule] = rules.get(entry.rule, 0) - entry.points
        elif entry.kind == "reverse" and entry.source_type == "redemption":
            ref = entry.source_ref
            self.given_back[ref] = self.given_back.get(ref, 0) + entry.points

    def draws(self, allocations: list[Any]) -> tuple[Draw, ...]:
        """A debit's draws (its `lot_allocations`, in the order drawn), one per lot run."""
        out: list[Draw] = []
        for alloc in allocations:
            no = self.lot_of_entry.get(alloc.lot_entry_id)
            if no is None:
                continue
            lot = self.every[no]
            if out and out[-1].lot == no:
                last = out.pop()
                out.append(Draw(no, last.points + int(alloc.points), lot.expires_at,
                                lot.earned_at, lot.source))
            else:
                out.append(Draw(no, int(alloc.points), lot.expires_at, lot.earned_at,
                                lot.source))
        return tuple(out)


def _group_of(entry: Any) -> tuple[str, str | None, int]:
    """(core lot source, crediting order, rank) of a credit entry."""
    kind, ref = entry.source_type, entry.source_ref
    if kind == "order":
        return f"order:{ref}", ref, _RANK["order"]
    if kind == "tier" and ref.startswith("order:"):
        return f"tier:{ref[6:]}", ref[6:], _RANK["tier"]
    if kind == "activity" and ref.startswith("order:"):
        return f"activity:{ref}", ref[6:], _RANK["activity"]
    return f"{kind}:{ref}", None, 0


def _groups(entries: list[Any]) -> list[Group]:
    """Credit entries grouped as the core's lots, in the order the core opens them."""
    shared: dict[str, Group] = {}
    groups: list[Group] = []
    for entry in entries:
        if entry.kind not in CREDIT_KINDS or entry.points <= 0:
            continue
        source, commit, rank = _group_of(entry)
        if rank in (_RANK["order"], _RANK["tier"]) and commit is not None:
            group = shared.get(source)
            if group is None:
                group = shared[source] = Group(source, commit, rank)
                groups.append(group)
        else:
            group = Group(source, commit, rank)
            groups.append(group)
        group.entries.append(entry)
    first_id: dict[str | None, int] = {}
    for group in groups:
        if group.commit is not None:
            first_id[group.commit] = min(first_id.get(group.commit, group.entries[0].id),
                                         group.entries[0].id)

    def key(group: Group) -> tuple[int, int, int]:
        own = group.entries[0].id
        return (first_id.get(group.commit, own) if group.commit else own, group.rank, own)

    return sorted(groups, key=key)


def lots_of(entries: list[Any]) -> Lots:
    """The member's lots and debt from their ledger entries (in id order)."""
    every: dict[int, Lot] = {}
    lot_of_entry: dict[int, int] = {}
    for no, group in enumerate(_groups(entries), start=1):
        every[no] = group.lot(no)
        for entry in group.entries:
            lot_of_entry[entry.id] = no
    open_lots = sorted((lot for lot in every.values() if lot.left > 0), key=Lot.sort_key)
    debt = sum(-(e.remaining or 0) for e in entries if (e.remaining or 0) < 0)
    lots = Lots(open_lots, every, lot_of_entry, debt, len(every) + 1)
    for no, lot in every.items():
        lots.by_source.setdefault(lot.source, no)
    for entry in entries:
        if entry.kind in ("expire", "reverse"):
            lots.note(entry)
    return lots


def next_due(lots: Lots, holds: list[datetime | None]) -> datetime | None:
    """The earliest instant at which time alone changes the book's points: a lot's
    expiry, or a hold's end."""
    dated = [lot.expires_at for lot in lots.open if lot.expires_at is not None]
    dated += [at for at in holds if at is not None]
    return min(dated) if dated else None
