"""`tier_since` moves with the tier, down too: a downgrade is dated at the window
boundary where the tier's protection ended, whether an order or a read finds it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import load_program
from store.registry import versions as registry
from store.tables.core import MemberRow
from tests.api.conftest import make_key
from tests.store.helpers import order, retail_sources

BASE = "/v1/programs/retail"


def publish_retail_with(db, policy):
    sources = retail_sources()
    sources["tiers.yaml"] = sources["tiers.yaml"].replace("policy: end_of_next_window",
                                                          f"policy: {policy}")
    assert f"policy: {policy}" in sources["tiers.yaml"]
    sources["program.yaml"] = sources["program.yaml"].replace("version: 1", "version: 2")
    with db.writing() as session:
        registry.publish(session, load_program(sources), "tests", policy)
        registry.activate(session, "retail", 2, "tests", at_declared=True)


@pytest.fixture
def key(db):
    return {"Authorization": f"Bearer {make_key(db, 'evaluate', 'commit')}"}


def qualify_silver(client, key):
    """Five orders of 120.00, a month apart (no tier challenge completes), March to July
    2026: silver (500.00 and 5 orders) from the last one."""
    for month in range(3, 8):
        r = client.post(f"{BASE}/orders", headers=key, json=order(
            f"Q-{month}", amount="120.00", category="home",
            placed_at=f"2026-0{month}-02T12:00:00-04:00"))
        assert r.status_code == 201, r.text
    assert r.json()["commit"]["tier"] == "silver"
    return "2026-07-02T16:00:00+00:00"


def stored(db):
    with db.reading() as session:
        row = session.scalar(select(MemberRow).where(MemberRow.member_id == "CUST-1"))
        return row.tier, row.tier_since.isoformat()


@pytest.mark.parametrize("policy, fell", [
    ("end_of_window", "2027-01-01T05:00:00+00:00"),        # the end of 2026, New York time
    ("end_of_next_window", "2028-01-01T05:00:00+00:00"),   # the end of 2027
])
def test_a_downgrade_is_dated_at_the_window_boundary(client, db, key, server_clock, policy,
                                                     fell):
    publish_retail_with(db, policy)
    since = qualify_silver(client, key)
    assert stored(db) == ("silver", since)
    # Nothing in the next window(s); in 2028 a read sees the downgrade and writes nothing.
    read = client.get(f"{BASE}/members/CUST-1", headers=key,
                      params={"as_of": "2028-06-01T12:00:00Z"}).json()
    assert (read["tier"], read["tier_since"]) == ("bronze", fell)
    assert stored(db) == ("silver", since)
    # An order in 2028 records it, dated at the boundary, not at the order.
    r = client.post(f"{BASE}/orders", headers=key, json=order(
        "O-2028", amount="10.00", category="home", placed_at="2028-06-01T12:00:00Z"))
    assert r.status_code == 201 and r.json()["commit"]["tier"] == "bronze", r.text
    assert stored(db) == ("bronze", fell)
    after = client.get(f"{BASE}/members/CUST-1", headers=key,
                       params={"as_of": "2028-06-02T12:00:00Z"}).json()
    assert (after["tier"], after["tier_since"]) == ("bronze", fell)


def test_a_tier_still_protected_keeps_its_since(client, db, key, server_clock):
    publish_retail_with(db, "end_of_window")
    since = qualify_silver(client, key)
    read = client.get(f"{BASE}/members/CUST-1", headers=key,
                      params={"as_of": "2026-12-31T12:00:00Z"}).json()
    assert (read["tier"], read["tier_since"]) == ("silver", since)


@pytest.mark.parametrize("window, policy, until", [
    ("calendar_year", "end_of_window", "2027-01-01T00:00:00-05:00"),
    ("calendar_year", "end_of_next_window", "2028-01-01T00:00:00-05:00"),
    ("rolling_12_months", "end_of_window", "2027-07-02T12:00:00-04:00"),
    ("rolling_12_months", "end_of_next_window", "2028-07-02T12:00:00-04:00"),
    ("lifetime", "end_of_window", None),
    ("calendar_year", "never", None),
])
def test_where_a_tiers_protection_ends(variant, window, policy, until):
    from datetime import datetime

    from engine.evaluation.tiers import held_until

    def change(data):
        data["tiers"]["window"] = window
        data["tiers"]["downgrade"]["policy"] = policy

    since = datetime.fromisoformat("2026-07-02T12:00:00-04:00")
    ends = held_until(variant(change), since)
    assert (ends.isoformat() if ends else None) == until
