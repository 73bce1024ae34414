"""The external points API client and the debit saga, against a real points API on
loopback (tests/loopback.py) that fails, answers late, or drops connections before or
after doing the work. What must hold: no debit lost or applied twice, and an order that
fails after its debit is credited back exactly once."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from store.external import points as ext
from store.tables.operations import ExternalDebitRow
from tests.loopback import LoopbackServer
from tests.points_api import PointsApi


@pytest.fixture
def api():
    points = PointsApi({"ACME": 100_000, "POOR": 10})
    with LoopbackServer(points) as server:
        server.points = points
        yield server


def client_for(server, **kw):
    kw.setdefault("timeout", 0.3)
    kw.setdefault("retry", ext.RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05))
    kw.setdefault("breaker", ext.CircuitBreaker(threshold=100, reset_seconds=0.2))
    return ext.ExternalPointsClient(server.url, **kw)


def test_balance_debit_credit(api):
    client = client_for(api)
    assert client.balance("ACME") == 100_000
    assert client.debit("ACME", 4500, "K-1")["balance"] == 95_500
    assert client.credit("ACME", 500, "K-2")["balance"] == 96_000
    with pytest.raises(ext.Rejected) as refused:
        client.debit("POOR", 4500, "K-3")
    assert refused.value.status == 422
    assert len(api.requests) == 4  # a refusal is not retried


@pytest.mark.parametrize("fault", ["drop", "drop_after", "delay", "fail"])
def test_a_retried_debit_is_applied_once(api, fault):
    client = client_for(api)
    if fault == "delay":
        api.delay(1.0, times=2)  # answered after the client's 0.3 s timeout
    else:
        getattr(api, fault)(times=2)
    answer = client.debit("ACME", 1000, "K-1")
    assert answer["balance"] == 99_000
    assert api.points.balances["ACME"] == 99_000
    assert api.points.log == [("debit", "K-1", 1000)]
    sent = [r for r in api.requests if r.path == "/debit"]
    assert len(sent) == 3 and {r.headers["idempotency-key"] for r in sent} == {"K-1"}


def test_no_answer_at_all_is_unavailable_and_the_breaker_opens(api):
    breaker = ext.CircuitBreaker(threshold=3, reset_seconds=0.3)
    client = client_for(api, breaker=breaker, retry=ext.RetryPolicy(attempts=3, base_delay=0.01))
    api.fail(times=3)
    with pytest.raises(ext.Unavailable):
        client.balance("ACME")
    assert breaker.state == "open"
    seen = len(api.requests)
    with pytest.raises(ext.CircuitOpen):
        client.balance("ACME")
    assert len(api.requests) == seen  # not even sent
    import time
    time.sleep(0.35)
    assert breaker.state == "half_open"
    assert client.balance("ACME") == 100_000  # the trial call closes it
    assert breaker.state == "closed"


def test_a_failed_trial_opens_the_breaker_again(api):
    breaker = ext.CircuitBreaker(threshold=1, reset_seconds=0.1)
    client = client_for(api, breaker=breaker, retry=ext.RetryPolicy(attempts=1))
    api.fail(times=2)
    with pytest.raises(ext.Unavailable):
        client.balance("ACME")
    import time
    time.sleep(0.15)
    with pytest.raises(ext.Unavailable):
        client.balance("ACME")  # the half-open trial fails
    assert breaker.state == "open"


def journal(db, key):
    with db.reading() as session:
        return session.scalar(select(ExternalDebitRow).where(
            ExternalDebitRow.idempotency_key == key))


class OrderFailed(Exception):
    pass


def test_saga_commits_and_a_repeat_does_not_debit_again(db, api):
    client = client_for(api)
    placed = ext.redeem(db, client, "b2b-portal", "ACME", 4500, "R-1", lambda: "order-1")
    assert placed == "order-1" and journal(db, "R-1").status == "committed"
    assert ext.redeem(db, client, "b2b-portal", "ACME", 4500, "R-1", lambda: "again") is None
    assert api.points.balances["ACME"] == 95_500 and len(api.points.log) == 1


def test_saga_credits_back_when_the_order_fails_after_the_debit(db, api):
    client = client_for(api)
    api.drop_after(times=1)  # the debit is applied but its first answer is lost

    def fail():
        api.drop_after(times=1)  # the compensation's first attempt: applied, answer lost
        raise OrderFailed("stock vanished")

    with pytest.raises(OrderFailed):
        ext.redeem(db, client, "b2b-portal", "ACME", 4500, "R-2", fail)
    assert journal(db, "R-2").status == "compensated"
    assert api.points.balances["ACME"] == 100_000
    assert api.points.log == [("debit", "R-2", 4500), ("credit", "R-2:reverse", 4500)]


def test_saga_with_an_unknown_debit_is_settled_then_credited_by_reconcile(db, api):
    client = client_for(api, retry=ext.RetryPolicy(attempts=2, base_delay=0.01))
    api.drop_after(times=2)  # the debit is applied, every answer lost
    ran = []
    with pytest.raises(ext.Unavailable):
        ext.redeem(db, client, "b2b-portal", "ACME", 3000, "R-3", lambda: ran.append(1))
    assert ran == [] and journal(db, "R-3").status == "debiting"
    assert api.points.balances["ACME"] == 97_000  # applied, the caller could not know
    assert ext.reconcile(db, client, "b2b-portal", older_than_seconds=60) == {}  # too fresh
    assert ext.reconcile(db, client, "b2b-portal", older_than_seconds=0) == {"compensated": 1}
    assert api.points.balances["ACME"] == 100_000
    assert api.points.log == [("debit", "R-3", 3000), ("credit", "R-3:reverse", 3000)]
    assert ext.reconcile(db, client, "b2b-portal", older_than_seconds=0) == {}


def test_reconcile_of_a_debit_that_never_arrived_debits_then_credits_once(db, api):
    client = client_for(api, retry=ext.RetryPolicy(attempts=2, base_delay=0.01))
    api.drop(times=2)  # never reached the API's logic
    with pytest.raises(ext.Unavailable):
        ext.redeem(db, client, "b2b-portal", "ACME", 3000, "R-4", lambda: None)
    assert api.points.balances["ACME"] == 100_000 and api.points.log == []
    assert ext.reconcile(db, client, "b2b-portal", older_than_seconds=0) == {"compensated": 1}
    assert api.points.balances["ACME"] == 100_000
    assert [k for k, _, _ in api.points.log] == ["debit", "credit"]


def test_a_refused_debit_runs_no_order_and_needs_no_compensation(db, api):
    client = client_for(api)
    with pytest.raises(ext.Rejected):
        ext.redeem(db, client, "b2b-portal", "POOR", 4500, "R-5", lambda: pytest.fail("ran"))
    assert journal(db, "R-5").status == "rejected" and api.points.log == []


def test_many_sagas_under_random_faults_lose_and_duplicate_nothing(db, api):
    """60 sagas on 8 threads; the API fails, answers late or drops ~40 % of requests; a
    fifth of the orders fail after their debit. After a reconcile with a healthy API:
    the account moved by exactly the committed orders, each key debited at most once."""
    rng = random.Random(11)
    faults = ["fail", "drop", "drop_after", "delay", None, None, None]
    for _ in range(150):
        kind = rng.choice(faults)
        if kind == "delay":
            api.delay(0.5)
        elif kind is not None:
            getattr(api, kind)()
    client = client_for(api, retry=ext.RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02))
    plan = [(f"S-{n}", 100 + n, rng.random() < 0.2) for n in range(60)]

    def saga(item):
        key, points, fails = item

        def order():
            if fails:
                raise OrderFailed(key)
            return key

        try:
            return ext.redeem(db, client, "b2b-portal", "ACME", points, key, order)
        except (ext.ExternalPointsError, OrderFailed):
            return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        committed = {k for k in pool.map(saga, plan) if k is not None}
    api.faults.clear()
    ext.reconcile(db, client, "b2b-portal", older_than_seconds=0)
    with db.reading() as session:
        rows = {r.idempotency_key: r.status for r in session.scalars(select(ExternalDebitRow))}
    assert set(rows.values()) <= {"committed", "compensated"}, rows
    assert {k for k, s in rows.items() if s == "committed"} == committed
    debits = [k for kind, k, _ in api.points.log if kind == "debit"]
    credits = [k for kind, k, _ in api.points.log if kind == "credit"]
    assert len(debits) == len(set(debits)) and len(credits) == len(set(credits))
    assert set(credits) == {f"{k}:reverse" for k, s in rows.items() if s == "compensated"}
    spent = sum(points for key, points, _ in plan if key in committed)
    assert api.points.balances["ACME"] == 100_000 - spent
    assert any(f is False for _, _, f in plan) and committed
