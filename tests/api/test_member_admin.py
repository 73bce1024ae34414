"""Member administration over HTTP (admin scope): manual adjustments as `adjust` entries,
audited with their reason; suspension (no earning, no redeeming, a reason code); closing
(the balance forfeited by an entry); a tier override with an end date; erasure of
personal attributes with the ledger intact; the ledger and redemptions filtered."""

from __future__ import annotations

import pytest

from tests.api.conftest import make_key
from tests.store.helpers import assert_ledger_exact, order

BASE = "/v1/programs/retail"
AS_OF = "2026-11-20T12:00:00Z"


@pytest.fixture
def key(db):
    return {"Authorization": f"Bearer {make_key(db, 'evaluate', 'commit', 'redeem')}"}


def earn(client, key, order_id, member="CUST-1", amount="1000.00", **kw):
    r = client.post(f"{BASE}/orders", json=order(order_id, member=member, amount=amount, **kw),
                    headers=key)
    assert r.status_code == 201, r.text
    return r.json()["commit"]["balance"]


def summary(client, key, member="CUST-1"):
    r = client.get(f"{BASE}/members/{member}", headers=key)
    assert r.status_code == 200, r.text
    return r.json()


def post(client, admin_key, path, member="CUST-1", **body):
    return client.post(f"{BASE}/members/{member}/{path}", json=body, headers=admin_key)


def test_adjustments_credit_and_debit_with_an_audited_reason(client, key, admin_key, db):
    balance = earn(client, key, "O-1")
    r = post(client, admin_key, "adjustments", points=250, reason="goodwill: late parcel")
    assert r.status_code == 201, r.text
    assert r.json()["balance"] == balance + 250
    ref = r.json()["adjustment"]["ref"]
    r = post(client, admin_key, "adjustments", points=-100, reason="duplicate credit")
    assert r.status_code == 201 and r.json()["balance"] == balance + 150
    entries = client.get(f"{BASE}/members/CUST-1/ledger", headers=key,
                         params={"kind": "adjust"}).json()["entries"]
    assert [(e["points"], e["rule"], e["source"]["type"]) for e in entries] == [
        (-100, "admin.adjust", "admin"), (250, "admin.adjust", "admin")]
    assert entries[1]["source"]["ref"] == ref and entries[1]["lot"] is not None
    audit = client.get("/v1/audit", params={"action": "member.adjust"},
                       headers=admin_key).json()["entries"]
    assert [(e["detail"]["points"], e["detail"]["reason"]) for e in audit] == [
        (-100, "duplicate credit"), (250, "goodwill: late parcel")]
    assert_ledger_exact(db)


def test_a_debit_beyond_the_balance_becomes_debt(client, key, admin_key, db):
    balance = earn(client, key, "O-1")
    r = post(client, admin_key, "adjustments", points=-(balance + 40), reason="fraud")
    assert r.status_code == 201, r.text
    s = summary(client, key)
    assert s["balance"] == -40 and s["debt"] == 40 and s["lots"] == []
    assert_ledger_exact(db, negative=True)


@pytest.mark.parametrize(("body", "status", "where"), [
    ({"points": 0, "reason": "x"}, 422, "/points"),
    ({"points": 10}, 422, "/reason"),
    ({"points": 10, "reason": ""}, 422, "/reason"),
    ({"points": 10**13, "reason": "x"}, 422, "/points"),
    ({"points": "ten", "reason": "x"}, 422, "/points"),
    ({"points": 10, "reason": "x", "extra": 1}, 422, "/extra"),
])
def test_bad_adjustments_are_refused_with_the_field(client, key, admin_key, body, status,
                                                    where):
    earn(client, key, "O-1")
    r = client.post(f"{BASE}/members/CUST-1/adjustments", json=body, headers=admin_key)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["pointer"] == where


def test_administration_needs_the_admin_scope_and_a_known_member(client, key, admin_key):
    earn(client, key, "O-1")
    r = post(client, key, "adjustments", points=5, reason="x")
    assert r.status_code == 403 and r.json()["code"] == "forbidden_scope"
    r = post(client, admin_key, "status", member="NOBODY", status="suspended", reason="x")
    assert r.status_code == 404 and r.json()["code"] == "unknown_member"


