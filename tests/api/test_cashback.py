"""Cashback as money on card-rewards (1 % of eligible spend, groceries 3 %): a commit
writes a cashback entry, a refund reverses the refunded amount share of it (rounded down
to the cent), the member summary and `GET …/members/{id}/cashback` show the entries and
the totals, the `cashback.payout` job marks them paid, and the program's books add up."""

from __future__ import annotations

from decimal import Decimal

import pytest

import store.jobs.scheduler as jobs
from store.settings import Settings
from tests.api.conftest import make_key
from tests.api.test_auto_redemption import BASE, commit, publish_card


@pytest.fixture
def key(db):
    return {"Authorization": f"Bearer {make_key(db, 'evaluate', 'commit', 'redeem')}"}


@pytest.fixture
def card(db):
    publish_card(db)


def refund(client, key, order_id, refund_id, **body):
    r = client.post(f"{BASE}/orders/{order_id}/refunds", headers=key,
                    json={"refund_id": refund_id, "refunded_at": "2026-11-20T12:00:00-06:00",
                          **body})
    assert r.status_code == 201, r.text
    return r.json()


def cashback(client, key, member="CARD-1", **params):
    r = client.get(f"{BASE}/members/{member}/cashback", headers=key, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_commit_issues_refunds_reverse_and_payout_pays(client, key, admin_key, card, db):
    r = commit(client, key, "O-1", "1000.00")
    assert r.json()["earn"]["cashback"] == "10.00"
    page = cashback(client, key)
    assert [(e["kind"], e["amount"], e["source"]) for e in page["entries"]] == [
        ("issue", "10.00", {"type": "order", "ref": "O-1"})]
    assert page["totals"] == {"issued": "10.00", "reversed": "0.00", "paid": "0.00",
                              "balance": "10.00"}
    refund(client, key, "O-1", "R-1", amount="333.33")  # a third: 3.3333 → 3.33
    refund(client, key, "O-1", "R-2", amount="333.33")  # two thirds: 6.6666 → 6.66
    page = cashback(client, key)
    assert [(e["kind"], e["amount"], e["source"]["ref"]) for e in page["entries"]] == [
        ("reverse", "-3.33", "O-1/R-2"), ("reverse", "-3.33", "O-1/R-1"),
        ("issue", "10.00", "O-1")]
    summary = client.get(f"{BASE}/members/CARD-1", headers=key).json()
    assert summary["cashback"] == {"issued": "10.00", "reversed": "6.66", "paid": "0.00",
                                   "balance": "3.34"}
    job = {j.name: j for j in jobs.default_jobs(Settings())}["cashback.payout"]
    paid = jobs.run_once(db, [job])["cashback.payout"]
    assert paid["programs"] == {"card-rewards": {"members": 1, "amount": "3.34"}}
    again = jobs.run_once(db, [job])["cashback.payout"]
    assert again["programs"] == {}  # nothing is paid twice
    page = cashback(client, key)
    assert {e["payout_ref"] for e in page["entries"]} == {paid["payout_ref"]}
    assert all(e["paid_at"] for e in page["entries"])
    # the rest of the order refunded after the payout: owed back, set off against the next
    refund(client, key, "O-1", "R-3")
    totals = cashback(client, key)["totals"]
    assert totals == {"issued": "10.00", "reversed": "10.00", "paid": "3.34",
                      "balance": "-3.34"}
    assert jobs.run_once(db, [job])["cashback.payout"]["programs"] == {}
    books = client.get(f"{BASE}/admin/cashback", headers=admin_key)
    assert books.status_code == 200, books.text
    assert books.json() == {"program": "card-rewards", "issued": "10.00", "reversed": "10.00",
                            "paid": "3.34", "balance": "-3.34"}
    for method in ("GET", "POST"):  # a program nobody published has no books to show or pay
        path = "/v1/programs/no-such/admin/cashback" + ("/payout" if method == "POST" else "")
        missing = client.request(method, path, headers=admin_key)
        assert missing.status_code == 404 and missing.json()["code"] == "unknown_program"


def test_a_whole_refund_reverses_exactly_what_was_issued(client, key, card):
    commit(client, key, "O-1", "123.45")
    commit(client, key, "O-2", "77.77")
    refund(client, key, "O-1", "R-1", amount="0.01")
    refund(client, key, "O-1", "R-2")
    totals = cashback(client, key)["totals"]
    issued = Decimal("1.23") + Decimal("0.77")
    assert Decimal(totals["issued"]) == issued
    assert Decimal(totals["reversed"]) == Decimal("1.23")
    assert Decimal(totals["balance"]) == Decimal("0.77")


def test_pages_follow_the_cursor_and_filter(client, key, card):
    for n in range(5):
        commit(client, key, f"O-{n}", "100.00",
               placed_at=f"2026-11-1{n}T12:00:00-06:00")
    first = cashback(client, key, limit=2)
    assert len(first["entries"]) == 2 and first["next_cursor"]
    second = cashback(client, key, limit=2, cursor=first["next_cursor"])
    third = cashback(client, key, limit=2, cursor=second["next_cursor"])
    refs = [e["source"]["ref"] for p in (first, second, third) for e in p["entries"]]
    assert refs == ["O-4", "O-3", "O-2", "O-1", "O-0"] and third["next_cursor"] is None
    window = cashback(client, key, **{"from": "2026-11-11T00:00:00-06:00",
                                      "to": "2026-11-13T00:00:00-06:00"})
    assert [e["source"]["ref"] for e in window["entries"]] == ["O-2", "O-1"]
    assert cashback(client, key, kind="reverse")["entries"] == []


@pytest.mark.parametrize(("params", "parameter"), [
    ({"kind": "paid"}, "kind"),
    ({"cursor": "-1"}, "cursor"),
    ({"limit": "0"}, "limit"),
    ({"from": "2026-11-12T00:00:00Z", "to": "2026-11-11T00:00:00Z"}, "to"),
    ({"from": "yesterday"}, "from"),
])
def test_bad_queries_are_refused_with_the_parameter(client, key, card, params, parameter):
    commit(client, key, "O-1", "100.00")
    r = client.get(f"{BASE}/members/CARD-1/cashback", headers=key, params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["parameter"] == parameter


def test_unknown_member_is_404(client, key, card):
    r = client.get(f"{BASE}/members/NOBODY/cashback", headers=key)
    assert r.status_code == 404 and r.json()["code"] == "unknown_member"
