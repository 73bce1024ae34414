"""Automatic redemption (the rewards & redemption document): a member opts in with a
threshold, a unit, a payout method and a frequency limit, within what the ruleset's
`redemption.automatic` allows; after each order commit that leaves the balance at or
above the threshold, `unit` points are redeemed — one redemption per unit — as long as
the balance stays at or above the threshold and the frequency limit allows.

The settings are kept in the member's book, where the lifecycle core reads them when an
order commits (engine/lifecycle/redemptions.py `redeem_automatically`): inside the
order's transaction, under the member's row lock, so exact under concurrency and at most
once per order (a retried commit replays the stored result and triggers nothing). The
`auto_redemptions` row keeps them for reading, with when they were last changed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

import store.clock as clock
import store.ledger.books as books
import store.ledger.members as members
from engine.evaluation.redeem import AutoSettingsInvalid, auto_settings
from engine.language.model import AutoRedemption
from engine.lifecycle import configure_automatic
from engine.program import Program
from store.db.database import Database
from store.errors import NotFound, Unprocessable
from store.registry.programs import ProgramCache
from store.tables.operations import AutoRedemptionRow


def _offer(program: Program) -> AutoRedemption:
    redemption = program.model.redemption
    if redemption is None or redemption.automatic is None:
        raise Unprocessable("auto_redemption_not_offered",
                            f"{program.program}@{program.version} declares no automatic "
                            "redemption (`redemption.automatic`)")
    return redemption.automatic


def validate(program: Program, request: dict[str, Any]) -> dict[str, Any]:
    """The member's settings with the ruleset's defaults filled in; refuses what the
    ruleset does not allow (each refusal points at its field)."""
    try:
        return auto_settings(_offer(program), request)
    except AutoSettingsInvalid as exc:
        raise Unprocessable(exc.code, exc.message, pointer=exc.pointer) from None


def _view(row: AutoRedemptionRow, member_id: str) -> dict[str, Any]:
    return {"program": row.program, "member_id": member_id, "enabled": row.enabled,
            "threshold": row.threshold, "unit": row.unit, "method": row.method,
            "frequency": {"count": row.frequency_count, "per": row.frequency_per}
            if row.frequency_count is not None else None,
            "updated_at": row.updated_at.isoformat()}


def configure(db: Database, cache: ProgramCache, program_id: str, member_id: str,
              request: dict[str, Any]) -> dict[str, Any]:
    """Create or replace a member's settings (the member is enrolled if new, at `as_of`:
    the request's instant, default now)."""
    now = datetime.now(UTC)
    at = datetime.fromisoformat(request["as_of"]) if request.get("as_of") else clock.now()
    with db.writing() as session:
        program = cache.resolve(session, program_id, at)
        settings = validate(program, request)
        member = members.lock_or_create(session, program_id, member_id, None)
        row = session.scalar(select(AutoRedemptionRow).where(
            AutoRedemptionRow.member_pk == member.id))
        if row is None:
            row = AutoRedemptionRow(program=program_id, member_pk=member.id, created_at=now)
            session.add(row)
        lc = books.lifecycle(program)
        book = books.book_of(lc, member, at)
        configure_automatic(lc, book, settings)
        books.store_book(member, book, lc)
        frequency = settings["frequency"]
        row.enabled, row.threshold, row.unit = settings["enabled"], settings["threshold"], \
            settings["unit"]
        row.method, row.updated_at = settings["method"], now
        row.frequency_count = frequency["count"] if frequency else None
        row.frequency_per = frequency["per"] if frequency else None
        session.flush()
        return _view(row, member_id)


def get(db: Database, program_id: str, member_id: str) -> dict[str, Any]:
    with db.reading() as session:
        member = members.get(session, program_id, member_id)
        row = session.scalar(select(AutoRedemptionRow).where(
            AutoRedemptionRow.member_pk == member.id))
        if row is None:
            raise NotFound("auto_redemption_not_configured",
                           f"member {member_id!r} has not opted in to automatic redemption")
        return _view(row, member_id)
