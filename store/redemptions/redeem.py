"""Redemptions: points against an order ("pay with points") or a catalog reward.

One transaction per redemption, holding the member's row lock and, for a stocked reward,
the stock row's lock (PostgreSQL: SELECT … FOR UPDATE, always member first, then stock;
SQLite: the IMMEDIATE write transaction). Inside it the lifecycle core
(engine/lifecycle/redemptions.py) brings the member's book to the instant (lots past
their date expire, holds past their time are released), has the engine assess
eligibility against the spendable balance and the remaining stock, and draws the points
from the lots soonest to expire. Hence the balance and the stock never go below zero
whatever the concurrency. A redemption with an `order_id` is a checkout hold (status
`held`): its points are already out of the balance; committing the order captures it,
cancelling or timing out releases it.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import store.external.accounts as external_accounts
import store.external.points as ext
import store.ledger.books as books
import store.ledger.members as members
import store.redemptions.fulfilment as fulfilment
import store.redemptions.rows as redemption_rows
from engine.evaluation.redeem import CENT, NEGATIVE_BALANCE, assess
from engine.evaluation.request import Redeem
from engine.language.model import PointsAccount
from engine.lifecycle import Ask
from engine.lifecycle import cancel as cancel_redemption
from engine.lifecycle import redeem as core_redeem
from engine.lifecycle.records import redemption_from
from engine.program import Program
from store.clock import now as clock_now
from store.db.database import Database
from store.errors import Conflict, NotFound, StoreError, Unprocessable
from store.idempotency import Idempotent, Outcome, request_hash
from store.ledger.books import find_order
from store.registry.programs import ProgramCache
from store.tables.core import MemberRow
from store.tables.redemptions import RedemptionRow

# Refusals that depend on the moment (another redemption may change them): 409.
STATE_CODES = frozenset({"INSUFFICIENT_POINTS", "OUT_OF_STOCK", NEGATIVE_BALANCE})


class Refused(StoreError):
    """The engine's reasons, the first as the problem's `code` (a negative balance before
    anything else: nothing can be redeemed until it is repaid), all in `errors[]`."""

    def __init__(self, reasons: list[dict[str, str]]) -> None:
        state = [r for r in reasons if r["code"] in STATE_CODES]
        rules = [r for r in reasons if r["code"] not in STATE_CODES]
        owing = [r for r in reasons if r["code"] == NEGATIVE_BALANCE]
        first = (owing or rules or state)[0]
        self.status = 422 if rules and not owing else 409
        super().__init__(first["code"], first["message"], errors=[
            {"code": r["code"], "message": r["message"], "rule": r.get("rule")} for r in reasons])


def _instant(value: Any) -> datetime:
    if value is None:
        return clock_now()
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if at.tzinfo is None:
        raise Unprocessable("invalid_request", "instants need a UTC offset", pointer="/as_of")
    return at.astimezone(UTC)  # stored and shown in UTC, whatever offset the caller used


_LOCK_MEMBER = select(MemberRow).with_for_update().execution_options(populate_existing=True)


def lock_member(session: Session, program_id: str, member_id: str) -> MemberRow:
    row = session.scalar(_LOCK_MEMBER.where(MemberRow.program == program_id,
                                            MemberRow.member_id == member_id))
    if row is None:
        raise NotFound("unknown_member", f"{program_id} has no member {member_id!r}",
                       pointer="/member_id")
    return row


def find(session: Session, program_id: str, redemption_id: str) -> RedemptionRow:
    row = session.get(RedemptionRow, int(redemption_id)) if redemption_id.isdigit() else None
    if row is None or row.program != program_id or row.status == "pending":
        raise NotFound("unknown_redemption", f"{program_id} has no redemption {redemption_id!r}")
    return row


def get(db: Database, program_id: str, redemption_id: str) -> dict[str, Any]:
    with db.reading() as session:
        return redemption_rows.view(session, find(session, program_id, redemption_id))


def _idempotent(program_id: str, request: dict[str, Any]) -> Idempotent[RedemptionRow]:
    key = request.get("idempotency_key")
    find = select(RedemptionRow).where(RedemptionRow.program == program_id,
                                       RedemptionRow.idempotency_key == key)
    return Idempotent(lambda session: session.scalar(find) if key is not None else None,
                      request_hash(request), "redemption_conflict", f"idempotency key {key!r} "
                      "was already used with a different body", "/idempotency_key",
                      answer=_answer)


def _answer(session: Session, row: RedemptionRow) -> dict[str, Any]:
    """What a replay answers: the first answer (rows from before answers were kept: the
    redemption's view now)."""
    return row.result or redemption_rows.view(session, row)


def first_answer(session: Session, row: RedemptionRow) -> Outcome:
    """The answer to a new redemption, kept for its replays."""
    row.result = redemption_rows.view(session, row)
    return Outcome(row.result, created=True)


def redeem(db: Database, cache: ProgramCache, program_id: str,
           request: dict[str, Any]) -> Outcome:
    once = _idempotent(program_id, request)
    with db.reading() as session:
        replayed = once.earlier(session)
        if replayed is not None:
            return replayed
        program = cache.resolve(session, program_id, _instant(request.get("as_of")))
    account = external_accounts.config_of(program)
    if account is not None:
        return _redeem_external(db, program, account, request, once)

    def write() -> Outcome:
        with db.writing() as session:
            replayed = once.earlier(session)
            if replayed is not None:
                return replayed
            return _redeem(session, cache, program_id, request, once.digest)
    return once.run(db, write)


def _ask(request: dict[str, Any]) -> Ask:
    total = request.get("order_total")
    return Ask(points=request.get("points"), reward_id=request.get("reward_id"),
               quantity=int(request.get("quantity") or 1), order_id=request.get("order_id"),
               order_total=Decimal(str(total)) if total is not None else None,
               hold_minutes=request.get("hold_minutes"))


def _no_order_yet(session: Session, program_id: str, request: dict[str, Any]) -> None:
    if request.get("order_id") is not None and find_order(session, program_id,
                                                           request["order_id"]) is not None:
        raise Conflict("order_already_committed", f"order {request['order_id']!r} is already "
                       "committed; a checkout hold must come before the order", pointer="/order_id")


def _record(session: Session, program: Program, member: MemberRow, request: dict[str, Any],
            digest: str, at: datetime, external: tuple[str, str, int] | None = None) -> Outcome:
    """Under the member's lock: the core redeems on the member's book (against the
    external account's debited points when `external` = (service, account, points)), and
    the row, the ledger and the book are written."""
    lc = books.lifecycle(program)
    book = books.book_of(lc, member, at)
    records = books.OrderRecords(session, program.program, member.id)
    rid = redemption_rows.placeholder(session, program, member, at)
    ask = _ask(request)
    step = core_redeem(lc, book, ask, at, books.StorePool(session, program, lock=True),
                       rid, external_balance=external[2] if external else None,
                       records=records)
    assessed = step.assessed
    assert assessed is not None
    if not assessed.eligible:
        raise Refused([r.to_json() for r in assessed.reasons])  # the transaction rolls back
    assert step.record is not None
    row = redemption_rows.row_of(session, rid)
    reward = program.model.redemption.reward(step.record.reward_id) \
        if step.record.reward_id and program.model.redemption else None
    redemption_rows.fill(row, step.record, assessed.value.quantize(CENT),
                         reward.valid_days if reward else None)
    row.order_total, row.idempotency_key = ask.order_total, request.get("idempotency_key")
    row.request_hash = digest
    if external is not None:
        row.external_service, row.external_account = external[0], external[1]
    redemption_rows.save(session, program, member, book, step, records)
    redemption_rows.event(session, row, row.status, at, **(
        {"external": {"service": external[0], "account": external[1]}} if external else {}))
    if reward is not None and row.status == "completed":
        fulfilment.enqueue(session, row, reward)
    session.flush()
    return first_answer(session, row)


def _redeem(session: Session, cache: ProgramCache, program_id: str, request: dict[str, Any],
            digest: str) -> Outcome:
    at = _instant(request.get("as_of"))
    program = cache.resolve(session, program_id, at)
    member = lock_member(session, program_id, request["member_id"])
    _no_order_yet(session, program_id, request)
    return _record(session, program, member, request, digest, at)


def _redeem_external(db: Database, program: Program, account_config: PointsAccount,
                     request: dict[str, Any], once: Idempotent[RedemptionRow]) -> Outcome:
    """A program whose balances live in an external points API: assess against the
    account's balance, then the saga — journal, debit the account, record the redemption
    (stock under its lock) — crediting the account back if the recording fails."""
    at = _instant(request.get("as_of"))
    program_id, member_id = program.program, request["member_id"]
    account, points = _assess_external(db, program, account_config, request, at)
    service = account_config.service
    assert service is not None, "an external account names its service (validated)"

    def record() -> Outcome:
        with db.writing() as session:
            if once.find(session) is not None:
                raise Conflict("redemption_in_progress", "a redemption with this idempotency "
                               "key was recorded meanwhile", pointer="/idempotency_key")
            row_member = members.lock_or_create(session, program_id, member_id, None)
            return _record(session, program, row_member, request, once.digest, at,
                           external=(service, account, points))

    key = f"redemption:{request.get('idempotency_key') or secrets.token_hex(16)}"
    try:
        outcome = ext.redeem(db, external_accounts.client(service), program_id, account, points,
                             key, record, reference=f"{program_id}/{member_id}")
    except ext.Rejected as exc:
        if exc.status in (409, 422):
            raise Refused([{"code": "INSUFFICIENT_POINTS", "message": f"{service} refused "
                            f"to debit {points} points from account {account}: {exc}",
                            "rule": "redemption.balance"}]) from exc
        raise external_accounts.unavailable(exc, service) from exc
    except ext.ExternalPointsError as exc:
        raise external_accounts.unavailable(exc, service) from exc
    return outcome if outcome is not None else _saga_replay(db, once)


def _assess_external(db: Database, program: Program, account_config: PointsAccount,
                     request: dict[str, Any], at: datetime) -> tuple[str, int]:
    """The member's external account and the points to debit from it, once the rule
    engine found the redemption eligible against that account's balance (else Refused)."""
    program_id, member_id = program.program, request["member_id"]
    with db.reading() as session:
        _no_order_yet(session, program_id, request)
        member = members.find(session, program_id, member_id)
        lc = books.lifecycle(program)
        tier = books.view_at(lc, member, member_id, at).tier
        pool = books.StorePool(session, program, lock=False)
        stock = {r: left for r in lc.stocked if (left := pool.stock_left(r)) is not None}
    account = external_accounts.account_id(account_config, member_id,
                                           member.attributes if member is not None else None)
    balance = external_accounts.balance(account_config, account)
    ask = _ask(request)
    assessed = assess(program.model.redemption, Redeem(points=ask.points,
                      reward_id=ask.reward_id, quantity=ask.quantity), balance=balance,
                      tier=tier, order_total=ask.order_total, stock=stock, denials=[])
    if not assessed.eligible:
        raise Refused([r.to_json() for r in assessed.reasons])
    return account, assessed.points


def _saga_replay(db: Database, once: Idempotent[RedemptionRow]) -> Outcome:
    """This key's saga finished earlier: answer what it recorded."""
    with db.reading() as session:
        replayed = once.earlier(session)
    if replayed is None:
        raise Conflict("redemption_refused_before", "a redemption with this idempotency key "
                       "was refused or undone before", pointer="/idempotency_key")
    return replayed


def cancel(db: Database, cache: ProgramCache, program_id: str, redemption_id: str,
           request: dict[str, Any]) -> Outcome:
    at = _instant(request.get("cancelled_at"))
    with db.writing() as session:
        row = find(session, program_id, redemption_id)
        member = session.scalar(_LOCK_MEMBER.where(MemberRow.id == row.member_pk))
        assert member is not None
        session.refresh(row)
        if row.status in ("cancelled", "released"):
            return Outcome(row.cancel_result or redemption_rows.view(session, row),
                           created=False)
        if row.status in ("captured", "refunded"):
            raise Conflict(f"redemption_{row.status}", f"redemption {redemption_id} was "
                           f"{row.status} with order {row.order_id!r}; refunding the order "
                           "gives its points back")
        if row.record is None:
            raise Conflict("redemption_not_cancellable", f"redemption {redemption_id} was "
                           "recorded before redemptions kept what a cancel needs")
        program = cache.resolve(session, program_id, at)
        lc = books.lifecycle(program)
        book = books.book_of(lc, member, at)
        records = books.OrderRecords(session, program_id, member.id)
        step = cancel_redemption(lc, book, redemption_from(row.record), at, records=records)
        mine = next(r for r in step.released if r.id == str(row.id))
        step.released.remove(mine)
        redemption_rows.save(session, program, member, book, step, records)
        redemption_rows.released(session, program_id, mine.id, mine.status, at,
                                 request.get("reason"))
        session.flush()
        row.cancel_result = redemption_rows.view(session, row)  # what cancelling again answers
        return Outcome(row.cancel_result, created=True)
