"""The background jobs (store/jobs/scheduler.py): run once, a failing job next to working ones, the
scheduler thread. Webhook deliveries go to a real HTTP server on loopback; the dispatcher
that dies is a real process, killed."""

from __future__ import annotations

import logging
import os
import random
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from store.checkout import orders
from store.jobs import scheduler as jobs
from store.jobs.scheduler import Job, Scheduler
from store.redemptions import redeem as redemptions
from store.registry.programs import ProgramCache
from store.settings import Settings
from store.tables.core import AuditRow
from store.tables.operations import FulfilmentRow
from tests.loopback import fulfilment_webhook
from tests.store.db_support import REPO
from tests.store.helpers import assert_ledger_exact, order, publish_retail

AS_OF = "2026-11-20T12:00:00Z"
DISPATCHER = ("import sys; from store.redemptions import fulfilment; from store.db.database import open_database; "
              "fulfilment.dispatch(open_database(sys.argv[1]))")


@pytest.fixture
def webhook(monkeypatch):
    with fulfilment_webhook(monkeypatch, timeout=2, attempts=3) as server:
        yield server


def seed(db) -> ProgramCache:
    publish_retail(db, 1)
    cache = ProgramCache()
    orders.commit(db, cache, "retail", order("O-1", amount="3000.00", category="home"))
    return cache


def redeem_coupon(db, cache) -> str:
    """A virtual reward: its delivery is recorded as pending, and nothing sends it (the
    store records it; only the API route starts a dispatch right away)."""
    outcome = redemptions.redeem(db, cache, "retail", {
        "member_id": "CUST-1", "reward_id": "REWARD-001", "as_of": AS_OF,
        "order_total": "100.00"})
    assert outcome.result["fulfilment"]["status"] == "pending"
    return outcome.result["id"]


def item(db) -> FulfilmentRow:
    with db.reading() as session:
        return session.scalars(select(FulfilmentRow)).one()


def history(db, redemption_id: str) -> list[str]:
    return [h["status"] for h in redemptions.get(db, "retail", redemption_id)["history"]]


def fulfilment_job() -> Job:
    return {job.name: job for job in jobs.default_jobs(Settings())}["fulfilment"]


def test_a_delivery_whose_dispatcher_died_after_a_failed_attempt_is_sent_once_due(db, webhook,
                                                                                  monkeypatch):
    """A dispatcher's first attempt fails (503) and it dies during the backoff: the item
    stays `sending` until the dead dispatcher's lease and the backoff have passed; then the
    fulfilment job delivers it, with the same idempotency key."""
    coupon = redeem_coupon(db, seed(db))
    monkeypatch.setenv("LOYALTY_FULFILMENT_BACKOFF_SECONDS", "3")
    monkeypatch.setenv("LOYALTY_FULFILMENT_LEASE_SECONDS", "1")
    webhook.fail(times=1)
    dispatcher = subprocess.Popen([sys.executable, "-c", DISPATCHER, db.url], cwd=REPO,
                                  env=dict(os.environ))
    try:
        deadline = time.monotonic() + 60
        while item(db).attempts == 0:  # its first attempt is written, then it sleeps 3 s
            assert dispatcher.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        dispatcher.kill()
        dispatcher.wait(timeout=15)
    left = item(db)
    assert (left.status, left.attempts, left.last_error) == ("sending", 1, "HTTP 503")
    assert left.next_attempt_at > datetime.now(UTC)

    assert jobs.run_once(db, [fulfilment_job()]) == {"fulfilment": {"outcome": {}}}  # not due
    assert len(webhook.requests) == 1
    time.sleep(max(0.0, (left.next_attempt_at - datetime.now(UTC)).total_seconds()) + 0.05)
    assert jobs.run_once(db, [fulfilment_job()]) == {"fulfilment": {"outcome": {"delivered": 1}}}

    done = item(db)
    assert (done.status, done.attempts, done.last_error) == ("delivered", 2, None)
    assert history(db, coupon) == ["completed", "queued_for_fulfilment",
                                   "delivery_attempt_failed", "delivered"]
    assert [r.headers["idempotency-key"] for r in webhook.requests] == \
        [f"retail:redemption:{coupon}"] * 2
    assert jobs.run_once(db, [fulfilment_job()]) == {"fulfilment": {"outcome": {}}}


def test_without_a_webhook_the_fulfilment_job_sends_nothing(db, monkeypatch):
    monkeypatch.delenv("LOYALTY_FULFILMENT_WEBHOOK_URL", raising=False)
    redeem_coupon(db, seed(db))
    summary = jobs.run_once(db, [fulfilment_job()])["fulfilment"]
    assert summary["outcome"] == {} and "LOYALTY_FULFILMENT_WEBHOOK_URL" in summary["skipped"]
    assert item(db).status == "pending"


def test_a_failing_job_does_not_stop_the_others(db, webhook, caplog):
    coupon = redeem_coupon(db, seed(db))

    def unreachable(_db):
        raise ConnectionError("points API unreachable")

    every = [Job("broken", 60, unreachable), *jobs.default_jobs(Settings())]
    with caplog.at_level(logging.ERROR, logger="store.jobs.scheduler"):
        result = jobs.run_once(db, every)
    assert result["broken"] == {"error": "ConnectionError: points API unreachable"}
    assert result["fulfilment"] == {"outcome": {"delivered": 1}}
    assert result["expiry"]["programs"]["retail"] == {"members": 0, "points_expired": 0,
                                                     "holds_released": 0, "batches": 0}
    assert history(db, coupon)[-1] == "delivered"
    [record] = caplog.records
    assert record.getMessage() == "job broken failed" and record.exc_info is not None


