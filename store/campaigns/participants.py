"""Members and campaigns: joining and leaving opt-in campaigns, which running campaigns
a member is eligible for (and why not), and their progress in each.

Joining changes the member's book (engine/lifecycle/campaigns.py), under the member's
lock, like every other event; the listing and the progress read a copy of the book
brought to the instant asked about. The reasons are the rule engine's
(engine/rules/eligibility.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import store.ledger.books as books
import store.ledger.members as members
import store.redemptions.rows as redemption_rows
from engine.evaluation.campaigns import campaign_eligibility
from engine.lifecycle.campaigns import CampaignRefused, enrol, leave, progress
from engine.lifecycle.context import Step
from store.db.database import Database
from store.errors import NotFound, Unprocessable
from store.registry.programs import ProgramCache


def _refused(exc: CampaignRefused) -> Exception:
    kind = NotFound if exc.code == "unknown_campaign" else Unprocessable
    return kind(exc.code, str(exc), pointer="/campaign")


def participate(db: Database, cache: ProgramCache, program_id: str, campaign_id: str,
                member_id: str, at: datetime, join: bool) -> tuple[bool, dict[str, Any]]:
    """Join (or leave) opt-in campaign `campaign_id` at `at`. Returns whether anything
    changed (joining twice, or leaving a campaign one is not in, changes nothing) and
    the answer."""
    with db.writing() as session:
        program = cache.resolve(session, program_id, at)
        lc = books.lifecycle(program)
        # as any event of a member: the first one brings the member into the store
        member = members.lock_or_create(session, program_id, member_id, None)
        book = books.book_of(lc, member, at)
        step = Step()
        try:
            changed = (enrol if join else leave)(lc, book, campaign_id, at, step)
        except CampaignRefused as exc:
            raise _refused(exc) from None
        records = books.OrderRecords(session, program_id, member.id)
        redemption_rows.save(session, program, member, book, step, records)
        return changed, {"program": program_id, "campaign": campaign_id,
                         "member_id": member_id, "enrolled": campaign_id in book.enrolments,
                         "changed": changed, "at": at.isoformat(),
                         "ruleset_version": program.version}


def eligibility(db: Database, cache: ProgramCache, program_id: str, member_id: str | None,
                at: datetime) -> dict[str, Any]:
    """The campaigns running at `at`; with a member, whether they are eligible and why
    not (an unknown member is a new one)."""
    with db.reading() as session:
        program = cache.resolve(session, program_id, at)
        lc = books.lifecycle(program)
        row = members.find(session, program_id, member_id) if member_id else None
        book = books.view_at(lc, row, member_id or "-", at)
        state = lc.state(book, at, books.StorePool(session, program, lock=False))
    listed = campaign_eligibility(program, book.member_id, book.attributes, state, at)
    if member_id is None:
        for item in listed:  # no member: what the campaigns are, not who may take part
            for key in ("eligible", "reasons", "enrolled"):
                item.pop(key)
    return {"program": program_id, "member_id": member_id, "as_of": at.isoformat(),
            "ruleset_version": program.version, "campaigns": listed}


def known_member(db: Database, program_id: str, member_id: str) -> None:
    """404 `unknown_member` unless the program has the member."""
    with db.read_connection() as conn:
        members.get(conn, program_id, member_id)  # type: ignore[arg-type]


def member_progress(db: Database, cache: ProgramCache, program_id: str, member_id: str,
                    at: datetime) -> dict[str, Any]:
    with db.reading() as session:
        program = cache.resolve(session, program_id, at)
        lc = books.lifecycle(program)
        row = members.get(session, program_id, member_id)
        book = books.view_at(lc, row, member_id, at)
        out = progress(lc, book, at, books.StorePool(session, program, lock=False))
    return {"program": program_id, "as_of": at.isoformat(),
            "ruleset_version": program.version, **out}
