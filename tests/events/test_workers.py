"""Webhook delivery by real worker processes: `loyalty serve` with two workers running the
job (subscribed with the CLI, orders committed over HTTP), and a `loyalty jobs run`
worker killed with SIGKILL in the middle of a delivery, after which no event is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable

import httpx
from click.testing import CliRunner

from cli.main import cli
from store.checkout import orders
from store.events import delivery, outbox, webhooks
from store.events.signing import new_secret
from store.registry.programs import ProgramCache
from tests.api.server import LOYALTY, running_server
from tests.events.receiver import Receiver
from tests.store.db_support import scratch_database
from tests.store.helpers import order, publish_retail

FAST_JOBS = {"LOYALTY_WEBHOOK_DISPATCH_SECONDS": "0.2", "LOYALTY_WEBHOOK_BACKOFF_SECONDS": "0.1",
             "LOYALTY_FULFILMENT_DISPATCH_SECONDS": "0", "LOYALTY_EXPIRY_JOB_SECONDS": "0",
             "LOYALTY_EXTERNAL_POINTS_JOB_SECONDS": "0", "LOYALTY_CASHBACK_PAYOUT_SECONDS": "0"}


def wait_for(condition: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def loyalty(server, *args: str):
    env = {"LOYALTY_URL": server.url, "LOYALTY_KEY": server.admin_key,
           "LOYALTY_DATABASE_URL": None}
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_two_service_workers_deliver_every_event_once(tmp_path):
    secret = new_secret()
    with scratch_database(tmp_path) as url, \
            running_server(url, tmp_path, workers=2, settings=FAST_JOBS) as server, \
            Receiver(secret) as receiver:
        admin = {"Authorization": f"Bearer {server.admin_key}"}
        # the service publishes the shipped programs when it starts
        out = loyalty(server, "webhooks", "create", receiver.url + "/hook", "--secret", secret,
                      "--program", "retail")
        assert out.splitlines()[-1] == secret
        commit = {"Authorization": f"Bearer {server.key}"}
        for i in range(6):
            answer = httpx.post(f"{server.url}/v1/programs/retail/orders", headers=commit,
                                json=order(f"O-{i}", member=f"M-{i % 3}"), timeout=60)
            assert answer.status_code == 201, answer.text
        events = httpx.get(f"{server.url}/v1/programs/retail/events?limit=500",
                           headers=admin, timeout=60).json()["events"]
        wanted = {e["id"] for e in events}
        assert len(wanted) >= 6
        wait_for(lambda: set(receiver.ids()) >= wanted)
        assert receiver.bad == []
        assert receiver.ids() == dict.fromkeys(wanted, 1)
        for member in ("M-0", "M-1", "M-2"):  # each member's events arrived in feed order
            feed = [e["id"] for e in events if e["member_id"] == member]
            assert [e["id"] for e in receiver.verified if e["member_id"] == member] == feed
        # a delivery is marked delivered after the receiver answered: wait for the marks
        wait_for(lambda: {d["status"] for d in json.loads(loyalty(
            server, "webhooks", "deliveries", "1", "--json"))["deliveries"]} == {"delivered"})
        page = json.loads(loyalty(server, "webhooks", "deliveries", "1", "--json"))
        assert {d["status"] for d in page["deliveries"]} == {"delivered"}
        assert "every type" in loyalty(server, "webhooks", "list")
        assert "deleted" in loyalty(server, "webhooks", "delete", "1")
        assert "no webhook subscriptions" in loyalty(server, "webhooks", "list")


def test_a_worker_killed_mid_delivery_loses_no_event(db):
    publish_retail(db)
    cache = ProgramCache()
    with Receiver(new_secret()) as receiver:
        webhooks.create(db, webhooks.NewSubscription(url=receiver.url, secret=receiver.secret),
                        "tests")
        for i in range(4):
            orders.commit(db, cache, "retail", order(f"O-{i}", member=f"M-{i % 2}"))
        with db.reading() as session:
            wanted = [p.event.id for p in outbox.read_after(session, "retail", 0, 1000)]
        receiver.gate = threading.Event()  # hold the first request: the worker is mid-send
        env = {**os.environ, **FAST_JOBS, "LOYALTY_WEBHOOK_LEASE_SECONDS": "1"}
        worker = subprocess.Popen([*LOYALTY, "jobs", "run", "--only", "webhooks",
                                   "--database-url", db.url], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: len(receiver.verified) >= 1)
            os.kill(worker.pid, signal.SIGKILL)
            assert worker.wait(30) == -signal.SIGKILL
        finally:
            if worker.poll() is None:
                worker.kill()
            receiver.gate.set()
        receiver.gate = None
        first = receiver.verified[0]["id"]
        settings = delivery.WebhookSettings(lease_seconds=1, backoff_seconds=0.1)

        def all_delivered() -> bool:
            delivery.run(db, settings)
            return set(receiver.ids()) >= set(wanted) and receiver.ids()[first] >= 2

        wait_for(all_delivered)
        assert receiver.bad == []
        counts = receiver.ids()
        assert set(counts) == set(wanted)
        assert counts[first] >= 2  # sent again after the lease: the same webhook-id
