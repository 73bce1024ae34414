"""The expiry job: `expire` entries for every lot past its date, and timed-out checkout
holds released.

Resumable and safe while traffic flows: members are found in batches (by member row id,
ascending) and each member is one short transaction that locks the member's row before
touching its lots — the same lock commits and redemptions take. One member per
transaction, not one batch: releasing a held reward locks its stock row, and a batch
holding that stock lock while waiting for the next member's row could deadlock with a
redemption holding that member and waiting for the stock (PostgreSQL). Idempotent: an
expired lot has nothing `remaining`, so a second run finds nothing to write; an
interrupted run leaves whole members done, and the next run picks up the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select

import store.clock as clock
import store.ledger as ledger
from store.db import Database
from store.models import LedgerEntryRow, MemberRow
from store.redemption_models import RedemptionRow
from store.redemptions import release_expired_holds


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
    lots = select(LedgerEntryRow.member_pk).where(
        LedgerEntryRow.program == program, LedgerEntryRow.remaining > 0,
        LedgerEntryRow.expires_at <= as_of, LedgerEntryRow.member_pk > after)
    holds = select(RedemptionRow.member_pk).where(
        RedemptionRow.program == program, RedemptionRow.status == "held",
        RedemptionRow.hold_expires_at <= as_of, RedemptionRow.member_pk > after)
    with db.reading() as session:
        pks = set(session.scalars(lots.group_by(LedgerEntryRow.member_pk)
                                  .order_by(LedgerEntryRow.member_pk).limit(limit)))
        pks |= set(session.scalars(holds.group_by(RedemptionRow.member_pk)
                                   .order_by(RedemptionRow.member_pk).limit(limit)))
    return sorted(pks)[:limit]


def expire(db: Database, program: str, as_of: datetime, batch_size: int = 200,
           on_batch: Callable[[ExpiryReport], None] | None = None) -> ExpiryReport:
    """Expire every lot of `program` due at `as_of` and release timed-out holds; an
    `as_of` after now counts as now (expiry never runs ahead of the server clock).
    `on_batch` is called with the running report after each batch (progress; raising
    from it stops the run between batches)."""
    as_of = clock.not_after_now(as_of)
    report = ExpiryReport(as_of)
    after = 0
    while True:
        pks = _due_members(db, program, as_of, after, batch_size)
        if not pks:
            return report
        for pk in pks:
            with db.writing() as session:
                member = session.scalar(select(MemberRow).where(MemberRow.id == pk)
                                        .with_for_update()
                                        .execution_options(populate_existing=True))
                assert member is not None
                report.holds_released += release_expired_holds(session, member, as_of)
                report.points_expired += ledger.expire_due(session, member, as_of)
            report.members += 1
        report.batches += 1
        after = pks[-1]
        if on_batch is not None:
            on_batch(report)


def run(db: Database, programs: list[str] | None, as_of: datetime, batch_size: int = 200,
        actor: str = "cli",
        on_batch: Callable[[str, ExpiryReport], None] | None = None) -> dict[str, ExpiryReport]:
    """The expiry job over `programs` (every published program when None), audited."""
    import store.audit as audit
    import store.registry as registry

    with db.reading() as session:
        if programs is None:
            programs = sorted({v.program for v in registry.versions(session)})
        for program in programs:
            registry.require_program(session, program)
    reports = {}
    for program in programs:
        progress = None if on_batch is None else partial(on_batch, program)
        reports[program] = expire(db, program, as_of, batch_size, on_batch=progress)
        if reports[program].points_expired or reports[program].holds_released:
            with db.writing() as session:  # a run that changed nothing writes nothing
                audit.record(session, actor, "expire", program, **reports[program].to_json())
    return reports