def test_the_expiry_job_releases_timed_out_holds_once(db):
    cache = seed(db)
    now = datetime.now(UTC)
    hold = redemptions.redeem(db, cache, "retail", {
        "member_id": "CUST-1", "points": 1000, "order_id": "CHK-1", "order_total": "500.00",
        "as_of": (now - timedelta(hours=1)).isoformat(), "hold_minutes": 5}).result
    assert hold["status"] == "held"
    expiry_job = {job.name: job for job in jobs.default_jobs(Settings())}["expiry"]
    first = jobs.run_once(db, [expiry_job])["expiry"]
    assert first["programs"]["retail"]["holds_released"] == 1
    assert datetime.fromisoformat(first["as_of"]) >= now
    assert redemptions.get(db, "retail", hold["id"])["status"] == "released"
    again = jobs.run_once(db, [expiry_job])["expiry"]
    assert again["programs"]["retail"]["holds_released"] == 0
    with db.reading() as session:
        audits = session.scalars(select(AuditRow).where(AuditRow.action == "expire")).all()
    assert [a.actor for a in audits] == ["jobs"]
    assert_ledger_exact(db)


def test_default_jobs_take_their_intervals_from_the_settings(monkeypatch):
    for name in ("JOBS_ENABLED", "FULFILMENT_DISPATCH_SECONDS", "EXPIRY_JOB_SECONDS"):
        monkeypatch.delenv(f"LOYALTY_{name}", raising=False)
    defaults = Settings()
    assert defaults.jobs_enabled is True
    intervals = {job.name: job.interval for job in jobs.default_jobs(defaults)}
    assert intervals["fulfilment"] == 15 and intervals["expiry"] == 3600
    monkeypatch.setenv("LOYALTY_FULFILMENT_DISPATCH_SECONDS", "2.5")
    monkeypatch.setenv("LOYALTY_EXPIRY_JOB_SECONDS", "0")
    tuned = jobs.default_jobs(Settings())
    assert {job.name: job.interval for job in tuned}["fulfilment"] == 2.5
    assert "expiry" not in [job.name for job in Scheduler(None, tuned).jobs]  # 0: disabled


def wait_for(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_scheduler_runs_each_job_repeatedly_and_stops_promptly(db):
    runs = {"fast": 0, "broken": 0, "hourly": 0, "off": 0}

    def counting(name, fail=False):
        def run(_db):
            runs[name] += 1
            if fail:
                raise RuntimeError("boom")
            return {"run": runs[name]}
        return run

    results = []
    scheduler = Scheduler(db, [Job("fast", 0.05, counting("fast")),
                               Job("broken", 0.05, counting("broken", fail=True)),
                               Job("hourly", 3600, counting("hourly")),
                               Job("off", 0, counting("off"))],
                          on_result=lambda name, summary: results.append((name, summary)))
    assert [job.name for job in scheduler.jobs] == ["fast", "broken", "hourly"]
    scheduler.start()
    wait_for(lambda: runs["fast"] >= 5 and runs["broken"] >= 3)
    started = time.monotonic()
    assert scheduler.stop(timeout=5)
    assert time.monotonic() - started < 1.0 and not scheduler.is_alive()
    assert scheduler.stop()  # again: nothing to do
    frozen = dict(runs)
    time.sleep(0.2)
    assert runs == frozen and runs["off"] == 0 and runs["hourly"] <= 1
    assert ("fast", {"run": 1}) in results and ("broken", {"error": "RuntimeError: boom"}) in results


def test_stopping_does_not_wait_out_an_interval(db):
    scheduler = Scheduler(db, [Job("hourly", 3600, lambda _db: {})])
    scheduler.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert scheduler.stop(timeout=5)
    assert time.monotonic() - started < 0.5


def test_runs_are_jittered_so_workers_do_not_fire_in_lockstep():
    job = Job("fulfilment", 100, lambda _db: {})
    one, two = (Scheduler(None, [job], rng=random.Random(seed)) for seed in (1, 2))
    delays = [one.next_delay(job) for _ in range(500)]
    assert all(90 <= d <= 110 for d in delays) and max(delays) - min(delays) > 15
    firsts = [one.first_delay(job), two.first_delay(job)]
    assert all(0 <= d <= jobs.FIRST_RUN_SPREAD for d in firsts) and firsts[0] != firsts[1]
    short = Job("quick", 0.5, lambda _db: {})
    assert all(0 <= one.first_delay(short) <= 0.5 for _ in range(100))
    with pytest.raises(ValueError, match="unique"):
        Scheduler(None, [job, job])


def test_a_slow_job_does_not_hold_up_the_others(db):
    release = threading.Event()
    runs = {"slow": 0, "fast": 0}

    def slow(_db):
        runs["slow"] += 1
        release.wait(10)  # e.g. a webhook timing out through its retries
        return {}

    def fast(_db):
        runs["fast"] += 1
        return {}

    scheduler = Scheduler(db, [Job("slow", 0.01, slow), Job("fast", 0.01, fast)], jitter=0)
    scheduler.first_delay = lambda job: 0.0  # both due at once
    scheduler.start()
    try:
        wait_for(lambda: runs["slow"] == 1 and runs["fast"] >= 5)
        assert runs["slow"] == 1  # still in its first run
    finally:
        release.set()
        assert scheduler.stop(timeout=5)
