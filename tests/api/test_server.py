"""Through a real `loyalty serve` (2 uvicorn workers) on loopback."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.server import running_server
from tests.store.db_support import scratch_database

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "checkout"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("server")
    # The activation test quotes in 2030, after every activation "now": future-dated
    # requests, as a staging replay would send, so this server accepts them; and it
    # quotes one member hundreds of times, beyond a member's default quote budget.
    settings = {"LOYALTY_MAX_FUTURE_SKEW_SECONDS": str(20 * 365 * 86400),
                "LOYALTY_MEMBER_RATE_LIMITS": '{"quote": null}'}
    with scratch_database(tmp) as url, running_server(url, tmp, settings=settings) as srv:
        yield srv


def test_health_ready_and_metrics(server):
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/readyz").json()
    assert set(ready["programs"]) >= {"retail@1", "card-rewards@1", "b2b-portal@1"}
    metrics = httpx.get(f"{server.url}/metrics").text
    assert "loyalty_http_requests_total" in metrics


def healthz_count(url: str) -> float:
    """loyalty_http_requests_total for GET /healthz, as one scrape of /metrics tells it."""
    text = httpx.get(f"{url}/metrics").text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("loyalty_http_requests_total{") and 'route="/healthz"' in line)


def test_metrics_add_up_every_workers_requests(server):
    """The workers are forked from the server's supervisor: each still writes its samples
    where /metrics collects them, so one scrape counts the requests that both answered."""
    before = healthz_count(server.url)
    for _ in range(40):  # a new connection each: the kernel hands them to either worker
        httpx.get(f"{server.url}/healthz").raise_for_status()
    assert healthz_count(server.url) == before + 40


def test_python_example_runs(server):
    env = {**os.environ, "LOYALTY_URL": server.url, "LOYALTY_KEY": server.key,
           "MEMBER_ID": "CUST-py"}
    out = subprocess.run([sys.executable, str(EXAMPLES / "checkout.py")], env=env, check=False,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "retry: 200, same result" in out.stdout


def test_curl_example_runs(server):
    env = {**os.environ, "LOYALTY_URL": server.url, "LOYALTY_KEY": server.key}
    out = subprocess.run(["bash", str(EXAMPLES / "checkout.sh")], env=env, check=False,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("\n201\n") == 1 and "\n200\n" in out.stdout


def test_concurrent_commits_with_duplicate_retries(server):
    """200 orders over 20 members, 30 % sent twice, 32 at a time: every order is recorded
    once and every balance is exact (first purchase 200 + 10 orders × 12 points + the
    shipped retail program's tenth-order milestone, 500, credited once)."""
    members = [f"M-{i:02d}" for i in range(20)]
    orders = [(m, f"C-{m}-{n}") for m in members for n in range(10)]
    sends = orders + random.Random(7).sample(orders, 60)
    random.Random(8).shuffle(sends)

    def body(member, order_id):
        return {"member": {"id": member}, "order": {
            "id": order_id, "placed_at": "2026-11-17T12:00:00Z",
            "lines": [{"sku": "PLANT", "category": "home", "quantity": 1, "unit_price": "10.00"}]}}

    async def run():
        limits = httpx.Limits(max_connections=32)
        headers = {"Authorization": f"Bearer {server.key}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, limits=limits,
                                     timeout=60) as client:
            gate = asyncio.Semaphore(32)

            async def send(member, order_id):
                async with gate:
                    r = await client.post("/v1/programs/retail/orders", json=body(member, order_id))
                    return order_id, r.status_code, r.json()

            return await asyncio.gather(*(send(m, o) for m, o in sends))

    responses = asyncio.run(run())
    odd = [(oid, status, payload) for oid, status, payload in responses if status not in (200, 201)]
    assert not odd, odd[:5]
    created = [oid for oid, status, _ in responses if status == 201]
    assert sorted(created) == sorted(o for _, o in orders)  # each order recorded exactly once
    first = {}
    for oid, _, payload in responses:
        first.setdefault(oid, payload)
        assert payload["earn"] == first[oid]["earn"]  # retries see the first result
    headers = {"Authorization": f"Bearer {server.key}"}
    for member in members:
        summary = httpx.get(f"{server.url}/v1/programs/retail/members/{member}", headers=headers,
                            params={"as_of": "2026-11-18T00:00:00Z"}).json()
        ledger = httpx.get(f"{server.url}/v1/programs/retail/members/{member}/ledger",
                           headers=headers, params={"limit": 500}).json()["entries"]
        assert summary["balance"] == sum(e["points"] for e in ledger) == 200 + 10 * 12 + 500
        assert [e["points"] for e in ledger if e["source"]["type"] == "milestone"] == [500]
        assert summary["orders_count"] == 10


def test_activation_reaches_every_worker_without_failing_requests(server):
    """Publish and activate v2 while quotes are in flight: none fails, and within a few
    seconds every worker answers with v2; rolling back brings v1 back."""
    from tests.store.helpers import retail_version

    admin = {"Authorization": f"Bearer {server.admin_key}"}
    checkout = {"Authorization": f"Bearer {server.key}"}
    quote_body = {"member": {"id": "Q-1"}, "order": {
        "id": "Q-1", "placed_at": "2030-01-01T00:00:00Z",
        "lines": [{"sku": "TV", "category": "electronics", "quantity": 1, "unit_price": "100"}]}}

    async def quotes(client, n):
        rs = await asyncio.gather(*(client.post("/v1/programs/retail/evaluate", json=quote_body,
                                                headers=checkout) for _ in range(n)))
        assert all(r.status_code == 200 for r in rs), [r.text for r in rs if r.status_code != 200]
        return {r.json()["ruleset_version"] for r in rs}

    async def scenario(version, sources=None):
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            in_flight = asyncio.create_task(quotes(client, 40))
            if sources:
                r = await client.post("/v1/rulesets", headers=admin,
                                      json={"sources": sources, "activate": "now"})
            else:
                r = await client.post(f"/v1/rulesets/retail/{version}/activate", headers=admin)
            assert r.status_code in (200, 201), r.text
            await in_flight
            for _ in range(50):
                if await quotes(client, 16) == {version}:
                    return True
                await asyncio.sleep(0.2)
            return False

    v2 = retail_version(2, ("electronics: 2.0", "electronics: 3.0"))
    assert asyncio.run(scenario(2, v2))
    assert asyncio.run(scenario(1))
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'loyalty_evaluations_total{mode="quote",program="retail",version="2"}' in metrics


def test_two_thousand_rules_all_true_are_quoted(server):
    """The validator's limit: 2,000 rules, every condition distinct and true for one cart
    (tests/big_ruleset.py). Published and quoted by every worker (each compiles it);
    before, past ~64 true conditions every quote was a 500 (engine code 303)."""
    from tests import big_ruleset

    admin = {"Authorization": f"Bearer {server.admin_key}"}
    checkout = {"Authorization": f"Bearer {server.key}"}
    published = httpx.post(f"{server.url}/v1/rulesets", headers=admin, timeout=60, json={
        "sources": big_ruleset.sources(program="big"), "activate": "effective_from"})
    assert published.status_code == 201, published.text
    # An activation reaches every worker within LOYALTY_ACTIVATION_CHECK_SECONDS (1 s):
    # a worker that read the registry just before it may still say so until then.
    time.sleep(1.5)
    for _ in range(4):  # two workers, each answers at least once in all likelihood
        quote = httpx.post(f"{server.url}/v1/programs/big/evaluate", headers=checkout,
                           json=big_ruleset.REQUEST, timeout=60)
        assert quote.status_code == 200, quote.text
        bonus = big_ruleset.rule_bonus(quote.json())
        assert len(bonus) == big_ruleset.RULES
        assert sum(bonus.values()) == big_ruleset.EXPECTED_BONUS


def test_a_first_electronics_order_gives_the_milestone_gift_over_http(server):
    """The shipped retail program's `first_electronics` milestone gives REWARD-002: the
    member's redemptions list it as a gift of 0 points, its view has a reward code and a
    fulfilment, and a second electronics order gives nothing more."""
    headers = {"Authorization": f"Bearer {server.key}"}
    base = f"{server.url}/v1/programs/retail"
    for n in (1, 2):
        r = httpx.post(f"{base}/orders", headers=headers, json={
            "member": {"id": "GIFT-1"}, "order": {
                "id": f"GIFT-O-{n}", "placed_at": f"2026-11-1{n}T12:00:00Z",
                "lines": [{"sku": "TV", "category": "electronics", "quantity": 1,
                           "unit_price": "300.00"}]}})
        assert r.status_code == 201, r.text
    listed = httpx.get(f"{base}/members/GIFT-1/redemptions", headers=headers,
                       params={"kind": "gift"}).json()["redemptions"]
    assert [(g["kind"], g["points"], g["reward_id"], g["order_id"], g["status"])
            for g in listed] == [("gift", 0, "REWARD-002", "GIFT-O-1", "completed")]
    everything = httpx.get(f"{base}/members/GIFT-1/redemptions", headers=headers).json()
    assert [g["id"] for g in everything["redemptions"]] == [listed[0]["id"]]
    one = httpx.get(f"{base}/redemptions/{listed[0]['id']}", headers=headers)
    assert one.status_code == 200, one.text
    view = one.json()
    assert view["reward"]["code"].startswith("RW-") and view["fulfilment"] is not None
    assert view["history"][0]["milestone"] == "first_electronics"
