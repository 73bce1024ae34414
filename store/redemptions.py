"""Redemptions: points against an order ("pay with points") or a catalog reward.

One transaction per redemption, holding the member's row lock and, for a stocked reward,
the stock row's lock (PostgreSQL: SELECT … FOR UPDATE, always member first, then stock;
SQLite: the IMMEDIATE write transaction). Inside it: lots past their date are expired,
eligibility is assessed by the engine (`engine.evaluation.redeem.assess`) against the available
balance and the remaining stock, then one `redeem` entry is written and the points are
drawn from the oldest unexpired lots. Hence the balance and the stock never go below
zero whatever the concurrency. A redemption with an `order_id` is a checkout hold
(status `held`): its points are already out of the balance, so a live hold counts
against it; committing the order captures it (`settle_holds`, called by the order
commit), cancelling or timing out releases it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import store.auto_redemption as auto_redemption
import store.external_accounts as external_accounts
import store.external_points as ext
import store.fulfilment as fulfilment
import store.ledger as ledger
import store.lots as lots
import store.members as members
import store.refunds as refunds
from engine.evaluation.redeem import NEGATIVE_BALANCE, assess
from engine.evaluation.request import Redeem
from store.clock import now as clock_now
from store.db import Database
from store.errors import Conflict, NotFound, StoreError, Unprocessable
from store.models import MemberRow, RewardStockRow
from store.orders import Outcome, find_order
from store.programs import ProgramCache
from store.redemption_models import RedemptionEventRow, RedemptionRow
from store.state import request_hash
from store.tiering import effective_tier
from store.types import money_text
from store.upsert import insert_ignore

HOLD_MINUTES = 30
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


def lock_member(session: Session, program_id: str, member_id: str) -> MemberRow:
    row = session.scalar(select(MemberRow).where(
        MemberRow.program == program_id, MemberRow.member_id == member_id)
        .with_for_update().execution_options(populate_existing=True))
    if row is None:
        raise NotFound("unknown_member", f"{program_id} has no member {member_id!r}",
                       pointer="/member_id")
    return row


def lock_stock(session: Session, program_id: str, reward_id: str) -> RewardStockRow:
    insert_ignore(session, RewardStockRow.__table__,
                  {"program": program_id, "reward_id": reward_id, "issued": 0},
                  ["program", "reward_id"])
    row = session.scalar(select(RewardStockRow).where(
        RewardStockRow.program == program_id, RewardStockRow.reward_id == reward_id)
        .with_for_update().execution_options(populate_existing=True))
    assert row is not None
    return row


def _event(session: Session, row: RedemptionRow, status: str, at: datetime,
           **detail: Any) -> None:
    session.add(RedemptionEventRow(redemption_pk=row.id, status=status, at=at, detail=detail))


def view(session: Session, row: RedemptionRow) -> dict[str, Any]:
    member = session.get(MemberRow, row.member_pk)
    assert member is not None
    used = lots.allocations(session, row.ledger_entry_id) if row.ledger_entry_id else []
    history = session.scalars(select(RedemptionEventRow).where(
        RedemptionEventRow.redemption_pk == row.id).order_by(RedemptionEventRow.id))
    return {
        "id": str(row.id), "program": row.program, "member_id": member.member_id,
        "status": row.status, "kind": row.kind, "points": row.points,
        "value": money_text(row.value),
        "reward_id": row.reward_id, "quantity": row.quantity, "order_id": row.order_id,
        "order_total": money_text(row.order_total) if row.order_total is not None else None,
        "reward": {"code": row.reward_code,
                   "valid_until": row.valid_until.isoformat() if row.valid_until else None}
        if row.reward_code else None,
        "hold_expires_at": row.hold_expires_at.isoformat() if row.hold_expires_at else None,
        "lots": [{"lot_id": str(lot.id), "points": points,
                  "expires_at": lot.expires_at.isoformat() if lot.expires_at else None}
                 for lot, points in used],
        # An external account's balance is the points API's, not read here.
        "balance": member.balance if row.external_account is None else None,
        "account": {"type": "external", "service": row.external_service,
                    "account": row.external_account}
        if row.external_account is not None else {"type": "internal"},
        "ruleset_version": row.ruleset_version,
        "occurred_at": row.occurred_at.isoformat(),
        "history": [{"status": e.status, "at": e.at.isoformat(), **(e.detail or {})}
                    for e in history],
        "fulfilment": fulfilment.status_of(session, row.id) if row.kind == "reward" else None,
    }


def find(session: Session, program_id: str, redemption_id: str) -> RedemptionRow:
    row = session.get(RedemptionRow, int(redemption_id)) if redemption_id.isdigit() else None
    if row is None or row.program != program_id:
        raise NotFound("unknown_redemption", f"{program_id} has no redemption {redemption_id!r}")
    return row


def get(db: Database, program_id: str, redemption_id: str) -> dict[str, Any]:
    with db.reading() as session:
        return view(session, find(session, program_id, redemption_id))


def _by_key(session: Session, program_id: str, key: str | None) -> RedemptionRow | None:
    if key is None:
        return None
    return session.scalar(select(RedemptionRow).where(
        RedemptionRow.program == program_id, RedemptionRow.idempotency_key == key))


def _replay(session: Session, row: RedemptionRow, digest: str) -> Outcome:
    if row.request_hash != digest:
        raise Conflict("redemption_conflict", f"idempotency key {row.idempotency_key!r} was "
                       "already used with a different body", pointer="/idempotency_key")
    return Outcome(row.result or view(session, row), created=False)


def first_answer(session: Session, row: RedemptionRow) -> Outcome:
    """The answer to a new redemption, kept for its replays."""
    row.result = view(session, row)
    return Outcome(row.result, created=True)


def redeem(db: Database, cache: ProgramCache, program_id: str,
           request: dict[str, Any]) -> Outcome:
    digest = request_hash(request)
    key = request.get("idempotency_key")
    with db.reading() as session:
        prior = _by_key(session, program_id, key)
        if prior is not None:
            return _replay(session, prior, digest)
        program = cache.resolve(session, program_id, _instant(request.get("as_of")))
    account = external_accounts.config_of(program)
    if account is not None:
        return _redeem_external(db, program, account, request, digest)
    try:
        with db.writing() as session:
            prior = _by_key(session, program_id, key)
            if prior is not None:
                return _replay(session, prior, digest)
            return _redeem(session, cache, program_id, request, digest)
    except IntegrityError:
        with db.reading() as session:
            prior = _by_key(session, program_id, key)
            if prior is None:
                raise
            return _replay(session, prior, digest)


@dataclass
class _Ask:
    """A redemption request read against the member's state: what `assess` needs."""

    reward: Any
    quantity: int
    stock_row: RewardStockRow | None
    stock: dict[str, int]
    tier: str | None
    order_total: Decimal | None
    wanted: Redeem


