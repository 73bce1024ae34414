"""Factories shared by the store and API tests."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine import load_program
from engine.lifecycle import MemberBook, from_json
from store.db.database import Database
from store.ledger import entries as ledger
from store.registry import versions as registry
from store.tables.core import MemberRow

RETAIL = Path(__file__).resolve().parents[2] / "rulesets" / "retail"


def retail_sources() -> dict[str, str]:
    """The shipped retail ruleset as {file name: YAML text}."""
    sources = {p.name: p.read_text() for p in sorted(RETAIL.glob("*.yaml"))}
    return sources


def retail_version(version: int, earning_edit: tuple[str, str] | None = None) -> dict[str, str]:
    sources = retail_sources()
    sources["program.yaml"] = sources["program.yaml"].replace("version: 1", f"version: {version}")
    if earning_edit:
        sources["earning.yaml"] = sources["earning.yaml"].replace(*earning_edit)
    return sources


def publish_retail(db: Database, version: int = 1, activate: bool = True,
                   earning_edit: tuple[str, str] | None = None) -> Any:
    program = load_program(retail_version(version, earning_edit))
    with db.writing() as session:
        registry.publish(session, program, "tests", f"v{version}")
        if activate:
            registry.activate(session, "retail", version, "tests", at_declared=True)
    return program


def order(order_id: str, member: str = "CUST-1", amount: str = "100.00",
          category: str = "electronics", placed_at: str = "2026-11-17T14:30:00-05:00",
          quantity: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "member": {"id": member},
        "order": {"id": order_id, "placed_at": placed_at, "channel": "web", "currency": "USD",
                  "shipping": "5.00",
                  "lines": [{"sku": f"SKU-{category}", "category": category,
                             "quantity": quantity, "unit_price": amount, "discount": "0.00"}]},
        **extra,
    }


def book_of(member: MemberRow) -> MemberBook:
    assert member.book is not None, f"{member.member_id} has no book"
    return from_json(member.book)


def assert_ledger_exact(db: Database, negative: bool = False) -> None:
    """Every member: balance = Σ ledger = what the book holds (points left in its lots,
    minus its debt), and the member row shows the book. A balance is below zero only
    with `negative` (a program under `refund_policy: clawback`), and exactly when the
    member owes a debt — and then no points are left in any lot (new points repay a debt
    first)."""
    with db.reading() as session:
        for member in session.scalars(select(MemberRow)):
            book = book_of(member)
            assert member.balance == ledger.balance_from_entries(session, member.id)
            held = sum(lot.left for lot in book.lots)
            assert held == book.held and all(lot.left > 0 for lot in book.lots)
            assert member.balance == book.balance == held - book.debt
            assert (member.tier, member.orders_count) == (book.tier, book.orders_count)
            assert not (book.debt and held), f"{member.member_id} owes {book.debt} and holds {held}"
            assert member.balance >= 0 or negative, f"{member.member_id}: {member.balance}"
            assert (member.balance < 0) == (book.debt > 0)


ECONOMY = """\
program: economy
version: 1
effective_from: "2026-01-01T00:00:00-05:00"
timezone: America/New_York
earning:
  base_rate: "1"
  categories: {electronics: 2.0}
  activities:
    first_purchase: {points: 200, limit: {count: 1, per: lifetime}}
    referral: {points: 500, friend_bonus: 200, limit: {count: 10, per: year}}
    birthday: {points: 100, limit: {count: 1, per: year}}
redemption:
  rate: {points: 100, value: "1.00"}
  min_points: 500
  refund_policy: POLICY
  expiry: {months: 6}
  automatic: {threshold: 500, unit: 500, methods: [cashback], frequency: {count: 1, per: month}}
  catalog:
    - {id: MUG, name: Mug, type: product, points: 500, fulfilment: physical}
"""


def economy_sources(policy: str | None = "clawback", extra: str = "") -> dict[str, str]:
    """A small program for the points-economy tests: 1 point per 1.00 (electronics 2),
    a 200-point first-purchase bonus, referrals 500 + 200, points expiring after 6
    months, redemptions from 500 points (automatic ones too, for members who opt in);
    `policy` None leaves `refund_policy` out;
    `extra` is more YAML (say, `campaigns`)."""
    text = ECONOMY.replace("POLICY", policy or "") + extra
    if policy is None:
        text = text.replace("  refund_policy: \n", "")
    return {"economy.yaml": text}


def publish_economy(db: Database, policy: str | None = "clawback", extra: str = "") -> Any:
    program = load_program(economy_sources(policy, extra))
    with db.writing() as session:
        registry.publish(session, program, "tests", f"economy {policy}")
        registry.activate(session, "economy", 1, "tests", at_declared=True)
    return program


class ServerClock:
    """The server clock (store.clock) in a test: it shows `now` and moves only when the
    test sets it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, at: str) -> None:
        self.now = datetime.fromisoformat(at)
