"""Migration 0010's data step: members' books, order and redemption records and the lot
numbers of credit entries, from the tables as the store wrote them up to revision 0009
(a lot per ledger entry with `remaining`, `lot_allocations`, `usage_counters`, holds as
redemption rows). The conversion reflects those tables as of revision 0009; later
revisions write the books themselves.

Each program is converted with its ruleset live at migration time (tier windows and
policy, rotation cap periods, challenge windows, activity limit periods), members in
batches, a few queries per batch. Books are written through the engine's dataclasses
and `engine.lifecycle.book.to_json` (format 1), records through
`engine.lifecycle.records`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.lifecycle.book import to_json
from engine.lifecycle.context import Lifecycle
from engine.lifecycle.records import order_json, redemption_json
from engine.program import Program, load_program
from store.migrations.books import rows as member_rows
from store.migrations.books import tables as t
from store.migrations.books.convert import BookMismatch, Converted, convert

__all__ = ["BookMismatch", "fill", "live_program"]
BATCH = 200


def live_program(conn: Connection, program: str, now: datetime) -> Program:
    """The program's ruleset live at `now` (the latest activation in effect; without
    one, the latest published version)."""
    acts = conn.execute(sa.select(t.activations).where(t.activations.c.program == program)
                        .order_by(t.activations.c.id)).all()
    live = [a for a in acts if a.effective_from <= now]
    version = max(live, key=lambda a: (a.effective_from, a.id)).version if live else \
        conn.scalar(sa.select(sa.func.max(t.ruleset_versions.c.version))
                    .where(t.ruleset_versions.c.program == program))
    if version is None:
        raise LookupError(f"members of program {program!r} but no published ruleset")
    sources = conn.scalar(sa.select(t.ruleset_versions.c.sources).where(
        t.ruleset_versions.c.program == program, t.ruleset_versions.c.version == version))
    if not sources:
        raise LookupError(f"{program} version {version} has no sources")
    return load_program(dict(sources))


def fill(conn: Connection, now: datetime | None = None,
         progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Write every member's book and due time, the records of orders and live
    redemptions, and the lot of each credit entry. Returns members converted per
    program."""
    now = now or datetime.now(UTC)
    programs: list[str] = conn.scalars(sa.select(t.members.c.program).distinct()
                            .order_by(t.members.c.program)).all()  # type: ignore[assignment]
    done: dict[str, int] = {}
    for program in programs:
        lc = Lifecycle(live_program(conn, program, now))
        done[program] = 0
        for batch in member_rows.member_batches(conn, program, BATCH):
            converted = [convert(lc, rows) for rows in member_rows.read(conn, program, batch)]
            _write(conn, converted)
            done[program] += len(converted)
            if progress is not None:
                progress(program, done[program])
    return done


def _write(conn: Connection, converted: list[Converted]) -> None:
    members = [{"pk": c.member_pk, "b_book": to_json(c.book), "b_due": c.due_at}
               for c in converted]
    conn.execute(sa.update(t.members).where(t.members.c.id == sa.bindparam("pk"))
                 .values(book=sa.bindparam("b_book"), due_at=sa.bindparam("b_due")), members)
    orders = [{"pk": pk, "b_record": order_json(r)} for c in converted
              for pk, r in c.orders.items()]
    if orders:
        conn.execute(sa.update(t.orders).where(t.orders.c.id == sa.bindparam("pk"))
                     .values(record=sa.bindparam("b_record")), orders)
    live = [{"pk": pk, "b_record": redemption_json(r)} for c in converted
            for pk, r in c.redemptions.items()]
    if live:
        conn.execute(sa.update(t.redemptions).where(t.redemptions.c.id == sa.bindparam("pk"))
                     .values(record=sa.bindparam("b_record")), live)
    lots = [{"pk": pk, "b_lot": no} for c in converted for pk, no in c.lot_of_entry.items()]
    if lots:
        conn.execute(sa.update(t.ledger).where(t.ledger.c.id == sa.bindparam("pk"))
                     .values(lot=sa.bindparam("b_lot")), lots)