def _ask(session: Session, program: Any, program_id: str, member: Any, request: dict[str, Any],
         at: datetime, lock: bool) -> _Ask:
    config = program.model.redemption
    reward = config.reward(request["reward_id"]) if config and request.get("reward_id") else None
    quantity = int(request.get("quantity") or 1)
    stock_row = None
    if reward is not None and reward.stock is not None:
        if lock:
            stock_row = lock_stock(session, program_id, reward.id)
        else:
            stock_row = session.scalar(select(RewardStockRow).where(
                RewardStockRow.program == program_id, RewardStockRow.reward_id == reward.id))
    stock = {reward.id: max(0, reward.stock - (stock_row.issued if stock_row else 0))} \
        if reward is not None and reward.stock is not None else {}
    tier = effective_tier(program, member.tier, member.tier_since, at,
                          lambda s, e: members.window_stats(session, member.id, s, e)) \
        if member is not None else None
    order_total = Decimal(str(request["order_total"])) \
        if request.get("order_total") is not None else None
    wanted = Redeem(points=request.get("points"), reward_id=request.get("reward_id"),
                    quantity=quantity)
    return _Ask(reward, quantity, stock_row, stock, tier, order_total, wanted)


def _no_order_yet(session: Session, program_id: str, request: dict[str, Any]) -> None:
    if request.get("order_id") is not None and find_order(session, program_id,
                                                           request["order_id"]) is not None:
        raise Conflict("order_already_committed", f"order {request['order_id']!r} is already "
                       "committed; a checkout hold must come before the order", pointer="/order_id")


