"""Instants in requests are bounded: by the server clock (plus a configured skew) where a
request records something, by the calendar everywhere; points never expire ahead of the
server clock; reads may look ahead and write nothing."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from engine import load_program
from engine.calendar import expiry_at
from store.settings import Settings
from store.tables.core import LedgerEntryRow, MemberRow
from tests.api.conftest import make_key
from tests.store.helpers import RETAIL, order

BASE = "/v1/programs/retail"
NOW = "2027-06-01T12:00:00Z"                 # the server clock in these tests
EARNED = "2026-01-06T12:00:00-05:00"         # retail lots expire 24 months later
DUE = "2028-01-06T17:00:00Z"                 # … at this instant
FAR = "2099-01-01T00:00:00Z"


@pytest.fixture
def key(db):
    return {"Authorization": f"Bearer {make_key(db, 'evaluate', 'commit', 'redeem', 'admin')}"}


@pytest.fixture
def clock_now(server_clock):
    server_clock.set(NOW)
    return server_clock


def commit(client, key, order_id, placed_at, amount="100.00"):
    return client.post(f"{BASE}/orders", headers=key,
                       json=order(order_id, amount=amount, placed_at=placed_at))


def balance(client, key):
    return client.get(f"{BASE}/members/CUST-1", headers=key).json()["balance"]


def kinds(client, key):
    entries = client.get(f"{BASE}/members/CUST-1/ledger", headers=key,
                         params={"limit": 500}).json()["entries"]
    return sorted(e["kind"] for e in entries)


@pytest.fixture
def earned(client, key, clock_now):
    """CUST-1 earned an order in 2026 (lots due in 2028) and holds a redemption."""
    assert commit(client, key, "O-1", EARNED, amount="1000.00").status_code == 201
    spent = client.post(f"{BASE}/redemptions", headers=key, json={
        "member_id": "CUST-1", "points": 500, "order_total": "500.00", "as_of": NOW})
    assert spent.status_code == 201, spent.text
    return spent.json()["id"]


def _requests(redemption_id):
    """Every write route, with its instant at FAR: (path, body, pointer)."""
    return [
        (f"{BASE}/evaluate", order("Q-1", placed_at=FAR), "/order/placed_at"),
        (f"{BASE}/evaluate", {"member": {"id": "CUST-1"}, "as_of": FAR}, "/as_of"),
        (f"{BASE}/orders", order("O-2", placed_at=FAR), "/order/placed_at"),
        (f"{BASE}/orders/O-1/refunds", {"refund_id": "R-1", "refunded_at": FAR}, "/refunded_at"),
        (f"{BASE}/activities", {"event_id": "E-1", "member_id": "CUST-1",
                                "activity": "product_review", "occurred_at": FAR}, "/occurred_at"),
        (f"{BASE}/redemptions", {"member_id": "CUST-1", "points": 500, "order_total": "500.00",
                                 "as_of": FAR}, "/as_of"),
        (f"{BASE}/redemptions", {"member_id": "CUST-1", "points": 500, "order_total": "500.00",
                                 "order_id": "H-1", "as_of": FAR}, "/as_of"),
        (f"{BASE}/redemptions/{redemption_id}/cancel", {"cancelled_at": FAR}, "/cancelled_at"),
        (f"{BASE}/admin/expire", {"as_of": FAR}, "/as_of"),
    ]


@pytest.mark.parametrize("case", range(9), ids=[
    "quote placed_at", "quote as_of", "order placed_at", "refund refunded_at",
    "activity occurred_at", "redemption as_of", "hold as_of", "cancel cancelled_at",
    "expire as_of"])
def test_an_instant_far_ahead_of_the_server_clock_is_refused(client, key, earned, case):
    path, body, pointer = _requests(earned)[case]
    r = client.post(path, headers=key, json=body)
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["code"] == "instant_in_future" and problem["pointer"] == pointer
    assert problem["errors"][0]["pointer"] == pointer
    assert r.headers["content-type"].startswith("application/problem+json")


def test_refused_future_writes_leave_the_balance_untouched(client, key, earned):
    before, entries = balance(client, key), kinds(client, key)
    assert before > 0 and "expire" not in entries
    for path, body, _ in _requests(earned):
        assert client.post(path, headers=key, json=body).status_code == 422
    assert balance(client, key) == before and kinds(client, key) == entries
    status = client.get(f"{BASE}/redemptions/{earned}", headers=key).json()["status"]
    assert status == "completed"


def test_within_the_skew_nothing_expires_ahead_of_the_clock(client, key, server_clock):
    server_clock.set(NOW)
    first = commit(client, key, "O-1", EARNED).json()["commit"]["balance"]
    server_clock.set("2028-01-06T16:58:00Z")  # two minutes before the lots are due
    r = commit(client, key, "O-2", "2028-01-06T17:02:00Z")  # four minutes ahead: accepted
    assert r.status_code == 201, r.text
    second = r.json()["commit"]["points_awarded"]
    assert r.json()["commit"]["balance"] == first + second
    assert "expire" not in kinds(client, key)
    expire = client.post(f"{BASE}/admin/expire", headers=key,
                         json={"as_of": "2028-01-06T17:03:00Z"})
    assert expire.status_code == 200 and expire.json()["points_expired"] == 0
    assert expire.json()["as_of"] == "2028-01-06T16:58:00+00:00"  # capped at now
    server_clock.set("2028-01-06T17:01:00Z")  # now they are due
    r = commit(client, key, "O-3", "2028-01-06T17:01:00Z")
    assert r.json()["commit"]["balance"] == second + r.json()["commit"]["points_awarded"]
    assert kinds(client, key).count("expire") > 0


@pytest.mark.parametrize("held", [True, False], ids=["hold", "redemption"])
def test_within_the_skew_a_redemption_draws_on_points_the_clock_has_not_expired(
        client, key, server_clock, held):
    server_clock.set(NOW)
    earned = commit(client, key, "O-1", EARNED, amount="1000.00").json()["commit"]["balance"]
    server_clock.set("2028-01-06T16:58:00Z")  # two minutes before the lots are due
    r = client.post(f"{BASE}/redemptions", headers=key, json={
        "member_id": "CUST-1", "points": 500, "order_total": "500.00",
        **({"order_id": "H-1"} if held else {}),
        "as_of": "2028-01-06T17:02:00Z"})  # four minutes ahead: accepted, lots still open
    assert r.status_code == 201, r.text
    assert r.json()["status"] == ("held" if held else "completed")
    assert r.json()["balance"] == earned - 500 and "expire" not in kinds(client, key)
    assert r.json()["hold_expires_at"] == ("2028-01-06T17:32:00+00:00" if held else None)
    server_clock.set("2028-01-06T17:40:00Z")  # the lots are due, and the hold timed out
    expire = client.post(f"{BASE}/admin/expire", headers=key, json={})
    assert expire.status_code == 200, expire.text
    assert expire.json()["holds_released"] == (1 if held else 0)
    assert expire.json()["points_expired"] == (earned if held else earned - 500)
    assert balance(client, key) == 0


def app_with(db, **settings):
    return create_app(Settings(database_url=db.url, api_key_cache_seconds=0, jobs_enabled=False,
                               **settings), db)


def test_a_raised_skew_accepts_future_dated_data_but_expiry_follows_the_clock(app, db, key,
                                                                              clock_now):
    with TestClient(app_with(db, max_future_skew_seconds=100 * 365 * 86400),
                    raise_server_exceptions=False) as client:
        first = commit(client, key, "O-1", EARNED).json()["commit"]["balance"]
        r = commit(client, key, "O-2", FAR)  # a staging replay of future-dated data
        assert r.status_code == 201, r.text
        assert r.json()["commit"]["balance"] == first + r.json()["commit"]["points_awarded"]
        assert "expire" not in kinds(client, key)


@pytest.mark.parametrize("at", ["9998-01-01T00:00:00Z", "9999-12-31T23:59:59-05:00",
                                "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00+05:00",
                                "1899-12-31T23:59:59Z"])
def test_instants_outside_the_calendar_are_422_even_with_a_huge_skew(app, db, key, at):
    with TestClient(app_with(db, max_future_skew_seconds=1e15),
                    raise_server_exceptions=False) as client:
        assert commit(client, key, "O-1", "2026-11-17T12:00:00Z").status_code == 201
        sent = [
            ("post", f"{BASE}/orders", {"json": order("O-2", placed_at=at)}, "/order/placed_at"),
            ("post", f"{BASE}/evaluate", {"json": order("O-2", placed_at=at)}, "/order/placed_at"),
            ("post", f"{BASE}/activities", {"json": {
                "event_id": "E-1", "member_id": "CUST-1", "activity": "product_review",
                "occurred_at": at}}, "/occurred_at"),
            ("post", f"{BASE}/redemptions", {"json": {
                "member_id": "CUST-1", "points": 100, "order_total": "100.00", "as_of": at}},
             "/as_of"),
            ("post", f"{BASE}/orders/O-1/refunds", {"json": {
                "refund_id": "R-1", "refunded_at": at}}, "/refunded_at"),
            ("post", f"{BASE}/admin/expire", {"json": {"as_of": at}}, "/as_of"),
            ("post", "/v1/rulesets/retail/1/activate", {"json": {"effective_from": at}},
             "/effective_from"),
            ("get", f"{BASE}/members/CUST-1", {"params": {"as_of": at}}, None),
            ("get", f"{BASE}/catalog", {"params": {"as_of": at, "member_id": "CUST-1"}}, None),
            ("get", f"{BASE}/members/CUST-1/insights", {"params": {"from": at}}, "from"),
            ("get", f"{BASE}/members/CUST-1/insights", {"params": {"to": at}}, "to"),
            ("get", f"{BASE}/reports/performance", {"params": {"from": at}}, "from"),
            ("get", f"{BASE}/reports/performance", {"params": {"to": at}}, "to"),
        ]
        for method, path, kwargs, pointer in sent:
            r = getattr(client, method)(path, headers=key, **kwargs)
            assert r.status_code == 422, (path, r.text)
            assert r.json()["code"] == "invalid_request"
            error = r.json()["errors"][0]
            assert error.get("pointer", error.get("parameter")) == (pointer or "as_of")
            assert "1900" in error["message"]


def test_expiry_beyond_year_9999_means_never():
    retail = load_program(RETAIL)
    assert expiry_at(retail, datetime.fromisoformat("9997-12-31T23:59:59Z")) is not None
    assert expiry_at(retail, datetime.fromisoformat("9998-06-01T00:00:00Z")) is None


def table_state(db):
    with db.reading() as session:
        members = [(m.balance, m.tier, m.tier_since, m.updated_at)
                   for m in session.scalars(select(MemberRow).order_by(MemberRow.id))]
        return members, session.scalar(select(func.count(LedgerEntryRow.id)))


def test_reads_may_look_ahead_and_write_nothing(client, key, earned, db):
    before = table_state(db)
    ahead = client.get(f"{BASE}/members/CUST-1", headers=key, params={"as_of": "2028-01-01T00:00:00Z"})
    assert ahead.status_code == 200, ahead.text
    # What expires within 30 days of as_of is shown; nothing is expired by looking.
    assert ahead.json()["expiring"]["30_days"] == ahead.json()["balance"] > 0
    far = client.get(f"{BASE}/members/CUST-1", headers=key, params={"as_of": FAR})
    assert far.status_code == 200 and far.json()["tier"] == "bronze"
    catalog = client.get(f"{BASE}/catalog", headers=key, params={"as_of": FAR,
                                                                 "member_id": "CUST-1"})
    assert catalog.status_code == 200
    ledger = client.get(f"{BASE}/members/CUST-1/ledger", headers=key)
    redemption = client.get(f"{BASE}/redemptions/{earned}", headers=key)
    assert ledger.status_code == redemption.status_code == 200
    assert table_state(db) == before
