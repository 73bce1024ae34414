"""An idempotent replay answers exactly the first answer, byte for byte — orders,
refunds, activities, redemptions, checkout holds, cancels, acknowledgements — whatever
happened in between; and money reads the same in every answer about a redemption."""

from __future__ import annotations

import pytest

from tests.api.conftest import make_key
from tests.store.helpers import order

BASE = "/v1/programs/retail"
AT = "2026-11-17T14:30:00-05:00"


@pytest.fixture
def key(db):
    return {"Authorization": f"Bearer {make_key(db, 'evaluate', 'commit', 'redeem', 'admin')}"}


def twice(client, key, path, body=None):
    first = client.post(path, headers=key, json=body)
    again = client.post(path, headers=key, json=body)
    assert first.status_code == 201, first.text
    assert again.status_code == 200 and again.headers["idempotent-replay"] == "true"
    return first, again


def same_bytes(first, again):
    assert again.content == first.content, (first.text, again.text)


@pytest.fixture
def earned(client, key):
    r = client.post(f"{BASE}/orders", headers=key, json=order("O-1", amount="1000.00",
                                                              placed_at=AT))
    assert r.status_code == 201, r.text


def test_orders_refunds_and_activities_replay_their_first_answer(client, key):
    same_bytes(*twice(client, key, f"{BASE}/orders", order("O-1", amount="1000.00",
                                                           placed_at=AT)))
    refund = {"refund_id": "R-1", "refunded_at": AT, "lines": [{"index": 0, "quantity": 1}]}
    same_bytes(*twice(client, key, f"{BASE}/orders/O-1/refunds", refund))
    review = {"event_id": "E-1", "member_id": "CUST-1", "activity": "product_review",
              "occurred_at": AT}
    same_bytes(*twice(client, key, f"{BASE}/activities", review))


@pytest.mark.parametrize("body", [
    {"points": 500, "order_total": "80.1"},
    {"points": 500, "order_total": "80.10", "order_id": "H-1"},  # a checkout hold
    {"reward_id": "REWARD-101"},                                  # a physical reward
    {"reward_id": "REWARD-001"},                                  # a virtual one, $5.00
], ids=["points", "hold", "physical reward", "virtual reward"])
def test_redemptions_and_cancels_replay_their_first_answer(client, key, earned, body):
    body = {"member_id": "CUST-1", "as_of": AT, "idempotency_key": "K-1", **body}
    first, again = twice(client, key, f"{BASE}/redemptions", body)
    same_bytes(first, again)
    rid = first.json()["id"]
    shown = client.get(f"{BASE}/redemptions/{rid}", headers=key).json()
    assert (shown["value"], shown["order_total"]) == (first.json()["value"],
                                                      first.json()["order_total"])
    cancelled, cancelled_again = twice(client, key, f"{BASE}/redemptions/{rid}/cancel",
                                       {"reason": "changed mind", "cancelled_at": AT})
    same_bytes(cancelled, cancelled_again)
    assert (cancelled.json()["value"], cancelled.json()["order_total"]) == \
        (first.json()["value"], first.json()["order_total"])
    # Later, the redemption's state moved on (cancelled); its replay is still the first.
    same_bytes(first, client.post(f"{BASE}/redemptions", headers=key, json=body))


def test_money_is_shown_in_one_format(client, key, earned):
    r = client.post(f"{BASE}/redemptions", headers=key, json={
        "member_id": "CUST-1", "as_of": AT, "points": 500, "order_total": "80.1"})
    assert r.status_code == 201, r.text
    assert (r.json()["value"], r.json()["order_total"]) == ("5.00", "80.10")
    shown = client.get(f"{BASE}/redemptions/{r.json()['id']}", headers=key).json()
    assert (shown["value"], shown["order_total"]) == ("5.00", "80.10")


def test_an_acknowledgement_replays_its_first_answer(client, key, earned):
    mug = client.post(f"{BASE}/redemptions", headers=key, json={
        "member_id": "CUST-1", "as_of": AT, "reward_id": "REWARD-101"}).json()["id"]
    same_bytes(*twice(client, key, f"{BASE}/fulfilment/{mug}/acknowledge",
                      {"by": "ops", "note": "box 1"}))


def _clashes():
    """Every idempotent write: (path, first body, another body under its key, code, pointer)."""
    review = {"event_id": "E-1", "member_id": "CUST-1", "activity": "product_review",
              "occurred_at": AT}
    enrolment = {"event_id": "J-1", "member_id": "CUST-2", "enrolled_at": AT}
    spend = {"member_id": "CUST-1", "as_of": AT, "idempotency_key": "K-1", "points": 500,
             "order_total": "80.00"}
    return [
        (f"{BASE}/orders", order("O-2", placed_at=AT), order("O-2", amount="5.00", placed_at=AT),
         "order_conflict", "/order/id"),
        (f"{BASE}/orders/O-1/refunds", {"refund_id": "R-1", "refunded_at": AT},
         {"refund_id": "R-1", "refunded_at": AT, "amount": "1.00"}, "refund_conflict",
         "/refund_id"),
        (f"{BASE}/activities", review, {**review, "activity": "social_share"},
         "activity_conflict", "/event_id"),
        (f"{BASE}/members", enrolment, {**enrolment, "tier": "gold"}, "enrolment_conflict",
         "/event_id"),
        (f"{BASE}/redemptions", spend, {**spend, "points": 600}, "redemption_conflict",
         "/idempotency_key"),
    ]


@pytest.mark.parametrize("case", range(5), ids=["order", "refund", "activity", "enrolment",
                                                "redemption"])
def test_a_used_key_with_another_body_is_409_at_the_key_and_changes_nothing(client, key,
                                                                             earned, case):
    path, body, other, code, pointer = _clashes()[case]
    first = client.post(path, headers=key, json=body)
    assert first.status_code == 201, first.text
    ledger = client.get(f"{BASE}/members/CUST-1/ledger", headers=key).json()["entries"]
    clash = client.post(path, headers=key, json=other)
    assert clash.status_code == 409, clash.text
    assert clash.headers["content-type"].startswith("application/problem+json")
    assert (clash.json()["code"], clash.json()["pointer"]) == (code, pointer)
    assert client.get(f"{BASE}/members/CUST-1/ledger", headers=key).json()["entries"] == ledger
    same_bytes(first, client.post(path, headers=key, json=body))
