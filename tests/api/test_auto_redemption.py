"""Automatic redemption on card-rewards (threshold 2,500, unit 2,500, cashback or
statement credit, at most once a month): settings validated against the ruleset, a
redemption recorded after a commit that reaches the threshold, limits enforced."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from engine import load_program
from store.registry import versions as registry
from tests.api.conftest import make_key

CARD = Path(__file__).resolve().parents[2] / "rulesets" / "card-rewards"
BASE = "/v1/programs/card-rewards"


def publish_card(db, edit=None):
    sources = {p.name: p.read_text() for p in sorted(CARD.glob("*.yaml"))}
    if edit:
        sources["redemption.yaml"] = sources["redemption.yaml"].replace(*edit)
        assert edit[1] in sources["redemption.yaml"]
    with db.writing() as session:
        registry.publish(session, load_program(sources), "tests", "card")
        registry.activate(session, "card-rewards", 1, "tests", at_declared=True)


@pytest.fixture
def key(db):
    return {"Authorization": f"Bearer {make_key(db, 'evaluate', 'commit', 'redeem')}"}


@pytest.fixture
def card(db):
    publish_card(db)


def commit(client, key, order_id, amount, placed_at="2026-11-17T12:00:00-06:00",
           member="CARD-1"):
    r = client.post(f"{BASE}/orders", headers=key, json={
        "member": {"id": member}, "order": {"id": order_id, "placed_at": placed_at, "lines": [
            {"sku": "X", "category": "home", "quantity": 1, "unit_price": amount}]}})
    assert r.status_code in (200, 201), r.text
    return r


def opt_in(client, key, member="CARD-1", **body):
    return client.put(f"{BASE}/members/{member}/auto-redemption", headers=key, json=body)


def ledger_sum(client, key, member="CARD-1"):
    entries = client.get(f"{BASE}/members/{member}/ledger", headers=key,
                         params={"limit": 500}).json()["entries"]
    return sum(e["points"] for e in entries), entries


def test_settings_default_to_the_ruleset_and_are_readable(client, key, card):
    r = opt_in(client, key, method="statement_credit")
    assert r.status_code == 200, r.text
    assert r.json() | {"updated_at": None} == {
        "program": "card-rewards", "member_id": "CARD-1", "enabled": True, "threshold": 2500,
        "unit": 2500, "method": "statement_credit", "frequency": {"count": 1, "per": "month"},
        "updated_at": None}
    got = client.get(f"{BASE}/members/CARD-1/auto-redemption", headers=key)
    assert got.status_code == 200 and got.json() == r.json()
    changed = opt_in(client, key, threshold=5000, unit=5000, method="cashback").json()
    assert (changed["threshold"], changed["unit"], changed["method"]) == (5000, 5000, "cashback")


@pytest.mark.parametrize("body, code, pointer", [
    ({"threshold": 1000}, "below_threshold", "/threshold"),
    ({"unit": 1000}, "invalid_unit", "/unit"),
    ({"unit": 5000}, "invalid_unit", "/unit"),
    ({"frequency": {"count": 2, "per": "month"}}, "exceeds_frequency_limit", "/frequency"),
    ({"frequency": {"count": 1, "per": "week"}}, "exceeds_frequency_limit", "/frequency"),
    ({"method": "travel"}, "invalid_request", "/method"),
])
def test_settings_outside_the_ruleset_are_refused(client, key, card, body, code, pointer):
    r = opt_in(client, key, **body)
    assert r.status_code == 422 and r.json()["code"] == code, r.text
    assert r.json()["pointer"] == pointer


def test_programs_without_automatic_redemption_refuse(client, key):
    r = client.put("/v1/programs/retail/members/CUST-1/auto-redemption", headers=key, json={})
    assert r.status_code == 422 and r.json()["code"] == "auto_redemption_not_offered"
    missing = client.get(f"{BASE}/members/NOBODY/auto-redemption", headers=key)
    assert missing.status_code == 404


def test_a_commit_reaching_the_threshold_redeems_once_a_month(client, key, card, server_clock):
    assert opt_in(client, key, method="cashback").status_code == 200
    below = commit(client, key, "O-1", "2000.00").json()["commit"]
    assert "auto_redemptions" not in below and below["balance"] == 2000
    crossed = commit(client, key, "O-2", "1000.00").json()["commit"]
    [auto] = crossed["auto_redemptions"]
    assert auto | {"id": None} == {"id": None, "points": 2500, "value": "25.00",
                                   "method": "cashback"}
    assert crossed["balance"] == 3000 - 2500
    # Same month, back above the threshold: the limit (1 a month) holds.
    again = commit(client, key, "O-3", "4000.00", placed_at="2026-11-28T12:00:00-06:00")
    assert "auto_redemptions" not in again.json()["commit"]
    assert again.json()["commit"]["balance"] == 4500
    # Next month: one more step, one unit only.
    december = commit(client, key, "O-4", "100.00", placed_at="2026-12-02T12:00:00-06:00")
    assert [a["points"] for a in december.json()["commit"]["auto_redemptions"]] == [2500]
    assert december.json()["commit"]["balance"] == 4600 - 2500
    # A retried commit replays the first result and redeems nothing more.
    replay = commit(client, key, "O-4", "100.00", placed_at="2026-12-02T12:00:00-06:00")
    assert replay.status_code == 200 and replay.json() == december.json()
    total, entries = ledger_sum(client, key)
    assert total == 2100
    autos = [e for e in entries if e["rule"] == "redemption.automatic"]
    assert [e["points"] for e in autos] == [-2500, -2500]
    shown = client.get(f"{BASE}/redemptions/{auto['id']}", headers=key).json()
    assert shown["kind"] == "automatic" and shown["status"] == "completed"
    assert shown["order_id"] == "O-2" and shown["history"][0]["method"] == "cashback"


def test_without_a_frequency_limit_it_redeems_unit_sized_steps(client, key, db):
    publish_card(db, ("    frequency: {count: 1, per: month}\n", "    # no frequency limit\n"))
    opt_in(client, key, method="statement_credit")
    result = commit(client, key, "O-1", "7600.00").json()["commit"]
    assert [a["points"] for a in result["auto_redemptions"]] == [2500, 2500, 2500]
    assert result["balance"] == 100 == ledger_sum(client, key)[0]


def test_paused_settings_and_other_members_do_nothing(client, key, card):
    opt_in(client, key, enabled=False)
    assert "auto_redemptions" not in commit(client, key, "O-1", "3000.00").json()["commit"]
    assert "auto_redemptions" not in commit(client, key, "O-2", "3000.00",
                                            member="CARD-2").json()["commit"]


def test_concurrent_commits_trigger_exactly_once(client, key, card):
    opt_in(client, key)

    def send(n):
        return commit(client, key, f"C-{n}", "1000.00").json()["commit"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(send, range(12)))
    autos = [a for r in results for a in r.get("auto_redemptions", [])]
    assert len(autos) == 1 and autos[0]["points"] == 2500
    total, _ = ledger_sum(client, key)
    member = client.get(f"{BASE}/members/CARD-1", headers=key,
                        params={"as_of": "2026-11-18T00:00:00Z"}).json()
    awarded = sum(r["points_awarded"] for r in results)  # the tier upgrade adds a bonus
    assert member["balance"] == total == awarded - 2500


def test_a_cancelled_automatic_redemption_gives_its_use_back(client, key, card):
    assert opt_in(client, key, method="cashback").status_code == 200
    [auto] = commit(client, key, "O-1", "3000.00").json()["commit"]["auto_redemptions"]
    cancelled = client.post(f"{BASE}/redemptions/{auto['id']}/cancel", headers=key,
                            json={"reason": "member asked for points instead"})
    assert cancelled.status_code == 201 and cancelled.json()["balance"] == 3000
    # Same month: the cancelled one no longer counts against the once-a-month limit.
    again = commit(client, key, "O-2", "10.00", placed_at="2026-11-20T12:00:00-06:00")
    assert [a["points"] for a in again.json()["commit"]["auto_redemptions"]] == [2500]
    # ... and the one that stands does.
    third = commit(client, key, "O-3", "3000.00", placed_at="2026-11-21T12:00:00-06:00")
    assert "auto_redemptions" not in third.json()["commit"]
    total, _ = ledger_sum(client, key)
    assert total == third.json()["commit"]["balance"] == 3010 - 2500 + 3000

