"""The retail ruleset with two more campaigns: `join-bonus` (opt-in, 100 points an order)
and `coupon-bonus` (needs a coupon code, 70 points an order)."""

from __future__ import annotations

from typing import Any

from engine import load_program
from store.db.database import Database
from store.registry import versions as registry
from tests.store.helpers import retail_sources

EXTRA = """
  - id: join-bonus
    name: Join Bonus
    type: fixed_bonus
    points: 100
    participation: opt_in

  - id: coupon-bonus
    name: Coupon Bonus
    type: fixed_bonus
    points: 70
    requires_code: true
    limit_per_member: 5
"""


def campaign_sources() -> dict[str, str]:
    sources = retail_sources()
    sources["campaigns.yaml"] = sources["campaigns.yaml"].rstrip("\n") + "\n" + EXTRA
    return sources


def publish_campaigns(db: Database) -> Any:
    program = load_program(campaign_sources())
    with db.writing() as session:
        registry.publish(session, program, "tests", "v1")
        registry.activate(session, "retail", 1, "tests", at_declared=True)
    return program
