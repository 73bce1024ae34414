"""Abuse of the points economy over HTTP, through a real `loyalty serve` on loopback with
the shipped retail program (`refund_policy: clawback`): a refund after a redemption takes
the balance below zero and the member view, the ledger, the catalog, quotes and
redemptions all show it; refunds and redemptions out of time; referrals and birthdays.
Every refusal is a problem+json with its stable code and pointer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.server import Server, running_server
from tests.store.db_support import scratch_database
from tests.store.helpers import order

BASE = "/v1/programs/retail"
DAY = "2026-11-17T14:30:00-05:00"  # a Tuesday: no weekend campaign


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("economy")
    with scratch_database(tmp) as url, running_server(url, tmp, workers=1) as srv:
        yield srv


class Client:
    def __init__(self, server: Server) -> None:
        self.http = httpx.Client(base_url=server.url + BASE, timeout=30,
                                 headers={"Authorization": f"Bearer {server.key}"})

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(path, json=body)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params)


@pytest.fixture
def api(server):
    client = Client(server)
    yield client
    client.http.close()


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code, body
    return body


def test_a_refund_after_redemption_goes_below_zero_and_everything_shows_it(api):
    placed = api.post("/orders", order("HX-1", member="H-1", amount="775.00", placed_at=DAY))
    assert placed.status_code == 201, placed.text
    earned = placed.json()["earn"]["points"] + sum(a["points"] for a in placed.json()["activities"])
    awarded = placed.json()["commit"]["points_awarded"]  # with the tier challenge's upgrade
    assert earned == 1550 + 200
    spent = api.post("/redemptions", {"member_id": "H-1", "points": 1500,
                                      "as_of": "2026-11-17T15:00:00-05:00"})
    assert spent.status_code == 201, spent.text

    refunded = api.post("/orders/HX-1/refunds", {"refund_id": "R-1",
                                                 "refunded_at": "2026-11-18T10:00:00-05:00"})
    assert refunded.status_code == 201, refunded.text
    owed = earned - (awarded - 1500)
    assert refunded.json()["points_reversed"] == earned
    assert refunded.json()["balance"] == -owed < 0

    member = api.get("/members/H-1", as_of="2026-11-18T12:00:00Z").json()
    assert (member["balance"], member["debt"]) == (-owed, owed)
    entries = api.get("/members/H-1/ledger", limit=50).json()["entries"]
    # the debt is lot 0: what the refund's reverse entries drew beyond the member's lots
    debts = {e["id"]: sum(d["points"] for d in e["draws"] if d["lot"] == 0) for e in entries}
    debts = {k: v for k, v in debts.items() if v}
    assert {e["kind"] for e in entries if e["id"] in debts} == {"reverse"}
    assert sum(debts.values()) == owed and member["lots"] == []
    assert sum(e["points"] for e in entries) == -owed

    for body in ({"points": 500}, {"reward_id": "REWARD-002"},
                 {"points": 500, "order_id": "HX-9", "order_total": "200.00"}):
        refused = problem(api.post("/redemptions", {"member_id": "H-1",
                                                    "as_of": "2026-11-18T12:00:00Z", **body}),
                          409, "NEGATIVE_BALANCE")
        assert refused["errors"][0]["rule"] == "redemption.refund_policy"
    catalog = api.get("/catalog", member_id="H-1", as_of="2026-11-18T12:00:00Z").json()
    assert catalog["items"] == []
    quote = api.post("/evaluate", {**order("HX-2", member="H-1", amount="10.00",
                                           placed_at="2026-11-18T12:00:00-05:00"),
                                   "redeem": {"points": 500}}).json()
    assert [r["code"] for r in quote["redemption"]["reasons"]] == ["NEGATIVE_BALANCE"]

    # The next order's points repay the debt first.
    again = api.post("/orders", order("HX-3", member="H-1", amount="100.00",
                                      placed_at="2026-11-19T12:00:00-05:00")).json()
    assert again["commit"]["balance"] == -owed + again["commit"]["points_awarded"]


def test_refunds_in_time_and_with_lines(api):
    assert api.post("/orders", order("HT-1", member="H-2", placed_at=DAY)).status_code == 201
    early = problem(api.post("/orders/HT-1/refunds", {
        "refund_id": "R-1", "refunded_at": "2026-11-17T14:29:59-05:00"}), 422,
        "refund_before_order")
    assert early["pointer"] == "/refunded_at"
    empty = problem(api.post("/orders/HT-1/refunds", {"refund_id": "R-1", "lines": []}),
                    422, "invalid_request")
    assert empty["pointer"] == "/lines"
    whole = api.post("/orders/HT-1/refunds", {"refund_id": "R-1",
                                              "refunded_at": "2026-11-17T15:00:00-05:00"})
    assert whole.status_code == 201 and whole.json()["balance"] == 0  # first purchase too


def test_a_redemption_cannot_spend_points_earned_after_it(api):
    assert api.post("/orders", order("HR-1", member="H-3", amount="500.00",
                                     placed_at=DAY)).status_code == 201
    early = problem(api.post("/redemptions", {"member_id": "H-3", "points": 500,
                                              "as_of": "2026-11-17T14:00:00-05:00"}),
                    409, "INSUFFICIENT_POINTS")
    assert "available balance is 0" in early["errors"][0]["message"]
    assert api.post("/redemptions", {"member_id": "H-3", "points": 500,
                                     "as_of": DAY}).status_code == 201


def referral(api: Client, event_id: str, referrer: str, friend: str | None) -> httpx.Response:
    body = {"event_id": event_id, "member_id": referrer, "activity": "referral",
            "occurred_at": "2026-11-18T12:00:00Z"}
    if friend is not None:
        body["friend_id"] = friend
    return api.post("/activities", body)


def test_referrals_and_birthdays(api):
    first = referral(api, "HE-1", "H-A", "H-F")
    assert first.status_code == 201 and first.json()["friend"]["points"] == 200
    for event_id, referrer in (("HE-2", "H-B"), ("HE-3", "H-A")):
        assert problem(referral(api, event_id, referrer, "H-F"), 409,
                       "already_referred")["pointer"] == "/friend_id"
    problem(referral(api, "HE-4", "H-F", "H-A"), 409, "circular_referral")
    problem(referral(api, "HE-5", "H-A", None), 422, "friend_required")
    problem(referral(api, "HE-6", "H-A", "H-A"), 422, "self_referral")
    assert api.get("/members/H-F", as_of="2026-11-19T00:00:00Z").json()["balance"] == 200

    unknown = problem(api.post("/activities", {
        "event_id": "HE-7", "member_id": "H-A", "activity": "birthday",
        "occurred_at": "2026-11-18T12:00:00Z"}), 422, "birthday_unknown")
    assert unknown["pointer"] == "/attributes/birthday"
    given = api.post("/activities", {"event_id": "HE-8", "member_id": "H-A",
                                     "activity": "birthday", "occurred_at": "2026-11-18T12:00:00Z",
                                     "attributes": {"birthday": "1990-11-02"}})
    assert given.status_code == 201 and given.json()["points"] == 100
