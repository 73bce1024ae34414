"""Quotes and order commits.

A commit runs in one transaction holding the member's row lock (PostgreSQL) or the
database write lock (SQLite): it loads the member's book, hands it and the order to the
lifecycle core (engine/lifecycle: evaluation, points, usage, tier, holds, automatic
redemption), and writes what the core changed (store/ledger/books.py) with the order row, its
request hash, result and record (what its refunds need).
The unique (program, order_id) constraint settles races between retries: the loser reads
the stored result and returns it (same body) or refuses (different body, 409).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from itertools import count
from typing import Any

from sqlalchemy import and_, bindparam, null, select
from sqlalchemy.orm import Session

import store.external.accounts as external_accounts
import store.ledger.books as books
import store.ledger.members as members
import store.redemptions.rows as redemption_rows
from engine.evaluation.evaluate import evaluate_request
from engine.evaluation.render import result_json
from engine.evaluation.request import Request, RequestInvalid, parse
from engine.lifecycle import MemberBook, OrderStep, check_active, commit_order
from engine.lifecycle.book import from_json
from engine.lifecycle.changes import MilestoneReached
from engine.lifecycle.records import RedemptionRecord, order_json
from engine.program import Program
from store.db.database import Database
from store.idempotency import Idempotent, Outcome, request_hash
from store.ledger.books import find_order
from store.registry.programs import ProgramCache
from store.registry.versions import GENERATION
from store.tables.core import MemberRow, OrderRow, RegistryGenerationRow

ZERO = Decimal(0)


@dataclass(frozen=True)
class Essentials:
    """What the store needs from a request before the engine reads all of it."""

    member: dict[str, Any]
    order_id: str | None
    at: datetime
    redeems_reward: bool


def essentials(request: dict[str, Any]) -> Essentials:
    """Read member, order id, instant and redeem kind straight from a request the API has
    validated; anything irregular goes through the engine's parser, which raises
    RequestInvalid with located errors (so the hot path does not parse twice)."""
    try:
        member, order = request["member"], request.get("order")
        raw_at = order["placed_at"] if order is not None else request["as_of"]
        at = datetime.fromisoformat(raw_at)
        if at.tzinfo is None or not isinstance(member["id"], str):
            raise ValueError
        redeem = request.get("redeem") or {}
        return Essentials(member, order["id"] if order is not None else None, at,
                          "reward_id" in redeem)
    except (KeyError, TypeError, ValueError):
        req = parse(request)  # raises RequestInvalid for real problems
        return Essentials(dict(req.member), req.order.id if req.order else None, req.at,
                          bool(req.redeem and req.redeem.reward_id))


class CallsOut(Exception):
    """The quote must call an external points API: run it where blocking is fine."""


def quote(db: Database, cache: ProgramCache, program_id: str, request: dict[str, Any],
          pinned: int | None = None, may_call_out: bool = True,
          parsed: Request | None = None) -> dict[str, Any]:
    """Evaluate against the member's book brought to the request's instant, writing
    nothing. The request is parsed (and so checked) once: `parsed` when the caller has
    parsed it already (`engine.evaluation.request.parse` of `request`), else here.

    With `may_call_out=False` (a caller on an event loop), a program whose balances live
    in an external points API raises CallsOut before any call is made."""
    req = parsed if parsed is not None else parse(request)
    member_id = str(req.member.get("id"))
    with db.read_connection() as conn:
        program = cache.resolve(conn, program_id, req.at, pinned, db=db)
        account = external_accounts.config_of(program)
        if account is not None and not may_call_out:
            raise CallsOut(program_id)
        member = members.snapshot(conn, program_id, member_id)
        lc = books.lifecycle(program)
        book = books.view_at(lc, member, member_id, req.at)
        check_active(book)  # a suspended or closed member is quoted nothing: 409, and why
        state = lc.state(book, req.at, books.StorePool(conn, program, lock=False),
                         stock=bool(req.redeem and req.redeem.reward_id), codes=req.codes)
    req = members.with_stored_attributes(req, member)
    if account is None:
        return evaluate_request(program, req, state)
    # Balances live in an external points API: the quote uses the account's balance.
    _, balance, why_not = external_accounts.live_balance(account, member_id,
                                                         dict(req.member.get("attributes") or {}))
    state.balance = balance or 0
    result = evaluate_request(program, req, state)
    return result if why_not is None else external_accounts.quote_balance(result, why_not)


def _idempotent(program_id: str, order_id: str, request: dict[str, Any]) -> Idempotent[OrderRow]:
    return Idempotent(
        lambda session: find_order(session, program_id, order_id), request_hash(request),
        "order_conflict", f"order {order_id!r} was already committed with a different body; "
        "a retry must resend the first request unchanged", "/order/id")


@dataclass(frozen=True)
class BookBefore:
    """The member's stored book as a commit found it, before the order (None: no book
    yet), with the row's attributes and tier: what a shadow evaluation starts from."""

    book: dict[str, Any] | None
    attributes: dict[str, Any]
    tier: str | None


