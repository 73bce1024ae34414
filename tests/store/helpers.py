"""Factories shared by the store and API tests."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from engine import load_program
from store import ledger, registry
from store.db import Database
from store.models import LedgerEntryRow, MemberRow

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


def assert_ledger_exact(db: Database) -> None:
    """Every member: balance = Σ ledger ≥ 0, and the points left in its lots = balance."""
    with db.reading() as session:
        for member in session.scalars(select(MemberRow)):
            assert member.balance == ledger.balance_from_entries(session, member.id)
            assert member.balance >= 0
            remaining = session.scalar(select(func.sum(LedgerEntryRow.remaining)).where(
                LedgerEntryRow.member_pk == member.id)) or 0
            assert remaining == member.balance


class ServerClock:
    """The server clock (store.clock) in a test: it shows `now` and moves only when the
    test sets it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, at: str) -> None:
        self.now = datetime.fromisoformat(at)
