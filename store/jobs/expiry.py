"""The expiry job: `expire` entries for every lot past its date, and timed-out checkout
holds released.

Members are due when their row's `due_at` (the earliest lot expiry, hold timeout or
time-based alert of the program's `engagement:` section, store/ledger/books.py `due_at`)
has come; the lifecycle core brings each due book to the run's instant
(`Lifecycle.advance`: the same step every event takes first), and the store writes what
it changed. Resumable and safe while traffic flows: members are found in batches (by
member row id, ascending) and each member is one short transaction that locks the
member's row — the same lock commits and redemptions take. One member per transaction,
not one batch: releasing a held reward locks its stock row, and a batch holding that
stock lock while waiting for the next member's row could deadlock with a redemption
holding that member and waiting for the stock (PostgreSQL). Idempotent: a book brought
to the instant is due no more, so a second run finds nothing; an interrupted run leaves
whole members done, and the next run picks up the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select

import store.clock as clock
import store.ledger.books as books
import store.redemptions.rows as redemption_rows
from store.db.database import Database
from store.registry.programs import ProgramCache
from store.tables.core import MemberRow


@dataclass
class ExpiryReport:
    as_of: datetime
    members: int = 0
    points_expired: int = 0
    holds_released: int = 0
    batches: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "members": self.members,
                "points_expired": self.points_expired, "holds_released": self.holds_released,
                "batches": self.batches}


def _due_members(db: Database, program: str, as_of: datetime, after: int, limit: int) -> list[int]:
    with db.reading() as session:
        return list(session.scalars(select(MemberRow.id).where(
            MemberRow.program == program, MemberRow.due_at <= as_of, MemberRow.id > after)
            .order_by(MemberRow.id).limit(limit)))


_LOCK = select(MemberRow).with_for_update().execution_options(populate_existing=True)


def _expire_member(db: Database, cache: ProgramCache, program: str, pk: int,
                   as_of: datetime, report: ExpiryReport) -> None:
    with db.writing() as session:
        member = session.scalar(_LOCK.where(MemberRow.id == pk))
        assert member is not None
        compiled = cache.resolve(session, program, as_of)
        lc = books.lifecycle(compiled)
        book = books.book_of(lc, member, as_of)
        records = books.OrderRecords(session, program, member.id)
        step = lc.advance(book, as_of)
        lc.note(step, records)
        report.points_expired -= sum(e.points for e in step.entries() if e.kind == "expire")
        report.holds_released += len(step.released)
        redemption_rows.save(session, compiled, member, book, step, records)


def expire(db: Database, program: str, as_of: datetime, batch_size: int = 200,
           on_batch: Callable[[ExpiryReport], None] | None = None,
           cache: ProgramCache | None = None) -> ExpiryReport:
    """Expire every lot of `program` due at `as_of` and release timed-out holds; an
    `as_of` after now counts as now (expiry never runs ahead of the server clock).
    `on_batch` is called with the running report after each batch (progress; raising
    from it stops the run between batches)."""
    as_of = clock.not_after_now(as_of)
    cache = cache if cache is not None else ProgramCache()
    report = ExpiryReport(as_of)
    after = 0
    while True:
        pks = _due_members(db, program, as_of, after, batch_size)
        if not pks:
            return report
        for pk in pks:
            _expire_member(db, cache, program, pk, as_of, report)
            report.members += 1
        report.batches += 1
        after = pks[-1]
        if on_batch is not None:
            on_batch(report)


def expire_member(db: Database, program: str, member_id: str, as_of: datetime,
                  cache: ProgramCache | None = None) -> ExpiryReport:
    """What the job does to one member: their book brought to `as_of` when something in
    it is due (a lot past its date, a hold past its time); nothing for a member unknown
    or with nothing due."""
    report = ExpiryReport(clock.not_after_now(as_of))
    with db.reading() as session:
        pk = session.scalar(select(MemberRow.id).where(
            MemberRow.program == program, MemberRow.member_id == member_id,
            MemberRow.due_at <= report.as_of))
    if pk is not None:
        _expire_member(db, cache if cache is not None else ProgramCache(), program, pk,
                       report.as_of, report)
        report.members = 1
    return report


def run(db: Database, programs: list[str] | None, as_of: datetime, batch_size: int = 200,
        actor: str = "cli",
        on_batch: Callable[[str, ExpiryReport], None] | None = None,
        member_id: str | None = None) -> dict[str, ExpiryReport]:
    """The expiry job over `programs` (every published program when None), audited;
    with `member_id`, for that member alone."""
    import store.registry.audit as audit
    import store.registry.versions as registry

    with db.reading() as session:
        if programs is None:
            programs = sorted({v.program for v in registry.versions(session)})
        for program in programs:
            registry.require_program(session, program)
    reports = {}
    cache = ProgramCache()
    for program in programs:
        progress = None if on_batch is None else partial(on_batch, program)
        reports[program] = expire(db, program, as_of, batch_size, on_batch=progress,
                                  cache=cache) if member_id is None \
            else expire_member(db, program, member_id, as_of, cache)
        if reports[program].points_expired or reports[program].holds_released:
            with db.writing() as session:  # a run that changed nothing writes nothing
                audit.record(session, actor, "expire", program, **reports[program].to_json())
    return reports