def commit(db: Database, cache: ProgramCache, program_id: str, request: dict[str, Any],
           pinned: int | None = None, before: list[BookBefore] | None = None) -> Outcome:
    """Commit an order; `before`, when given, receives the member's book as the commit
    found it (a reference to the loaded JSON, copied by nobody)."""
    req = essentials(request)
    if req.order_id is None:
        raise RequestInvalid([("$.order", "a commit needs an order")])
    once = _idempotent(program_id, req.order_id, request)

    def write() -> Outcome:
        with db.writing() as session, session.no_autoflush:  # one flush at the end
            return _commit(session, cache, program_id, pinned, request, req, once, before)
    return once.run(db, write)


# The member's row, locked (FOR UPDATE OF members on PostgreSQL; SQLite's write
# transaction holds the database's lock), with the order row an earlier commit of the
# same order id left (any member's: order ids are unique per program), if any, and the
# registry's generation (whether another process activated a version: the program
# cache reloads its timelines then), so a commit by a known member reads all it needs
# in one statement. A commit of the same order id that this statement waited for (same
# member) is not in its snapshot: its order row then fails the unique key and
# `Idempotent.run` replays it.
_LOCK_WITH_ORDER = (
    select(MemberRow, OrderRow, GENERATION.scalar_subquery())
    .outerjoin(OrderRow, and_(OrderRow.program == MemberRow.program,
                              OrderRow.order_id == bindparam("order_id")))
    .where(MemberRow.program == bindparam("program"),
           MemberRow.member_id == bindparam("member_id"))
    .with_for_update(of=MemberRow).execution_options(populate_existing=True))
# A member with no row yet: no member (None, for the shape), the earlier commit of the
# order id (any member's), the registry's generation. One row always (the generation's).
_GENERATION_WITH_ORDER = (
    select(null(), OrderRow, RegistryGenerationRow.generation)
    .select_from(RegistryGenerationRow)
    .outerjoin(OrderRow, and_(OrderRow.program == bindparam("program"),
                              OrderRow.order_id == bindparam("order_id")))
    .where(RegistryGenerationRow.id == 1))


