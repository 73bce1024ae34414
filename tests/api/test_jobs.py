"""The API workers run the background jobs: a pending webhook delivery reaches the
webhook (a real HTTP server on loopback) with no dispatch call — in an app under
TestClient, and in a real `loyalty serve` with 2 workers, each running its own scheduler,
where it is still sent once."""

from __future__ import annotations

import threading
import time

import httpx
from fastapi.testclient import TestClient

from api.app import create_app
from store.checkout import orders
from store.db.database import open_database
from store.db.migrate import upgrade
from store.redemptions import redeem as redemptions
from store.registry.programs import ProgramCache
from store.settings import Settings
from tests.api.conftest import make_key
from tests.api.server import running_server
from tests.loopback import LoopbackServer
from tests.store.db_support import scratch_database
from tests.store.helpers import order, publish_retail

BASE = "/v1/programs/retail"
COUPON = {"member_id": "CUST-1", "reward_id": "REWARD-001", "as_of": "2026-11-20T12:00:00Z",
          "order_total": "100.00"}


def job_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "loyalty-jobs"]


def wait_until(condition, seconds=30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_test_apps_run_no_jobs(client):
    assert client.app.state.scheduler is None and job_threads() == []


def test_the_app_delivers_a_pending_item_by_itself_and_stops_its_jobs_on_shutdown(
        db, monkeypatch):
    monkeypatch.delenv("LOYALTY_FULFILMENT_WEBHOOK_URL", raising=False)
    publish_retail(db, 1)
    key = {"Authorization": f"Bearer {make_key(db, 'admin')}"}
    settings = Settings(database_url=db.url, api_key_cache_seconds=0, jobs_enabled=True,
                        fulfilment_dispatch_seconds=0.1, expiry_job_seconds=0,
                        webhook_dispatch_seconds=0, external_points_job_seconds=0,
                        cashback_payout_seconds=0, b2b_orders_job_seconds=0,
                        notify_dispatch_seconds=0)
    app = create_app(settings, db)
    with LoopbackServer(lambda request: (202, {})) as webhook:
        with TestClient(app) as client:
            scheduler = app.state.scheduler
            assert scheduler.is_alive() and [j.name for j in scheduler.jobs] == ["fulfilment"]
            assert client.post(f"{BASE}/orders", headers=key,
                               json=order("O-1", amount="3000.00", category="home")).status_code == 201
            coupon = client.post(f"{BASE}/redemptions", headers=key, json=COUPON).json()
            assert coupon["fulfilment"]["status"] == "pending"  # no webhook configured yet
            monkeypatch.setenv("LOYALTY_FULFILMENT_WEBHOOK_URL", webhook.url + "/fulfil")
            wait_until(lambda: client.get(f"{BASE}/redemptions/{coupon['id']}", headers=key)
                       .json()["fulfilment"]["status"] == "delivered")
        assert not scheduler.is_alive() and job_threads() == []
    assert [r.body["redemption_id"] for r in webhook.requests] == [coupon["id"]]


def test_a_real_server_with_two_workers_delivers_a_pending_item_once(tmp_path, monkeypatch):
    with scratch_database(tmp_path) as url, LoopbackServer(lambda r: (202, {})) as webhook:
        db = open_database(url)
        try:
            upgrade(db)
            publish_retail(db, 1)
            cache = ProgramCache()
            orders.commit(db, cache, "retail", order("O-1", amount="3000.00", category="home"))
            coupon = redemptions.redeem(db, cache, "retail", COUPON).result
            assert coupon["fulfilment"]["status"] == "pending"  # nothing has sent it
        finally:
            db.dispose()
        monkeypatch.setenv("LOYALTY_FULFILMENT_WEBHOOK_URL", webhook.url + "/fulfil")
        monkeypatch.setenv("LOYALTY_FULFILMENT_DISPATCH_SECONDS", "0.2")
        monkeypatch.delenv("LOYALTY_JOBS_ENABLED", raising=False)
        with running_server(url, tmp_path, workers=2) as server:
            wait_until(lambda: webhook.requests)
            time.sleep(1.0)  # both workers' schedulers run several more times
            shown = httpx.get(f"{server.url}{BASE}/redemptions/{coupon['id']}",
                              headers={"Authorization": f"Bearer {server.admin_key}"}).json()
        assert [r.body["redemption_id"] for r in webhook.requests] == [coupon["id"]]
        assert shown["fulfilment"] == {"route": "webhook", "status": "delivered", "attempts": 1,
                                       "last_error": None}
