"""Quotes and order commits.

A commit runs in one transaction holding the member's row lock (PostgreSQL) or the
database write lock (SQLite): it re-reads the member's state, evaluates, and writes the
ledger entries, usage counters, tier and the order row with its request hash and result.
The unique (program, order_id) constraint settles races between retries: the loser reads
the stored result and returns it (same body) or refuses (different body, 409).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import store.debt as debt
import store.external_accounts as external_accounts
import store.ledger as ledger
import store.members as members
import store.tiering as tiering
import store.usage as usage
from engine import evaluate
from engine.evaluation.request import RequestInvalid, parse
from store.commit_hooks import after_commit
from store.db import Database
from store.errors import Conflict
from store.models import MemberRow, OrderRow
from store.programs import ProgramCache
from store.state import member_state, request_hash, with_attributes

ZERO = Decimal(0)


@dataclass(frozen=True)
class Outcome:
    result: dict[str, Any]
    created: bool


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
          pinned: int | None = None, may_call_out: bool = True) -> dict[str, Any]:
    """Evaluate against the member's stored state without writing anything.

    With `may_call_out=False` (a caller on an event loop), a program whose balances live
    in an external points API raises CallsOut before any call is made."""
    req = essentials(request)
    with db.read_connection() as conn:
        program = cache.resolve(conn, program_id, req.at, pinned, db=db)
        account = external_accounts.config_of(program)
        if account is not None and not may_call_out:
            raise CallsOut(program_id)
        member = members.find(conn, program_id, str(req.member.get("id")))
        state = member_state(conn, program, member, req.at, needs_stock=req.redeems_reward)
    if account is None:
        return evaluate(program, with_attributes(request, member), state)
    # Balances live in an external points API: the quote uses the account's balance.
    attributes = {**(member.attributes if member is not None else {}),
                  **(req.member.get("attributes") or {})}
    _, balance, why_not = external_accounts.live_balance(account, str(req.member.get("id")),
                                                         attributes)
    state.balance = balance or 0
    result = evaluate(program, with_attributes(request, member), state)
    return result if why_not is None else external_accounts.quote_balance(result, why_not)


_FIND_ORDER = select(OrderRow).where(OrderRow.program == bindparam("program"),
                                     OrderRow.order_id == bindparam("order_id"))


def find_order(session: Session, program_id: str, order_id: str) -> OrderRow | None:
    return session.scalar(_FIND_ORDER, {"program": program_id, "order_id": order_id})


def _replay(row: OrderRow, digest: str) -> Outcome:
    if row.request_hash != digest:
        raise Conflict("order_conflict",
                       f"order {row.order_id!r} was already committed with a different body; "
                       "a retry must resend the first request unchanged", pointer="/order/id")
    return Outcome(row.result, created=False)


def commit(db: Database, cache: ProgramCache, program_id: str, request: dict[str, Any],
           pinned: int | None = None) -> Outcome:
    req = essentials(request)
    if req.order_id is None:
        raise RequestInvalid([("$.order", "a commit needs an order")])
    digest = request_hash(request)
    try:
        with db.writing() as session:
            program = cache.resolve(session, program_id, req.at, pinned)
            with session.no_autoflush:  # one flush at the end: fewer round trips
                return _commit(session, program, request, req, digest)
    except IntegrityError:
        with db.reading() as session:
            prior = find_order(session, program_id, req.order_id)
        if prior is None:
            raise
        return _replay(prior, digest)


def _commit(session: Session, program: Any, request: dict[str, Any], req: Any,
            digest: str) -> Outcome:
    order_id, at = req.order_id, req.at
    member = members.lock_or_create(session, program.program, str(req.member.get("id")), None)
    prior = find_order(session, program.program, order_id)
    if prior is not None:
        return _replay(prior, digest)
    members.merge_attributes(member, (req.member.get("attributes") or None))
    ledger.expire_due(session, member, at)
    state = member_state(session, program, member, at, lock_budgets=True,
                         needs_stock=req.redeems_reward)
    result = evaluate(program, with_attributes(request, member), state)
    if state.tier != member.tier:  # a downgrade that fell due since the last order
        member.tier_since = tiering.fell_at(program, member.tier, member.tier_since, at)
        member.tier = state.tier
    owing = member.balance < 0
    awarded = _write_points(session, program, member, result, order_id, at)
    if owing and awarded:  # the new points repay the debt first
        debt.settle(session, member, at)
    if result["tier_after"] != member.tier:
        member.tier, member.tier_since = result["tier_after"], at
    usage.record_order(session, program, member.id, at, result)
    spend = sum((Decimal(line["eligible_amount"]) for line in result["earn"]["lines"]), ZERO)
    member.orders_count += 1
    member.updated_at = datetime.now(UTC)
    extra = after_commit(session, program, member, order_id, at)  # holds
    result = {**result, "commit": {"order_id": order_id, "points_awarded": awarded,
                                   "balance": member.balance, "tier": member.tier, **extra}}
    session.add(OrderRow(program=program.program, order_id=order_id, member_pk=member.id,
                         request_hash=digest, request=request, result=result,
                         ruleset_version=program.version, placed_at=at, qualifying_spend=spend,
                         original_spend=spend, refunded_fraction=ZERO, counted=True,
                         created_at=datetime.now(UTC)))
    session.flush()
    return Outcome(result, created=True)


def _write_points(session: Session, program: Any, member: MemberRow, result: dict[str, Any],
                  order_id: str, at: datetime) -> int:
    """Ledger lots for an order, in one statement: one per rule that earned points (`bonus`
    for campaign and custom bonuses), the order's activity bonuses, upgrade bonuses."""
    import engine.calendar as calendar

    bonus_rules = {b["rule"] for b in result["earn"]["bonuses"]}
    lots = [{"kind": "bonus" if rule in bonus_rules else "earn", "points": points, "rule": rule,
             "source_type": "order"} for rule, points in result["earn"]["by_rule"].items()]
    for activity in result["activities"]:
        lots.append({"kind": "bonus", "points": activity["points"], "rule": activity["rule"],
                     "source_type": "activity", "source_ref": f"order:{order_id}"})
        usage.record_activity(session, program, member.id, activity["activity"], at)
    for rule in (result.get("upgrade") or {}).get("rules", []):
        tier_id = rule.split(".")[1]
        lots.append({"kind": "bonus", "points": program.model.tiers.get(tier_id).upgrade_bonus,
                     "rule": rule, "source_type": "tier", "source_ref": f"order:{order_id}"})
        usage.record_upgrade(session, member.id, tier_id)
    return ledger.append_lots(session, member, lots, version=program.version, source_ref=order_id,
                              occurred_at=at, expires_at=calendar.expiry_at(program, at))
