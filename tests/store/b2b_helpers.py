"""Factories for the B2B portal's tests: the shipped b2b-portal program, companies,
account managers and their personal keys."""

from __future__ import annotations

from pathlib import Path

import store.b2b.companies as companies
import store.b2b.keys as manager_keys
import store.b2b.managers as managers
from engine import load_program
from store.b2b.companies import Company
from store.db.database import Database
from store.registry import versions as registry

B2B = Path(__file__).resolve().parents[2] / "rulesets" / "b2b-portal"
PROGRAM = "b2b-portal"
TIERS = frozenset({"standard", "business", "enterprise"})


def b2b_sources(edit: tuple[str, str] | None = None) -> dict[str, str]:
    sources = {p.name: p.read_text() for p in sorted(B2B.glob("*.yaml"))}
    if edit:
        assert edit[0] in sources["redemption.yaml"]
        sources["redemption.yaml"] = sources["redemption.yaml"].replace(*edit)
    return sources


def publish_b2b(db: Database, edit: tuple[str, str] | None = None) -> None:
    with db.writing() as session:
        registry.publish(session, load_program(b2b_sources(edit)), "tests", "b2b")
        registry.activate(session, PROGRAM, 1, "tests", at_declared=True)


def make_company(db: Database, company_id: str = "ACME", account: str | None = None,
                 tier: str = "enterprise", threshold: int | None = None) -> Company:
    with db.writing() as session:
        return companies.create(session, PROGRAM, company_id, f"{company_id} Inc.",
                                account or f"ACC-{company_id}", tier, TIERS, threshold,
                                actor="tests")


def make_manager(db: Database, company_id: str, manager_id: str, role: str) -> str:
    """A manager of the company with a personal key; returns the key."""
    with db.writing() as session:
        managers.create(session, PROGRAM, company_id, manager_id, manager_id.title(),
                        f"{manager_id.lower()}@example.com", role, actor="tests")
        key, _ = manager_keys.issue(session, PROGRAM, company_id, manager_id, actor="tests")
    return key