def _write(session: Session, program: Any, member: MemberRow, ask: _Ask,
           assessed: dict[str, Any], request: dict[str, Any], digest: str, at: datetime,
           external: tuple[str, str] | None = None) -> RedemptionRow:
    """The redemption row, its points (drawn from the lots, unless an external account
    paid them), the stock, its first event and, for a completed reward, its delivery."""
    points = int(assessed["points"])
    now = datetime.now(UTC)
    held = request.get("order_id") is not None
    reward = ask.reward
    row = RedemptionRow(
        program=program.program, member_pk=member.id, kind="reward" if reward else "points",
        reward_id=reward.id if reward else None, quantity=ask.quantity if reward else 1,
        points=points, value=Decimal(assessed["value"]),
        status="held" if held else "completed", order_id=request.get("order_id"),
        order_total=ask.order_total, idempotency_key=request.get("idempotency_key"),
        request_hash=digest, ruleset_version=program.version, occurred_at=at,
        hold_expires_at=at + timedelta(minutes=int(request.get("hold_minutes") or HOLD_MINUTES))
        if held else None, created_at=now, updated_at=now,
        external_service=external[0] if external else None,
        external_account=external[1] if external else None)
    if reward is not None:
        row.reward_code = "RW-" + secrets.token_hex(8).upper()
        row.valid_until = at + timedelta(days=reward.valid_days) if reward.valid_days else None
    session.add(row)
    session.flush()
    if points and external is None:
        entry = ledger.append(session, member, "redeem", -points, version=program.version,
                              rule=reward.rule_id if reward else "redemption",
                              source_type="redemption", source_ref=str(row.id), occurred_at=at)
        session.flush()
        lots.consume(session, member.id, entry, points, at)
        row.ledger_entry_id = entry.id
    if ask.stock_row is not None:
        ask.stock_row.issued += ask.quantity
    member.updated_at = now
    _event(session, row, row.status, at, **({"external": {"service": external[0],
                                                          "account": external[1]}}
                                            if external else {}))
    if reward is not None and not held:
        fulfilment.enqueue(session, row, reward)
    session.flush()
    return row


def _redeem(session: Session, cache: ProgramCache, program_id: str, request: dict[str, Any],
            digest: str) -> Outcome:
    at = _instant(request.get("as_of"))
    program = cache.resolve(session, program_id, at)
    member = lock_member(session, program_id, request["member_id"])
    _no_order_yet(session, program_id, request)
    release_expired_holds(session, member, at)
    ledger.expire_due(session, member, at)
    ask = _ask(session, program, program_id, member, request, at, lock=True)
    available = min(member.balance, lots.spendable(session, member.id, at))
    assessed = assess(program.model.redemption, ask.wanted, balance=available, tier=ask.tier,
                      order_total=ask.order_total, stock=ask.stock, denials=[])
    if not assessed["eligible"]:
        raise Refused(assessed["reasons"])
    row = _write(session, program, member, ask, assessed, request, digest, at)
    return first_answer(session, row)


def _redeem_external(db: Database, program: Any, account_config: Any,
                     request: dict[str, Any], digest: str) -> Outcome:
    """A program whose balances live in an external points API: assess against the
    account's balance, then the saga — journal, debit the account, record the redemption
    (stock under its lock) — crediting the account back if the recording fails."""
    at = _instant(request.get("as_of"))
    program_id, member_id = program.program, request["member_id"]
    with db.reading() as session:
        _no_order_yet(session, program_id, request)
        member = members.find(session, program_id, member_id)
        ask = _ask(session, program, program_id, member, request, at, lock=False)
    account = external_accounts.account_id(account_config, member_id,
                                           member.attributes if member is not None else None)
    balance = external_accounts.balance(account_config, account)
    config = program.model.redemption
    assessed = assess(config, ask.wanted, balance=balance, tier=ask.tier,
                      order_total=ask.order_total, stock=ask.stock, denials=[])
    if not assessed["eligible"]:
        raise Refused(assessed["reasons"])
    points = int(assessed["points"])
    service = account_config.service

    def record() -> Outcome:
        with db.writing() as session:
            prior = _by_key(session, program_id, request.get("idempotency_key"))
            if prior is not None:
                raise Conflict("redemption_in_progress", "a redemption with this idempotency "
                               "key was recorded meanwhile", pointer="/idempotency_key")
            row_member = members.lock_or_create(session, program_id, member_id, None)
            release_expired_holds(session, row_member, at)
            locked = _ask(session, program, program_id, row_member, request, at, lock=True)
            again = assess(config, ask.wanted, balance=points, tier=locked.tier,
                           order_total=locked.order_total, stock=locked.stock, denials=[])
            if not again["eligible"]:
                raise Refused(again["reasons"])  # e.g. the stock ran out meanwhile
            row = _write(session, program, row_member, locked, assessed, request, digest, at,
                         external=(service, account))
            return first_answer(session, row)

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
    if outcome is None:  # this key's saga finished earlier: answer what it recorded
        with db.reading() as session:
            prior = _by_key(session, program_id, request.get("idempotency_key"))
            if prior is None:
                raise Conflict("redemption_refused_before", "a redemption with this "
                               "idempotency key was refused or undone before",
                               pointer="/idempotency_key")
            return _replay(session, prior, digest)
    return outcome


