"""The report routes over HTTP: answers, scopes and problem+json refusals naming the
parameter (SQLite, or PostgreSQL with CI=true)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from store.settings import Settings
from tests.api.conftest import make_key
from tests.store.helpers import order, publish_retail

BASE = "/v1/programs/retail"
PERIOD = {"from": "2026-10-01T00:00:00-04:00", "to": "2026-12-01T00:00:00-05:00"}


@pytest.fixture
def client(db, server_clock):
    publish_retail(db, 1)
    settings = Settings(database_url=db.url, api_key_cache_seconds=0, jobs_enabled=False)
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as c:
        yield c


def auth(db, *scopes: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key(db, *scopes)}"}


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code
    return body


def test_insights_and_the_performance_report(client, db):
    checkout = auth(db, "evaluate", "commit")
    assert client.post(f"{BASE}/orders", headers=checkout, json=order(
        "O-1", member="M1", placed_at="2026-11-05T12:00:00-05:00")).status_code == 201
    insights = client.get(f"{BASE}/members/M1/insights", headers=checkout, params=PERIOD)
    assert insights.status_code == 200, insights.text
    doc = insights.json()
    assert doc["by_category"] == [{"category": "electronics", "spend": "100.00",
                                   "points": 200}]
    assert [m["month"] for m in doc["by_month"]] == ["2026-10", "2026-11"]
    report = client.get(f"{BASE}/reports/performance", headers=auth(db, "viewer"),
                        params=PERIOD)
    assert report.status_code == 200, report.text
    totals = report.json()["totals"]
    assert totals["points_issued"] == totals["points_outstanding"] == doc["balance"] == 400
    assert totals["books_balance"] is True
    # without a period: the twelve months before now (the server clock, 2029-01-01)
    default = client.get(f"{BASE}/reports/performance", headers=auth(db, "admin")).json()
    assert default["period"]["to"].startswith("2029-01-01")
    assert default["totals"]["points_outstanding_before"] == 400


def test_refusals_are_problems_naming_the_parameter(client, db):
    key = auth(db, "admin")
    client.post(f"{BASE}/orders", headers=auth(db, "commit"), json=order("O-1", member="M1"))
    body = problem(client.get(f"{BASE}/members/M1/insights", headers=key,
                              params={"from": PERIOD["to"], "to": PERIOD["from"]}),
                   422, "invalid_period")
    assert body["errors"][0]["parameter"] == "to"
    # a reversed period before any version took effect is still the period's fault
    body = problem(client.get(f"{BASE}/members/M1/insights", headers=key, params={
        "from": "2000-01-01T00:00:00Z", "to": "1999-01-01T00:00:00Z"}), 422, "invalid_period")
    assert body["errors"][0]["parameter"] == "to"
    body = problem(client.get(f"{BASE}/reports/performance", headers=key,
                              params={"from": "1990-01-01T00:00:00Z"}), 422, "period_too_long")
    assert body["errors"][0]["parameter"] == "to"
    body = problem(client.get(f"{BASE}/members/M1/insights", headers=key,
                              params={"from": "yesterday"}), 422, "invalid_request")
    assert body["errors"][0]["parameter"] == "from"
    problem(client.get(f"{BASE}/members/NOPE/insights", headers=key), 404, "unknown_member")
    problem(client.get("/v1/programs/nope/members/M1/insights", headers=key), 404,
            "unknown_program")
    problem(client.get("/v1/programs/nope/reports/performance", headers=key), 404,
            "unknown_program")
    # the program's figures are for the people who run it
    problem(client.get(f"{BASE}/reports/performance", headers=auth(db, "commit")), 403,
            "forbidden_scope")
    problem(client.get(f"{BASE}/reports/performance"), 401, "unauthenticated")
