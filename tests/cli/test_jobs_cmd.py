"""`loyalty jobs run` on a scratch database (SQLite file; PostgreSQL with CI=true): once
through click's CliRunner, and in the foreground as a real process stopped by SIGTERM.
Webhook deliveries go to a real HTTP server on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from cli.main import cli
from store.checkout import orders
from store.db.database import open_database
from store.db.migrate import upgrade
from store.redemptions import redeem as redemptions
from store.registry.programs import ProgramCache
from tests.api.server import LOYALTY
from tests.loopback import LoopbackServer
from tests.store.db_support import REPO, scratch_database, wipe
from tests.store.helpers import order, publish_retail


def run(*args: str):  # returns click.testing.Result
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    with scratch_database(tmp_path_factory.mktemp("jobs"), "jobs.db") as url:
        result = run("db", "upgrade", "--database-url", url)
        assert result.exit_code == 0, result.output
        db = open_database(url)
        yield db
        db.dispose()


@pytest.fixture
def db(scratch):
    wipe(scratch)
    return scratch


@pytest.fixture
def webhook(monkeypatch):
    with LoopbackServer(lambda request: (202, {})) as server:
        monkeypatch.setenv("LOYALTY_FULFILMENT_WEBHOOK_URL", server.url + "/fulfil")
        monkeypatch.setenv("LOYALTY_FULFILMENT_BACKOFF_SECONDS", "0.01")
        yield server


def seed(db) -> dict[str, str]:
    """A coupon waiting for its delivery, and a checkout hold whose time ran out."""
    publish_retail(db, 1)
    cache = ProgramCache()
    orders.commit(db, cache, "retail", order("O-1", amount="3000.00", category="home"))
    coupon = redemptions.redeem(db, cache, "retail", {
        "member_id": "CUST-1", "reward_id": "REWARD-001", "as_of": "2026-11-20T12:00:00Z",
        "order_total": "100.00"}).result
    assert coupon["fulfilment"]["status"] == "pending"
    hold = redemptions.redeem(db, cache, "retail", {
        "member_id": "CUST-1", "points": 1000, "order_id": "CHK-1", "order_total": "500.00",
        "as_of": (datetime.now(UTC) - timedelta(hours=1)).isoformat(), "hold_minutes": 5}).result
    assert hold["status"] == "held"
    return {"coupon": coupon["id"], "hold": hold["id"]}


def test_once_runs_every_job_and_prints_json(db, webhook):
    ids = seed(db)
    result = run("jobs", "run", "--once", "-o", "json", "--database-url", db.url)
    assert result.exit_code == 0, result.output + result.stderr
    summaries = json.loads(result.stdout)
    assert summaries["fulfilment"] == {"outcome": {"delivered": 1}}
    assert summaries["expiry"]["programs"]["retail"]["holds_released"] == 1
    assert [r.body["redemption_id"] for r in webhook.requests] == [ids["coupon"]]
    assert redemptions.get(db, "retail", ids["coupon"])["fulfilment"]["status"] == "delivered"
    assert redemptions.get(db, "retail", ids["hold"])["status"] == "released"
    again = json.loads(run("jobs", "run", "--once", "-o", "json", "--database-url",
                           db.url).stdout)
    assert again["fulfilment"] == {"outcome": {}} and len(webhook.requests) == 1
    assert again["expiry"]["programs"]["retail"]["holds_released"] == 0


def test_once_only_one_job_as_a_table(db, webhook):
    seed(db)
    result = run("jobs", "run", "--once", "--only", "expiry", "--database-url", db.url)
    assert result.exit_code == 0, result.output + result.stderr
    assert "expiry" in result.stdout and "ok" in result.stdout
    assert '"holds_released": 1' in result.stdout and "fulfilment" not in result.stdout
    assert webhook.requests == []  # the fulfilment job did not run


def test_a_failed_job_exits_1_after_every_job_ran(tmp_path, webhook):
    # A database at the head revision (else the command refuses to start, in one line)
    # whose tables the jobs read are gone: both jobs fail.
    broken = f"sqlite:///{tmp_path / 'broken.db'}"
    database = open_database(broken)
    upgrade(database)
    with database.engine.begin() as conn:  # (empty tables: no foreign key stands in the way)
        for table in ("fulfilments", "ruleset_versions", "activations", "approvals", "programs"):
            conn.exec_driver_sql(f"DROP TABLE {table}")
    database.dispose()
    result = run("jobs", "run", "--once", "--database-url", broken)
    assert result.exit_code == 1
    assert result.stdout.count("error") >= 2 and "no such table" in result.stdout
    assert "error: job(s) failed: fulfilment, expiry" in result.stderr
    assert "job expiry failed" in result.stderr  # logged, with its traceback


@pytest.mark.parametrize("args, env, message", [
    (["--once", "--only", "nope"], {}, ("no job 'nope'; the jobs are: fulfilment, expiry, "
                                        "external_points, cashback.payout, b2b_orders, "
                                        "notifications, webhooks")),
    (["--only", "expiry"], {"LOYALTY_EXPIRY_JOB_SECONDS": "0"}, "every selected job has an"),
    (["--once"], {"LOYALTY_EXPIRY_JOB_SECONDS": "-1"}, "LOYALTY_EXPIRY_JOB_SECONDS"),
])
def test_bad_input_exits_1(db, monkeypatch, args, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = run("jobs", "run", *args, "--database-url", db.url)
    assert result.exit_code == 1 and message in result.stderr, result.stderr


def test_foreground_runs_on_the_interval_until_sigterm(db, webhook, tmp_path):
    ids = seed(db)
    env = {**os.environ, "LOYALTY_FULFILMENT_DISPATCH_SECONDS": "0.2"}
    out_file = tmp_path / "runs.jsonl"
    with out_file.open("w") as sink:
        proc = subprocess.Popen([*LOYALTY, "jobs", "run", "--only", "fulfilment", "-o", "json",
                                 "--database-url", db.url], cwd=REPO, env=env,
                                stdout=sink, stderr=subprocess.PIPE, text=True)
    try:
        # wait for the delivery and then a few more runs with nothing left to send (by the
        # lines printed, not by a fixed sleep: a loaded machine runs the interval late)
        deadline = time.monotonic() + 60
        while not webhook.requests or len(out_file.read_text().splitlines()) < 3:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        out = out_file.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "running fulfilment every 0.2 s" in err and "stopping" in err
    lines = [json.loads(line) for line in out.splitlines()]
    assert {line["job"] for line in lines} == {"fulfilment"} and len(lines) >= 2
    assert lines[0]["summary"] == {"outcome": {"delivered": 1}}
    assert all(line["summary"] == {"outcome": {}} for line in lines[1:])
    assert len(webhook.requests) == 1
    assert redemptions.get(db, "retail", ids["coupon"])["fulfilment"]["status"] == "delivered"
