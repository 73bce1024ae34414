"""What an account manager reads about their company: the company with its balance
(through the short cache of store/b2b/balances.py) and the reward catalog open to the
company's tier (the same rule as a member's catalog: store/ledger/accounts.py
`offered`), each item marked affordable or not against that balance."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import store.b2b.balances as balances
import store.b2b.companies as companies
from store.b2b.companies import Company
from store.db.database import Database
from store.ledger.accounts import catalog_item, offered, stock_left
from store.registry.programs import ProgramCache


def tiers(db: Database, cache: ProgramCache, program: str, at: datetime) -> frozenset[str]:
    """The tier ids of the program's live ruleset (what a company's tier may be)."""
    with db.reading() as session:
        return companies.tiers_of(cache.resolve(session, program, at))


def _balance_json(balance: balances.Balance) -> dict[str, Any]:
    out: dict[str, Any] = {"balance": balance.points, "balance_cached": balance.cached}
    if balance.unavailable:
        out["balance_unavailable"] = balance.unavailable
    return out


def company(db: Database, cache: ProgramCache, balance_cache: balances.BalanceCache,
            program_id: str, company_id: str, at: datetime) -> dict[str, Any]:
    with db.reading() as session:
        found = companies.get(session, program_id, company_id)
        program = cache.resolve(session, program_id, at)
    return {**found.to_json(), **_balance_json(balances.read(balance_cache, program, found))}


def catalog(db: Database, cache: ProgramCache, balance_cache: balances.BalanceCache,
            program_id: str, company_id: str, at: datetime) -> dict[str, Any]:
    with db.reading() as session:
        found = companies.get(session, program_id, company_id)
        program = cache.resolve(session, program_id, at)
        stock = stock_left(session, program)
    balance = balances.read(balance_cache, program, found)
    redemption = program.model.redemption
    items = []
    for reward in redemption.catalog if redemption else ():
        if offered(reward, found.tier):
            left = stock.get(reward.id, reward.stock)
            items.append({**catalog_item(reward, left), "affordable": balance.points is not None
                          and reward.points <= balance.points and left != 0})
    return {"program": program_id, "company_id": company_id, "tier": found.tier,
            "ruleset_version": program.version, **_balance_json(balance), "items": items}


def listing(db: Database, program_id: str, active: bool | None) -> list[Company]:
    with db.reading() as session:
        return companies.listing(session, program_id, active)