def test_a_suspended_member_neither_earns_nor_redeems_and_says_why(client, key, admin_key):
    balance = earn(client, key, "O-1")
    r = post(client, admin_key, "status", status="suspended", reason="chargeback review")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "suspended" and r.json()["before"] == "active"
    assert r.json()["balance"] == balance  # suspension keeps the points
    for path, body in ((f"{BASE}/orders", order("O-2")),
                       (f"{BASE}/evaluate", order("O-2")),
                       (f"{BASE}/redemptions", {"member_id": "CUST-1", "points": 500,
                                                "as_of": AS_OF})):
        r = client.post(path, json=body, headers=key)
        assert r.status_code == 409, (path, r.text)
        assert r.json()["code"] == "member_suspended"
        assert r.headers["content-type"].startswith("application/problem+json")
    assert summary(client, key)["status"] == "suspended"
    # a refund of an earlier order still takes its points back
    r = client.post(f"{BASE}/orders/O-1/refunds", headers=key,
                    json={"refund_id": "R-1", "refunded_at": AS_OF})
    assert r.status_code == 201, r.text
    r = post(client, admin_key, "status", status="active", reason="review passed")
    assert r.status_code == 200 and r.json()["before"] == "suspended"
    earn(client, key, "O-3")


def test_closing_forfeits_the_balance_and_is_final(client, key, admin_key, db):
    balance = earn(client, key, "O-1")
    held = client.post(f"{BASE}/redemptions", headers=key, json={
        "member_id": "CUST-1", "points": 600, "order_id": "O-9", "order_total": "500.00",
        "as_of": AS_OF})
    assert held.status_code == 201 and held.json()["status"] == "held", held.text
    r = post(client, admin_key, "status", status="closed", reason="member asked")
    assert r.status_code == 200, r.text
    assert r.json()["points_forfeited"] == balance and r.json()["balance"] == 0
    entries = client.get(f"{BASE}/members/CUST-1/ledger", headers=key).json()["entries"]
    assert (entries[0]["kind"], entries[0]["points"], entries[0]["rule"]) == (
        "adjust", -balance, "admin.close")
    assert client.get(f"{BASE}/redemptions/{held.json()['id']}",
                      headers=key).json()["status"] == "released"
    r = post(client, admin_key, "status", status="active", reason="oops")
    assert r.status_code == 409 and r.json()["code"] == "member_closed"
    r = post(client, admin_key, "adjustments", points=5, reason="x")
    assert r.status_code == 409 and r.json()["code"] == "member_closed"
    r = client.post(f"{BASE}/orders", json=order("O-2"), headers=key)
    assert r.status_code == 409 and r.json()["code"] == "member_closed"
    assert_ledger_exact(db)


def test_tier_override_holds_until_its_end(client, key, admin_key):
    earn(client, key, "O-1", amount="10.00")
    assert summary(client, key)["tier"] == "bronze"
    r = post(client, admin_key, "tier-override", tier="gold", until="2099-01-01T00:00:00Z",
             reason="status match")
    assert r.status_code == 200, r.text
    assert r.json()["tier"] == "gold" and r.json()["before"] == "bronze"
    s = summary(client, key)
    assert s["tier"] == "gold" and s["tier_override"] == {"tier": "gold",
                                                          "until": "2099-01-01T00:00:00+00:00"}
    later = client.get(f"{BASE}/members/CUST-1", headers=key,
                       params={"as_of": "2099-01-02T00:00:00Z"}).json()
    assert later["tier"] == "bronze"  # the override ended: qualification decides
    r = post(client, admin_key, "tier-override", tier=None, reason="lifted")
    assert r.status_code == 200 and r.json()["tier"] == "bronze"
    bad = post(client, admin_key, "tier-override", tier="diamond", reason="x")
    assert bad.status_code == 422 and bad.json()["pointer"] == "/tier"
    past = post(client, admin_key, "tier-override", tier="gold",
                until="2000-01-01T00:00:00Z", reason="x")
    assert past.status_code == 422 and past.json()["pointer"] == "/until"


def test_erasure_removes_attributes_and_keeps_the_ledger(client, key, admin_key, db):
    body = order("O-1")
    body["member"]["attributes"] = {"email": "ana@example.com", "birthday": "1990-04-01"}
    r = client.post(f"{BASE}/orders", json=body, headers=key)
    assert r.status_code == 201, r.text
    before = summary(client, key)
    assert before["attributes"]["email"] == "ana@example.com"
    ledger = client.get(f"{BASE}/members/CUST-1/ledger", headers=key).json()["entries"]
    r = post(client, admin_key, "erasure", reason="GDPR request 42")
    assert r.status_code == 200, r.text
    assert r.json()["attributes_removed"] == ["birthday", "email"]
    after = summary(client, key)
    assert after["attributes"] == {} and after["erased_at"]
    assert after["balance"] == before["balance"] and after["tier"] == before["tier"]
    assert client.get(f"{BASE}/members/CUST-1/ledger",
                      headers=key).json()["entries"] == ledger
    from sqlalchemy import select

    from store.tables.core import OrderRow
    with db.reading() as session:
        stored = session.scalar(select(OrderRow.request))
    assert "ana@example.com" not in str(stored)
    assert_ledger_exact(db)


