"""Read models for members: summary (tier, balance, expiring points, progress, lots,
usage), ledger pages and the reward catalog as a member sees it — all read from the
member's book brought to the instant asked about (nothing is written)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

import engine.evaluation.tiers as tiers
import store.external.accounts as external_accounts
import store.external.transfers as external_transfers
import store.ledger.books as books
import store.ledger.cashback as cashback
import store.ledger.entries as ledger
import store.ledger.members as members
from engine.language.model import Reward
from engine.lifecycle import MemberBook
from engine.lifecycle.book import snapshot
from engine.program import Program
from store.db.database import Database
from store.errors import NotFound
from store.registry.programs import ProgramCache

EXPIRY_HORIZONS = (30, 60, 90)


def summary(db: Database, cache: ProgramCache, program_id: str, member_id: str,
            as_of: datetime) -> dict[str, Any]:
    with db.reading() as session:
        row = members.get(session, program_id, member_id)
        program = cache.get(session, program_id, cache.live_version(session, program_id, as_of))
        money = cashback.member_totals(session, row.id)
    lc = books.lifecycle(program)
    book = books.view_at(lc, row, member_id, as_of)
    spend, orders = lc.tiers.totals(book, as_of) if lc.tiers else (Decimal(0), 0)
    held = snapshot(book)
    out = {
        "program": program_id, "member_id": row.member_id, "tier": book.tier,
        "tier_since": held["tier_since"],
        # Below zero only under refund_policy clawback: a refund took back points that
        # had been spent; `debt` is what later earnings still have to repay.
        "balance": book.balance, "debt": book.debt,
        "orders_count": book.orders_count,
        "expiring": _expiring(book, as_of),
        "progress": {"qualifying_spend": str(spend.quantize(Decimal("0.01"))),
                     "qualifying_orders": orders,
                     **tiers.progress(program, book.tier, spend, orders)},
        "lots": held["lots"], "cap_spend": held["cap_spend"],
        "campaign_uses": held["campaign_uses"],
        "attributes": row.attributes or {}, "as_of": as_of.isoformat(),
        **_administered(row, book),
        # money owed to the member: issued by orders, reversed by refunds, paid out
        "cashback": money.to_json(),
        "ruleset_version": program.version,
        "account": {"type": "internal"},
    }
    account = external_accounts.config_of(program)
    if account is not None:
        # The balance of record is the external account's; the platform's ledger is the
        # journal of what it credited and debited there, and some of that may be on its way.
        name, balance, why_not = external_accounts.live_balance(account, member_id,
                                                                out["attributes"])
        out["balance"] = balance
        out["account"] = {"type": "external", "service": account.service, "account": name,
                          "journal_balance": row.balance,
                          "points_owed": external_transfers.owed_to(
                              db, program_id, name, row.id) if name else None,
                          **({"unavailable": why_not} if why_not else {})}
    return out


def _administered(row: Any, book: Any) -> dict[str, Any]:
    """What the member summary shows of administration."""
    override = book.tier_override
    return {"status": book.status,
            "tier_override": None if override is None else {
                "tier": override[0], "until": override[1].isoformat() if override[1] else None},
            "erased_at": row.erased_at.isoformat() if row.erased_at else None}


def _expiring(book: MemberBook, as_of: datetime) -> dict[str, int]:
    """Points left in lots that expire within each horizon after `as_of`."""
    return {f"{days}_days": sum(lot.left for lot in book.lots if lot.expires_at is not None
                                and as_of < lot.expires_at <= as_of + timedelta(days=days))
            for days in EXPIRY_HORIZONS}


def ledger_page(db: Database, program_id: str, member_id: str, cursor: int | None,
                limit: int, since: datetime | None = None, until: datetime | None = None,
                kind: str | None = None) -> dict[str, Any]:
    with db.reading() as session:
        row = members.get(session, program_id, member_id)
        entries, next_cursor = ledger.page(session, row.id, cursor, limit, since, until, kind)
        return {"member_id": member_id, "entries": [e.to_json() for e in entries],
                "next_cursor": str(next_cursor) if next_cursor is not None else None}


def cashback_page(db: Database, program_id: str, member_id: str, cursor: int | None,
                  limit: int, since: datetime | None = None, until: datetime | None = None,
                  kind: str | None = None) -> dict[str, Any]:
    with db.reading() as session:
        row = members.get(session, program_id, member_id)
        entries, next_cursor = cashback.page(session, row.id, cursor, limit, since, until, kind)
        return {"member_id": member_id, "totals": cashback.member_totals(session, row.id).to_json(),
                "entries": entries,
                "next_cursor": str(next_cursor) if next_cursor is not None else None}


def offered(reward: Reward, tier: str | None) -> bool:
    """Whether a reward is open to a member (or a B2B company) of `tier`: rewards that
    list `tiers:` are open to those tiers only."""
    return not reward.tiers or tier in reward.tiers


def stock_left(session: Session, program: Program) -> dict[str, int | None]:
    """What is left of each catalog reward that declares a stock."""
    pool = books.StorePool(session, program, lock=False)
    redemption = program.model.redemption
    return {r.id: pool.stock_left(r.id) for r in (redemption.catalog if redemption else ())
            if r.stock is not None}


def catalog_item(reward: Reward, left: int | None) -> dict[str, Any]:
    return {"id": reward.id, "name": reward.name, "type": reward.type, "points": reward.points,
            "value": str(reward.value) if reward.value is not None else None,
            "stock_remaining": left, "min_order": str(reward.min_order) if reward.min_order else None,
            "valid_days": reward.valid_days, "tiers": sorted(reward.tiers) if reward.tiers else None,
            "availability": reward.availability, "fulfilment": reward.fulfilment,
            "rule": reward.rule_id}


def catalog(db: Database, cache: ProgramCache, program_id: str, as_of: datetime,
            member_id: str | None = None) -> dict[str, Any]:
    with db.reading() as session:
        program = cache.get(session, program_id, cache.live_version(session, program_id, as_of))
        redemption = program.model.redemption
        stock = stock_left(session, program)
        items: list[dict[str, Any]] = []
        tier, balance, attributes = None, None, {}
        if member_id is not None:
            row = members.find(session, program_id, member_id)
            if row is None:
                raise NotFound("unknown_member", f"{program_id} has no member {member_id!r}")
            book = books.view_at(books.lifecycle(program), row, member_id, as_of)
            tier, balance = book.tier, book.balance
            attributes = dict(row.attributes or {})
    unavailable = None
    account = external_accounts.config_of(program)
    if account is not None and member_id is not None:
        # The balance of record is the external account's; unreadable, nothing is affordable.
        _, balance, unavailable = external_accounts.live_balance(account, member_id, attributes)
    for reward in redemption.catalog if redemption else ():
        left = stock.get(reward.id, reward.stock)
        if member_id is not None and (
            not offered(reward, tier) or reward.points > (balance or 0)
            or (left is not None and left <= 0)
        ):
            continue
        items.append(catalog_item(reward, left))
    out = {"program": program_id, "ruleset_version": program.version,
           "member_id": member_id, "tier": tier, "balance": balance, "items": items}
    if unavailable:
        out["unavailable"] = unavailable
    return out
