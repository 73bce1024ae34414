"""`POST /v1/programs/{program}/members`: enrolment with attributes, a starting tier and
a referrer; idempotent on event_id; a refused bonus or referral does not undo it."""

from __future__ import annotations

from typing import Any

BASE = "/v1/programs/retail"
AT = "2026-03-02T10:00:00-05:00"


def enrolment(member: str = "M-1", event_id: str = "E-1", **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "member_id": member, "enrolled_at": AT, **extra}


def summary(client, key, member: str) -> dict[str, Any]:
    r = client.get(f"{BASE}/members/{member}", headers=key,
                   params={"as_of": "2026-03-03T00:00:00Z"})
    assert r.status_code == 200, r.text
    return r.json()


def test_enrolment_starts_the_book_with_tier_attributes_and_bonus(client, checkout_key):
    r = client.post(f"{BASE}/members", headers=checkout_key, json=enrolment(
        tier="silver", attributes={"birthday": "1990-03-22", "segments": ["vip"]}))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["account_creation"] == {"points": 100, "rule": "earning.activities.account_creation"}
    assert body["tier"] == "silver" and body["balance"] == 100 and body["referral"] is None
    member = summary(client, checkout_key, "M-1")
    assert member["tier"] == "silver" and member["tier_since"] == "2026-03-02T15:00:00+00:00"
    assert member["attributes"]["birthday"] == "1990-03-22"
    birthday = client.post(f"{BASE}/activities", headers=checkout_key, json={
        "event_id": "B-1", "member_id": "M-1", "activity": "birthday",
        "occurred_at": "2026-03-22T10:00:00-04:00"})
    assert birthday.status_code == 201, birthday.text  # the attribute from the enrolment


def test_retry_replays_a_different_body_conflicts_and_a_member_enrols_once(client, checkout_key):
    first = client.post(f"{BASE}/members", headers=checkout_key, json=enrolment())
    again = client.post(f"{BASE}/members", headers=checkout_key, json=enrolment())
    assert again.status_code == 200 and again.headers["Idempotent-Replay"] == "true"
    assert again.json() == first.json()
    clash = client.post(f"{BASE}/members", headers=checkout_key, json=enrolment(tier="gold"))
    assert clash.status_code == 409 and clash.json()["code"] == "enrolment_conflict"
    twice = client.post(f"{BASE}/members", headers=checkout_key, json=enrolment(event_id="E-2"))
    assert twice.status_code == 409 and twice.json()["code"] == "already_enrolled"
    assert summary(client, checkout_key, "M-1")["balance"] == 100


def test_unknown_tier_is_refused_and_changes_nothing(client, checkout_key):
    r = client.post(f"{BASE}/members", headers=checkout_key, json=enrolment(tier="diamond"))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "unknown_tier" and r.json()["pointer"] == "/tier"
    assert client.get(f"{BASE}/members/M-1", headers=checkout_key).status_code == 404


def test_referral_at_enrolment_pays_both_and_a_refused_one_keeps_the_enrolment(
        client, checkout_key):
    assert client.post(f"{BASE}/members", headers=checkout_key,
                       json=enrolment("A", "E-A")).status_code == 201
    friend = client.post(f"{BASE}/members", headers=checkout_key,
                         json=enrolment("F", "E-F", referred_by="A"))
    assert friend.status_code == 201, friend.text
    assert friend.json()["referral"] == {"referrer_id": "A", "points": 500, "friend_points": 200,
                                         "rule": "campaigns.refer-a-friend"}
    assert summary(client, checkout_key, "A")["balance"] == 600
    assert summary(client, checkout_key, "F")["balance"] == 300
    circle = client.post(f"{BASE}/members", headers=checkout_key,
                         json=enrolment("G", "E-G", referred_by="G"))
    assert circle.status_code == 201, circle.text
    assert circle.json()["referral"]["refused"]["code"] == "self_referral"
    assert summary(client, checkout_key, "G")["balance"] == 100


def test_future_enrolment_is_refused(client, checkout_key):
    r = client.post(f"{BASE}/members", headers=checkout_key,
                    json={**enrolment(), "enrolled_at": "2999-01-01T00:00:00Z"})
    assert r.status_code == 422 and r.json()["code"] == "instant_in_future"