def test_ledger_and_redemptions_filter_by_date_and_kind(client, key, admin_key):
    earn(client, key, "O-1", placed_at="2026-10-01T10:00:00-04:00")
    earn(client, key, "O-2", placed_at="2026-11-02T10:00:00-05:00")
    for n, at in enumerate(("2026-11-10T12:00:00Z", "2026-11-12T12:00:00Z")):
        r = client.post(f"{BASE}/redemptions", headers=key, json={
            "member_id": "CUST-1", "points": 500 + n, "order_total": "500.00", "as_of": at})
        assert r.status_code == 201, r.text
    window = client.get(f"{BASE}/members/CUST-1/ledger", headers=key, params={
        "from": "2026-11-01T00:00:00Z", "to": "2026-11-11T00:00:00Z"}).json()["entries"]
    kinds = [e["kind"] for e in window]
    assert kinds[0] == "redeem" and kinds.count("redeem") == 1 and "earn" in kinds
    assert all("2026-11-01" <= e["occurred_at"][:10] <= "2026-11-10" for e in window)
    r = client.get(f"{BASE}/members/CUST-1/redemptions", headers=key)
    assert r.status_code == 200, r.text
    # newest first; the oldest is O-1's first-electronics milestone gift (0 points)
    assert [(x["kind"], x["points"]) for x in r.json()["redemptions"]] == [
        ("points", 501), ("points", 500), ("gift", 0)]
    page = client.get(f"{BASE}/members/CUST-1/redemptions", headers=key,
                      params={"limit": 2}).json()
    rest = client.get(f"{BASE}/members/CUST-1/redemptions", headers=key,
                      params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [x["points"] for x in page["redemptions"] + rest["redemptions"]] == [501, 500, 0]
    assert rest["next_cursor"] is None
    gifts = client.get(f"{BASE}/members/CUST-1/redemptions", headers=key,
                       params={"kind": "gift"}).json()["redemptions"]
    assert [(x["reward_id"], x["order_id"]) for x in gifts] == [("REWARD-002", "O-1")]
    since = client.get(f"{BASE}/members/CUST-1/redemptions", headers=key,
                       params={"from": "2026-11-11T00:00:00Z"}).json()["redemptions"]
    assert [x["points"] for x in since] == [501]
    assert client.get(f"{BASE}/members/CUST-1/redemptions", headers=key,
                      params={"kind": "reward"}).json()["redemptions"] == []
    bad = client.get(f"{BASE}/members/CUST-1/ledger", headers=key, params={"kind": "gift"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["parameter"] == "kind"
    unknown = client.get(f"{BASE}/members/NOBODY/redemptions", headers=key)
    assert unknown.status_code == 404


def test_a_refund_after_closing_takes_nothing_more_and_gives_nothing_back(client, key,
                                                                           admin_key, db):
    """Closing forfeited the balance: a later refund must not take those points a second
    time (as debt), and points that come back (a cancelled redemption) are forfeited too."""
    earn(client, key, "O-1")
    balance = earn(client, key, "O-2")
    paid = client.post(f"{BASE}/redemptions", headers=key, json={
        "member_id": "CUST-1", "points": 500, "order_total": "500.00", "as_of": AS_OF})
    assert paid.status_code == 201 and paid.json()["status"] == "completed", paid.text
    r = post(client, admin_key, "status", status="closed", reason="member asked")
    assert r.status_code == 200, r.text
    forfeited = r.json()["points_forfeited"]
    assert forfeited == balance - 500
    r = client.post(f"{BASE}/orders/O-1/refunds", headers=key, json={"refund_id": "R-1"})
    assert r.status_code == 201, r.text
    assert r.json()["points_reversed"] == 0 and r.json()["balance"] == 0
    r = client.post(f"{BASE}/redemptions/{paid.json()['id']}/cancel", headers=key, json={})
    assert r.status_code in (200, 201), r.text
    s = summary(client, key)
    assert (s["balance"], s["debt"], s["status"]) == (0, 0, "closed")
    entries = client.get(f"{BASE}/members/CUST-1/ledger", headers=key).json()["entries"]
    assert sum(e["points"] for e in entries) == 0
    assert_ledger_exact(db)
