"""A changed retail version for the shadow tests: electronics earn 3x instead of 2x,
silver needs 1 order and 100.00 instead of 5 orders and 500.00, and a redemption needs
2000 points instead of 500; so points, tiers and redemption decisions all differ."""

from __future__ import annotations

from typing import Any

from engine import load_program
from store.db.database import Database
from store.registry import versions as registry
from tests.store.helpers import retail_version

EDITS = {
    "earning.yaml": [("electronics: 2.0", "electronics: 3.0")],
    "tiers.yaml": [('qualification: {min_spend: "500.00", min_orders: 5}',
                    'qualification: {min_spend: "100.00", min_orders: 1}')],
    "redemption.yaml": [("min_points: 500", "min_points: 2000")],
}


def changed_retail(version: int) -> dict[str, str]:
    sources = retail_version(version)
    for name, edits in EDITS.items():
        for old, new in edits:
            assert old in sources[name], (name, old)
            sources[name] = sources[name].replace(old, new)
    return sources


def publish_changed(db: Database, version: int = 2) -> Any:
    program = load_program(changed_retail(version))
    with db.writing() as session:
        registry.publish(session, program, "tests", f"v{version}: changed")
    return program