def _commit(session: Session, cache: ProgramCache, program_id: str, pinned: int | None,
            request: dict[str, Any], req: Essentials, once: Idempotent[OrderRow],
            before: list[BookBefore] | None) -> Outcome:
    order_id, at = req.order_id, req.at
    assert order_id is not None
    member_id = str(req.member.get("id"))
    # One statement locks the member's row, finds an earlier commit of the order id and
    # reads the registry's generation; for a member with no row yet, one more reads the
    # generation and the earlier commit, and one creates the row (locked: it is ours).
    keys = {"program": program_id, "member_id": member_id, "order_id": order_id}
    found = session.execute(_LOCK_WITH_ORDER, keys).first()
    if found is None:
        found = session.execute(_GENERATION_WITH_ORDER, keys).first()
    generation = None if found is None else found[-1] or 0
    program: Program = cache.resolve(session, program_id, at, pinned, generation=generation)
    earlier: OrderRow | None = None if found is None else found[1]
    if earlier is not None:
        return once.replay(session, earlier)
    member: MemberRow = found[0] if found is not None and found[0] is not None else \
        members.create_locked(session, program.program, member_id, None)
    if before is not None:  # store_book assigns a new dict: this one stays as found
        before.append(BookBefore(member.book, dict(member.attributes or {}), member.tier))
    lc = books.lifecycle(program)
    book = books.book_of(lc, member, at)
    book.attributes.update(req.member.get("attributes") or {})
    parsed = parse({**request, "member": {**req.member, "attributes": book.attributes}})
    records = books.OrderRecords(session, program.program, member.id)
    step = commit_order(lc, book, parsed, books.StorePool(session, program, lock=True),
                        lambda: redemption_rows.placeholder(session, program, member, at),
                        records=records)
    assert step.record is not None
    extra = _redemptions(session, program, book, order_id, at, step)
    awarded = sum(e.points for e in step.entries() if e.kind in ("earn", "bonus"))
    given = _given(step)  # before `save` empties the step's changes
    redemption_rows.save(session, program, member, book, step, records)
    for record, milestone in given:  # after the step's events: `milestone.reached` first
        redemption_rows.gift(session, program, record, order_id, milestone)
    assert step.outcome is not None
    result = {**result_json(step.outcome), "commit": {"order_id": order_id, "points_awarded": awarded,
                                        "balance": member.balance, "tier": member.tier,
                                        **extra}}
    spend = step.record.spend
    # the member's row and the order's: one statement on PostgreSQL
    members.update_with_insert(session, member, OrderRow(
        program=program.program, order_id=order_id, member_pk=member.id,
        request_hash=once.digest, request=request, result=result,
        ruleset_version=program.version, placed_at=at, qualifying_spend=spend,
        original_spend=spend, refunded_fraction=ZERO, counted=True,
        record=order_json(step.record), created_at=datetime.now(UTC)))
    return Outcome(result, created=True)


def rehearse(db: Database, program: Program, request: dict[str, Any],
             before: BookBefore) -> dict[str, Any]:
    """What committing `request` against `program` would have answered, from the member's
    book as `before` holds it: the same lifecycle step as a commit (`commit_order`) on a
    copy of the book, reading campaign budgets and reward stock without locks, writing
    nothing. The result carries a `commit` block with the points awarded and the tier."""
    req = essentials(request)
    lc = books.lifecycle(program)
    member_id = str(req.member.get("id"))
    book = (from_json(before.book) if before.book is not None
            else lc.new_book(member_id, req.at, dict(before.attributes), before.tier))
    book.attributes.update(req.member.get("attributes") or {})
    parsed = parse({**request, "member": {**req.member, "attributes": book.attributes}})
    ids = count(1)
    with db.read_connection() as conn:
        step = commit_order(lc, book, parsed, books.StorePool(conn, program, lock=False),
                            lambda: f"rehearsal-{next(ids)}")
    assert step.outcome is not None
    awarded = sum(e.points for e in step.entries() if e.kind in ("earn", "bonus"))
    return {**result_json(step.outcome), "commit": {
        "order_id": req.order_id, "points_awarded": awarded, "balance": book.balance,
        "tier": book.tier}}


def _redemptions(session: Session, program: Program, book: MemberBook, order_id: str,
                 at: datetime, step: OrderStep) -> dict[str, Any]:
    """The order's side of redemption: the checkout holds it captured (their goods are
    routed now) and the automatic redemptions it triggered. What to add to the result's
    `commit` block (nothing when nothing happened, so plain commits keep their shape)."""
    extra: dict[str, Any] = {}
    if step.captured:
        extra["captured_redemptions"] = [
            redemption_rows.captured(session, program, record, order_id, at)
            for record in step.captured]
    if step.automatic:
        method = book.auto.method if book.auto is not None else "points"
        extra["auto_redemptions"] = [
            redemption_rows.automatic(session, program, record, method, order_id)
            for record in step.automatic]
    return extra


def _given(step: OrderStep) -> list[tuple[RedemptionRecord, str]]:
    """The catalog rewards of the milestones the order reached (redemptions of 0
    points), each with its milestone."""
    if not step.gifts:
        return []
    given = [c.milestone for c in step.changes
             if type(c) is MilestoneReached and c.gift == "issued"]  # one each, in order
    return list(zip(step.gifts, given, strict=True))