def _undo(session: Session, row: RedemptionRow, member: MemberRow, status: str, at: datetime,
          reason: str | None) -> None:
    """Put the points back on their lots (then expire what is past its date) and the stock."""
    if row.external_account is not None:
        external_accounts.restore(session, row, at)  # the account is credited by the job
    elif row.ledger_entry_id is not None:
        restored = lots.restore(session, row.ledger_entry_id)
        entry = ledger.append(session, member, "reverse", row.points,
                              version=row.ruleset_version, rule="redemption.cancel",
                              source_type="redemption", source_ref=str(row.id), occurred_at=at)
        session.flush()
        row.reversal_entry_id = entry.id
        # A refund that ran while these points were spent takes them back now.
        refunds.points_came_back(session, member, [lot for lot, _ in restored], at)
        ledger.expire_due(session, member, at)
    if row.kind == "reward" and row.reward_id is not None:
        stock_row = session.scalar(select(RewardStockRow).where(
            RewardStockRow.program == row.program, RewardStockRow.reward_id == row.reward_id)
            .with_for_update().execution_options(populate_existing=True))
        if stock_row is not None:
            stock_row.issued = max(0, stock_row.issued - row.quantity)
    row.status, row.updated_at = status, datetime.now(UTC)
    _event(session, row, status, at, **({"reason": reason} if reason else {}))
    if row.kind == "reward":
        fulfilment.cancel(session, row)
    elif row.kind == "automatic":
        auto_redemption.uncount(session, row)


def cancel(db: Database, program_id: str, redemption_id: str,
           request: dict[str, Any]) -> Outcome:
    at = _instant(request.get("cancelled_at"))
    with db.writing() as session:
        row = find(session, program_id, redemption_id)
        member = session.scalar(select(MemberRow).where(MemberRow.id == row.member_pk)
                                .with_for_update().execution_options(populate_existing=True))
        assert member is not None
        session.refresh(row)
        if row.status in ("cancelled", "released"):
            return Outcome(row.cancel_result or view(session, row), created=False)
        if row.status in ("captured", "refunded"):
            raise Conflict(f"redemption_{row.status}", f"redemption {redemption_id} was "
                           f"{row.status} with order {row.order_id!r}; refunding the order "
                           "gives its points back")
        _undo(session, row, member, "released" if row.status == "held" else "cancelled", at,
              request.get("reason"))
        session.flush()
        row.cancel_result = view(session, row)  # what cancelling again answers
        return Outcome(row.cancel_result, created=True)


def release_expired_holds(session: Session, member: MemberRow, at: datetime) -> int:
    """Release this member's holds whose time ran out (caller holds the member lock)."""
    due = list(session.scalars(select(RedemptionRow).where(
        RedemptionRow.member_pk == member.id, RedemptionRow.status == "held",
        RedemptionRow.hold_expires_at <= at).order_by(RedemptionRow.id)))
    for row in due:
        _undo(session, row, member, "released", at, "hold timed out")
    return len(due)


def settle_holds(session: Session, member: MemberRow, order_id: str, at: datetime) -> list[str]:
    """Inside an order commit (the member's row is locked): capture this member's live
    holds for `order_id`, and release its holds whose time ran out at `at` (including a
    hold for this order that timed out before the order came). Returns the captured ids."""
    rows = session.scalars(select(RedemptionRow).where(
        RedemptionRow.member_pk == member.id, RedemptionRow.status == "held",
        or_(RedemptionRow.order_id == order_id, RedemptionRow.hold_expires_at <= at))
        .order_by(RedemptionRow.id))
    captured = []
    for row in list(rows):
        if row.hold_expires_at is not None and row.hold_expires_at <= at:
            _undo(session, row, member, "released", at, "hold timed out")
        else:
            row.status, row.updated_at = "captured", datetime.now(UTC)
            _event(session, row, "captured", at, order_id=order_id)
            captured.append(str(row.id))
    return captured
