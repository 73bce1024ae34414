"""The shipped b2b-portal program keeps company balances in an external loyalty points
API (`redemption.account: external`). Here that API is a real server on loopback
(tests/points_api.py) that can fail, answer late or drop connections; the platform runs
against it through HTTP. What must hold: the account is debited exactly once per
redemption, credited back exactly once when a redemption is undone (cancel, released
hold, failed recording, unknown outcome), and earned points reach it exactly once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from engine import load_program
from store.external import accounts as external_accounts
from store.external import transfers as external_transfers
from store.registry import versions as registry
from tests.api.conftest import make_key
from tests.loopback import LoopbackServer
from tests.points_api import PointsApi

B2B = Path(__file__).resolve().parents[2] / "rulesets" / "b2b-portal"
BASE = "/v1/programs/b2b-portal"
AT = "2026-06-02T15:00:00Z"


def publish_b2b(db, edit=None):
    sources = {p.name: p.read_text() for p in sorted(B2B.glob("*.yaml"))}
    if edit:
        assert edit[0] in sources["redemption.yaml"]
        sources["redemption.yaml"] = sources["redemption.yaml"].replace(*edit)
    with db.writing() as session:
        registry.publish(session, load_program(sources), "tests", "b2b")
        registry.activate(session, "b2b-portal", 1, "tests", at_declared=True)


@pytest.fixture
def points(monkeypatch):
    api = PointsApi({"ACME": 100_000, "POOR": 10})
    with LoopbackServer(api) as server:
        server.points = api
        monkeypatch.setenv("LOYALTY_POINTS_API_URLS", f'{{"loyalty-points-api": "{server.url}"}}')
        monkeypatch.setenv("LOYALTY_POINTS_API_TIMEOUT_SECONDS", "0.5")
        monkeypatch.setenv("LOYALTY_POINTS_API_BACKOFF_SECONDS", "0.01")
        monkeypatch.setenv("LOYALTY_POINTS_API_BREAKER_THRESHOLD", "50")
        monkeypatch.setenv("LOYALTY_POINTS_API_RECONCILE_AFTER_SECONDS", "0")
        monkeypatch.setenv("LOYALTY_POINTS_API_TRANSFER_BACKOFF_SECONDS", "0")
        external_accounts.reset_clients()
        yield server
        external_accounts.reset_clients()


@pytest.fixture
def key(db):
    return {"Authorization": f"Bearer {make_key(db, 'evaluate', 'commit', 'redeem')}"}


@pytest.fixture
def b2b(db, points):
    publish_b2b(db)


def enrol(client, key, member, account, order_id=None, amount="10.00", at=AT):
    """Companies come in with an order that carries their points account id."""
    r = client.post(f"{BASE}/orders", headers=key, json={
        "member": {"id": member, "attributes": {"loyalty_account_id": account}},
        "order": {"id": order_id or f"ENROL-{member}", "placed_at": at, "lines": [
            {"sku": "PAPER", "category": "supplies", "quantity": 1, "unit_price": amount}]}})
    assert r.status_code == 201, r.text
    return r.json()


def redeem(client, key, member="CO-1", **body):
    body.setdefault("reward_id", "PHYS-LAPTOP-BAG")
    return client.post(f"{BASE}/redemptions", headers=key,
                       json={"member_id": member, "as_of": AT, **body})


def debits(points):
    return [entry for entry in points.points.log if entry[0] == "debit"]


def test_a_reward_debits_the_external_account_once(client, key, b2b, points, db):
    enrol(client, key, "CO-1", "ACME")
    r = redeem(client, key, idempotency_key="R-1")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["account"] == {"type": "external", "service": "loyalty-points-api",
                               "account": "ACME"}
    assert body["points"] == 4500 and body["lots"] == [] and body["balance"] is None
    assert body["fulfilment"]["route"] == "manual"
    assert points.points.balances["ACME"] == 100_000 - 4500
    # A retry with the same key answers the first result and debits nothing more.
    again = redeem(client, key, idempotency_key="R-1")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert debits(points) == [("debit", "redemption:R-1", 4500)]
    # The member summary reads the account; the journal only knows what this platform did.
    summary = client.get(f"{BASE}/members/CO-1", headers=key).json()
    assert summary["balance"] == 95_500
    assert summary["account"]["type"] == "external" and summary["account"]["account"] == "ACME"


def test_quotes_use_the_external_balance(client, key, b2b, points):
    enrol(client, key, "CO-1", "ACME")
    enrol(client, key, "CO-2", "POOR")
    quote = {"order": {"id": "Q", "placed_at": AT, "lines": [
        {"sku": "PAPER", "category": "supplies", "quantity": 1, "unit_price": "100.00"}]},
        "redeem": {"reward_id": "PHYS-LAPTOP-BAG"}}
    rich = client.post(f"{BASE}/evaluate", headers=key, json={"member": {"id": "CO-1"}, **quote})
    assert rich.json()["member"]["points_balance"] == 100_000
    assert rich.json()["redemption"]["eligible"] is True
    poor = client.post(f"{BASE}/evaluate", headers=key, json={"member": {"id": "CO-2"}, **quote})
    assert [r["code"] for r in poor.json()["redemption"]["reasons"]] == ["INSUFFICIENT_POINTS"]
    # The points API is down: the quote still answers, and says nothing can be redeemed.
    points.fail(times=10)
    down = client.post(f"{BASE}/evaluate", headers=key, json={"member": {"id": "CO-1"}, **quote})
    assert down.status_code == 200
    assert down.json()["member"]["points_balance"] is None
    assert down.json()["redemption"]["eligible"] is False
    assert down.json()["redemption"]["reasons"][0]["code"] == "BALANCE_UNAVAILABLE"


def test_refusals_send_no_debit(client, key, b2b, points):
    enrol(client, key, "CO-2", "POOR")
    r = redeem(client, key, member="CO-2")
    assert r.status_code == 409 and r.json()["code"] == "INSUFFICIENT_POINTS"
    r = redeem(client, key, member="CO-2", reward_id="PHYS-STANDING-DESKS")
    assert r.status_code == 422 and r.json()["code"] == "TIER_RESTRICTED"
    assert debits(points) == []
    missing = client.post(f"{BASE}/orders", headers=key, json={
        "member": {"id": "CO-9"}, "order": {"id": "O-9", "placed_at": AT, "lines": [
            {"sku": "P", "category": "supplies", "quantity": 1, "unit_price": "1.00"}]}})
    assert missing.status_code == 201
    no_account = redeem(client, key, member="CO-9")
    assert no_account.status_code == 422 and no_account.json()["code"] == "external_account_missing"


def test_racing_redemptions_never_overdraw_the_account(client, key, b2b, points):
    points.points.balances["ACME"] = 10_000  # two laptop bags, not three
    enrol(client, key, "CO-1", "ACME")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: redeem(client, key, idempotency_key=f"R-{i}"),
                                range(8)))
    made = [a for a in answers if a.status_code == 201]
    assert len(made) == 2, [a.json() for a in answers]
    assert {a.status_code for a in answers} <= {201, 409, 503}
    assert points.points.balances["ACME"] == 1_000
    assert len(debits(points)) == 2


def test_recording_fails_after_the_debit_so_the_account_is_credited_back(client, key, db, points):
    # One desk set in stock; two enterprise companies race for it with slow debits, so
    # both pass the first check and both are debited; one recording finds no stock left.
    publish_b2b(db, ("      stock: 5\n", "      stock: 1\n"))
    points.points.balances["GLOBEX"] = 1_000_000
    for member, account in (("CO-1", "ACME"), ("CO-3", "GLOBEX")):
        enrol(client, key, member, account)
    with db.writing() as session:  # both enterprise accounts (as an enrolment grants it)
        from engine.lifecycle import from_json, to_json
        from store.tables.core import MemberRow
        for row in session.query(MemberRow).filter(MemberRow.program == "b2b-portal"):
            book = from_json(row.book)
            book.tier = book.best_tier = row.tier = "enterprise"
            for window in book.windows.values():
                window.granted = "enterprise"
            row.book = to_json(book)
    points.points.balances["ACME"] = 400_000
    points.delay(0.3, times=2)
    start = threading.Barrier(2)

    def go(member):
        start.wait()
        return redeem(client, key, member=member, reward_id="PHYS-STANDING-DESKS")
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(go, ["CO-1", "CO-3"]))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 409], [a.json() for a in answers]
    refused = next(a for a in answers if a.status_code == 409).json()
    assert refused["code"] == "OUT_OF_STOCK"
    log = points.points.log
    assert len([e for e in log if e[0] == "debit"]) == 2
    [credit] = [e for e in log if e[0] == "credit"]
    assert credit[1].endswith(":reverse") and credit[2] == 350_000
    assert points.points.balances["ACME"] + points.points.balances["GLOBEX"] == \
        400_000 + 1_000_000 - 350_000


def test_an_unknown_debit_outcome_is_reconciled_once(client, key, b2b, points, db):
    enrol(client, key, "CO-1", "ACME")
    # Every debit is applied, but its answer comes after the client gave up.
    original = points.handle

    def answers_too_late(request):
        answer = original(request)
        if request.path == "/debit":
            time.sleep(0.7)
        return answer
    points.handle = answers_too_late
    r = redeem(client, key, idempotency_key="R-LOST")
    points.handle = original
    assert r.status_code == 503 and r.json()["code"] == "external_points_unavailable"
    assert points.points.balances["ACME"] == 95_500  # applied once, though never answered
    summary = external_transfers.run_job(db)
    assert summary["reconciled"] == {"compensated": 1}
    assert points.points.balances["ACME"] == 100_000 + 10  # + the enrolling order's points
    assert external_transfers.run_job(db)["reconciled"] == {}
    kinds = [(k, key_) for k, key_, _ in points.points.log if key_.startswith("redemption:")]
    assert kinds == [("debit", "redemption:R-LOST"), ("credit", "redemption:R-LOST:reverse")]
    assert client.get(f"{BASE}/members/CO-1/ledger", headers=key).json()["entries"][0][
        "kind"] == "earn"  # no redemption was recorded


def test_cancel_and_released_holds_credit_the_account_once(client, key, b2b, points, db):
    enrol(client, key, "CO-1", "ACME")
    made = redeem(client, key).json()
    hold = redeem(client, key, reward_id=None, points=2000, order_id="PO-7",
                  order_total="5000.00", hold_minutes=5).json()
    assert hold["status"] == "held"
    assert points.points.balances["ACME"] == 100_000 - 4500 - 2000
    cancel = client.post(f"{BASE}/redemptions/{made['id']}/cancel", headers=key, json={})
    assert cancel.status_code == 201 and cancel.json()["status"] == "cancelled"
    client.post(f"{BASE}/redemptions/{made['id']}/cancel", headers=key, json={})  # again
    # The hold runs out; the next order of the company releases it.
    enrol(client, key, "CO-1", "ACME", order_id="PO-8", at="2026-06-02T15:06:00Z")
    assert client.get(f"{BASE}/redemptions/{hold['id']}", headers=key).json()["status"] == \
        "released"
    # The first transfer fails on every one of the client's attempts: the next run resends it.
    points.fail(times=external_accounts.settings().attempts)
    first = external_transfers.run_job(db)
    second = external_transfers.run_job(db)
    assert first["sent"] + second["sent"] == 4 and first["retrying"] == 1
    assert external_transfers.run_job(db) | {"reconciled": {}} == {
        "queued": 0, "sent": 0, "rejected": 0, "retrying": 0, "reconciled": {}}
    credits = sorted((k, p) for kind, k, p in points.points.log if kind == "credit")
    assert {k: p for k, p in credits if k.startswith("redemption:")} == {
        f"redemption:{hold['id']}:restore": 2000, f"redemption:{made['id']}:restore": 4500}
    # ... and the two orders' points (10 each) reached the account once each.
    assert [p for k, p in credits if k.startswith("ledger:")] == [10, 10]
    assert points.points.balances["ACME"] == 100_000 + 20
    summary = client.get(f"{BASE}/members/CO-1", headers=key).json()
    assert summary["balance"] == 100_020 and summary["account"]["points_owed"] == 0
    assert summary["account"]["journal_balance"] == 20


def test_refunds_debit_what_the_order_earned(client, key, b2b, points, db):
    enrol(client, key, "CO-1", "ACME", order_id="PO-1", amount="1000.00")
    external_transfers.run_job(db)
    assert points.points.balances["ACME"] == 101_000
    r = client.post(f"{BASE}/orders/PO-1/refunds", headers=key, json={
        "refund_id": "RF-1", "refunded_at": AT, "lines": [{"sku": "PAPER", "quantity": 1}]})
    assert r.status_code == 201, r.text
    assert external_transfers.run_job(db)["sent"] == 1
    assert points.points.balances["ACME"] == 100_000
    assert [kind for kind, _, _ in points.points.log] == ["credit", "debit"]


def test_without_a_configured_url_redemptions_are_503(client, key, b2b, monkeypatch):
    monkeypatch.setenv("LOYALTY_POINTS_API_URLS", "{}")
    external_accounts.reset_clients()
    enrol(client, key, "CO-1", "ACME")
    r = redeem(client, key)
    assert r.status_code == 503 and r.json()["code"] == "external_points_not_configured"


# (An attribute holding a control character never gets this far: the input contract
# refuses it on the order, tests/api/test_strings.py.)
@pytest.mark.parametrize("account", ["A" * 129, "B" * 200], ids=["129", "200"])
def test_an_account_attribute_that_is_no_account_id_is_refused_not_stored(client, key, b2b,
                                                                          points, db, account):
    """The account id comes from a member attribute, not through the API's id type: one
    the store cannot hold is refused where it is used (422, or a rejected transfer)."""
    admin = {"Authorization": f"Bearer {make_key(db, 'admin')}"}
    enrol(client, key, "CO-9", account)  # the order is recorded; its points are owed
    r = redeem(client, key, member="CO-9")
    assert r.status_code == 422 and r.json()["code"] == "external_account_invalid", r.text
    ran = client.post(f"{BASE}/admin/external-points/run", headers=admin)
    assert ran.status_code == 200, ran.text
    [transfer] = client.get(f"{BASE}/admin/external-transfers", headers=admin).json()["transfers"]
    assert transfer["status"] == "rejected" and "not an account id" in transfer["last_error"]
    summary = client.get(f"{BASE}/members/CO-9", headers=key).json()
    assert summary["balance"] is None and "external_account_invalid" in summary["account"]["unavailable"]


def test_operators_see_and_resend_rejected_transfers(client, key, b2b, points, db):
    admin = {"Authorization": f"Bearer {make_key(db, 'admin')}"}
    enrol(client, key, "CO-1", "GONE")  # the points API does not know this account
    ran = client.post(f"{BASE}/admin/external-points/run", headers=admin)
    assert ran.status_code == 200 and ran.json()["rejected"] == 1
    owed = client.get(f"{BASE}/admin/external-transfers", headers=admin).json()
    [transfer] = owed["transfers"]
    assert transfer["status"] == "rejected" and "404" in transfer["last_error"]
    assert owed["points_owed"] == 0  # a rejected transfer waits for an operator
    assert client.post(f"{BASE}/admin/external-transfers/{transfer['id']}/retry",
                       headers=key).status_code == 403
    points.points.balances["GONE"] = 0  # the account now exists
    again = client.post(f"{BASE}/admin/external-transfers/{transfer['id']}/retry", headers=admin)
    assert again.status_code == 200
    assert client.post(f"{BASE}/admin/external-points/run", headers=admin).json()["sent"] == 1
    assert points.points.balances["GONE"] == 10
    twice = client.post(f"{BASE}/admin/external-transfers/{transfer['id']}/retry", headers=admin)
    assert twice.status_code == 409 and twice.json()["code"] == "transfer_not_rejected"


def test_the_servers_job_sends_earned_points_by_itself(db, points, key):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from store.settings import Settings

    publish_b2b(db)
    settings = Settings(database_url=db.url, api_key_cache_seconds=0, jobs_enabled=True,
                        fulfilment_dispatch_seconds=0, expiry_job_seconds=0, webhook_dispatch_seconds=0,
                        external_points_job_seconds=0.1)
    with TestClient(create_app(settings, db)) as client:
        enrol(client, key, "CO-1", "ACME", amount="250.00")
        deadline = time.monotonic() + 30
        while points.points.balances["ACME"] != 100_250:
            assert time.monotonic() < deadline, points.points.log
            time.sleep(0.05)
    assert [(kind, p) for kind, _, p in points.points.log] == [("credit", 250)]


def test_refunding_an_order_paid_from_the_account_credits_it_back(client, key, b2b, points, db):
    enrol(client, key, "CO-1", "ACME")
    hold = redeem(client, key, reward_id=None, points=3000, order_id="PO-9",
                  order_total="5000.00").json()
    enrol(client, key, "CO-1", "ACME", order_id="PO-9", amount="5000.00")
    assert client.get(f"{BASE}/redemptions/{hold['id']}", headers=key).json()["status"] == \
        "captured"
    refund = client.post(f"{BASE}/orders/PO-9/refunds", headers=key,
                         json={"refund_id": "RF-1", "refunded_at": AT})
    assert refund.status_code == 201 and refund.json()["points_restored"] == 3000
    external_transfers.run_job(db)
    # Earned 10 + 5,000, the refund took the 5,000 back, and the 3,000 paid came back.
    assert points.points.balances["ACME"] == 100_000 + 10
    keys = [k for _, k, _ in points.points.log]
    assert f"redemption:{hold['id']}:refund:RF-1" in keys


def test_a_slow_points_api_never_blocks_other_quotes(client, key, b2b, points):
    enrol(client, key, "CO-1", "ACME")
    cart = {"order": {"id": "Q", "placed_at": AT, "lines": [
        {"sku": "PAPER", "category": "supplies", "quantity": 1, "unit_price": "100.00"}]}}
    points.delay(1.0, times=8)  # every balance read answers after the client gave up
    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(client.post, f"{BASE}/evaluate", headers=key,
                           json={"member": {"id": "CO-1"}, **cart})
        time.sleep(0.2)
        started = time.monotonic()
        quick = client.post("/v1/programs/retail/evaluate", headers=key,
                            json={"member": {"id": "R-1"}, **cart})
        took = time.monotonic() - started
        assert quick.status_code == 200 and took < 0.5, took
        assert slow.result().json()["redemption"]["reasons"][0]["code"] == "BALANCE_UNAVAILABLE"


def test_the_member_summary_answers_when_the_points_api_does_not(client, key, b2b, points, db):
    enrol(client, key, "CO-1", "ACME")
    points.fail(times=20)
    owed = client.get(f"{BASE}/members/CO-1", headers=key).json()["account"]["points_owed"]
    assert owed == 10  # written, not queued yet
    assert external_transfers.run_job(db)["retrying"] == 1  # queued, not sent
    summary = client.get(f"{BASE}/members/CO-1", headers=key)
    assert summary.status_code == 200
    account = summary.json()["account"]
    assert summary.json()["balance"] is None and account["account"] == "ACME"
    assert account["journal_balance"] == 10 and account["points_owed"] == 10
    assert account["unavailable"].startswith("external_points_unavailable")


def test_the_catalog_filters_on_the_external_balance(client, key, b2b, points):
    enrol(client, key, "CO-1", "ACME")
    enrol(client, key, "CO-2", "POOR")
    rich = client.get(f"{BASE}/catalog", headers=key, params={"member_id": "CO-1"}).json()
    poor = client.get(f"{BASE}/catalog", headers=key, params={"member_id": "CO-2"}).json()
    assert rich["balance"] == 100_000 and "PHYS-LAPTOP-BAG" in [i["id"] for i in rich["items"]]
    assert poor["balance"] == 10 and poor["items"] == []
    points.fail(times=20)
    down = client.get(f"{BASE}/catalog", headers=key, params={"member_id": "CO-1"}).json()
    assert down["items"] == [] and down["unavailable"].startswith("external_points")
