"""Campaign participation, progress and codes over HTTP: the routes, their scopes and
their problem+json refusals."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from store.settings import Settings
from tests.api.conftest import make_key
from tests.store.campaign_program import publish_campaigns
from tests.store.helpers import order

BASE = "/v1/programs/retail"


@pytest.fixture
def client(db):
    publish_campaigns(db)
    settings = Settings(database_url=db.url, max_body_bytes=200_000, api_key_cache_seconds=0,
                        jobs_enabled=False)
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def keys(db):
    return {name: {"Authorization": f"Bearer {make_key(db, *scopes)}"}
            for name, scopes in (("checkout", ("evaluate", "commit")), ("admin", ("admin",)),
                                 ("viewer", ("viewer",)))}


def _bonus(result, campaign):
    return next((c["points"] for c in result["campaigns"] if c["id"] == campaign), 0)


def _problem(r, status, code):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code
    return r.json()


def test_join_list_progress_and_leave(client, keys):
    at = {"as_of": "2026-11-17T17:00:00Z"}
    listed = client.get(f"{BASE}/campaigns", params={"member_id": "M-1", **at},
                        headers=keys["viewer"])
    assert listed.status_code == 200, listed.text
    by_id = {c["id"]: c for c in listed.json()["campaigns"]}
    assert by_id["join-bonus"]["reasons"] == ["not_enrolled"]
    assert by_id["coupon-bonus"]["order_terms"] == {"code": True}
    assert "fashion-week" not in by_id  # September: not running in November
    anonymous = client.get(f"{BASE}/campaigns", params=at, headers=keys["viewer"]).json()
    assert "reasons" not in anonymous["campaigns"][0]
    body = {"member_id": "M-1", "at": "2026-11-17T16:00:00Z"}
    joined = client.post(f"{BASE}/campaigns/join-bonus/participants", json=body,
                         headers=keys["checkout"])
    assert joined.status_code == 201 and joined.json()["enrolled"] is True
    again = client.post(f"{BASE}/campaigns/join-bonus/participants", json=body,
                        headers=keys["checkout"])
    assert again.status_code == 200 and again.headers["Idempotent-Replay"] == "true"
    committed = client.post(f"{BASE}/orders", json=order("O-1", member="M-1"),
                            headers=keys["checkout"])
    assert _bonus(committed.json(), "join-bonus") == 100
    progress = client.get(f"{BASE}/members/M-1/campaigns",
                          params={"as_of": "2026-11-18T12:00:00Z"}, headers=keys["viewer"])
    assert progress.status_code == 200
    campaigns = {c["id"]: c for c in progress.json()["campaigns"]}
    assert campaigns["join-bonus"]["uses"] == 1 and campaigns["coupon-bonus"]["uses_left"] == 5
    challenge = campaigns["tier-up-challenge"]["challenge"]
    assert challenge["spend"] == "100.00" and challenge["target_spend"] == "500.00"
    assert challenge["remaining"] == "400.00" and challenge["window_days"] == 30
    _problem(client.delete(f"{BASE}/campaigns/join-bonus/participants/M-1",
                           params={"at": "2999-01-01T00:00:00Z"}, headers=keys["checkout"]),
             422, "instant_in_future")
    left = client.delete(f"{BASE}/campaigns/join-bonus/participants/M-1",
                         params={"at": "2026-11-19T00:00:00Z"}, headers=keys["checkout"])
    assert left.status_code == 200 and left.json()["enrolled"] is False


def test_refusals_are_problems(client, keys):
    body = {"member_id": "M-1"}
    _problem(client.post(f"{BASE}/campaigns/nope/participants", json=body,
                         headers=keys["checkout"]), 404, "unknown_campaign")
    _problem(client.post(f"{BASE}/campaigns/fashion-week/participants", json=body,
                         headers=keys["checkout"]), 422, "not_opt_in")
    _problem(client.post(f"{BASE}/campaigns/join-bonus/participants", json=body,
                         headers=keys["viewer"]), 403, "forbidden_scope")
    _problem(client.post(f"{BASE}/campaigns/coupon-bonus/codes", json={"count": 1},
                         headers=keys["checkout"]), 403, "forbidden_scope")
    _problem(client.post(f"{BASE}/campaigns/fashion-week/codes", json={"count": 1},
                         headers=keys["admin"]), 422, "codes_not_required")
    bad = _problem(client.post(f"{BASE}/evaluate", json={**order("Q"), "codes": ["x y"]},
                               headers=keys["checkout"]), 422, "invalid_request")
    assert "/codes" in str(bad)
    _problem(client.get(f"{BASE}/members/NOBODY/referral-code", headers=keys["checkout"]),
             404, "unknown_member")
    _problem(client.get(f"{BASE}/codes/ZZZZ-ZZZZ", headers=keys["admin"]), 404, "unknown_code")


def test_codes_generated_quoted_committed_and_reported(client, keys):
    made = client.post(f"{BASE}/campaigns/coupon-bonus/codes", json={"count": 3, "uses": 2},
                       headers=keys["admin"])
    assert made.status_code == 201, made.text
    code = made.json()["codes"][0]
    assert len(set(made.json()["codes"])) == 3
    quote = client.post(f"{BASE}/evaluate", json={**order("Q-1"), "codes": [code, "NOPE-1"]},
                        headers=keys["checkout"]).json()
    assert [c["status"] for c in quote["codes"]] == ["applied", "unknown"]
    for n in (1, 2):
        r = client.post(f"{BASE}/orders", json={**order(f"C-{n}", member=f"M-{n}"),
                                                "codes": [code]}, headers=keys["checkout"])
        assert r.status_code == 201 and _bonus(r.json(), "coupon-bonus") == 70
    status = client.get(f"{BASE}/codes/{code}", headers=keys["admin"]).json()
    assert status["used"] == 2 and status["left"] == 0
    third = client.post(f"{BASE}/evaluate", json={**order("Q-3", member="M-3"), "codes": [code]},
                        headers=keys["checkout"]).json()
    assert third["codes"][0]["status"] == "used_up" and _bonus(third, "coupon-bonus") == 0
    refund = client.post(f"{BASE}/orders/C-1/refunds", json={"refund_id": "R-1"},
                         headers=keys["checkout"])
    assert refund.status_code == 201, refund.text
    assert client.get(f"{BASE}/codes/{code}", headers=keys["admin"]).json()["left"] == 1


def test_referral_code_enrolment(client, keys):
    h = keys["checkout"]
    client.post(f"{BASE}/members", headers=h, json={
        "event_id": "E-1", "member_id": "REF", "enrolled_at": "2026-11-01T10:00:00Z"})
    code = client.get(f"{BASE}/members/REF/referral-code", headers=h).json()["code"]
    friend = client.post(f"{BASE}/members", headers=h, json={
        "event_id": "E-2", "member_id": "FRIEND", "enrolled_at": "2026-11-02T10:00:00Z",
        "referral_code": code})
    assert friend.status_code == 201 and friend.json()["referral"]["referrer_id"] == "REF"
    _problem(client.post(f"{BASE}/members", headers=h, json={
        "event_id": "E-3", "member_id": "X", "enrolled_at": "2026-11-02T10:00:00Z",
        "referral_code": "R-NOBODY00"}), 422, "unknown_referral_code")
    both = client.post(f"{BASE}/members", headers=h, json={
        "event_id": "E-4", "member_id": "Y", "enrolled_at": "2026-11-02T10:00:00Z",
        "referral_code": code, "referred_by": "REF"})
    _problem(both, 422, "invalid_request")
