"""Crash safety: a real `loyalty serve` (2 uvicorn workers) is killed with SIGKILL in the
middle of a load of commits and redemptions, twice, and restarted on the same database.
Every request that got no answer is retried with the same order id or idempotency key.
Afterwards, for every member, the balance equals the sum of its ledger, and no order or
redemption was recorded (or written to the ledger) twice. SQLite file locally; a fresh
PostgreSQL database with CI=true."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import func, select

from store.db.database import open_database
from store.tables.core import LedgerEntryRow, OrderRow
from store.tables.redemptions import RedemptionRow
from tests.api.server import LOYALTY, create_key, free_port
from tests.store.db_support import scratch_database
from tests.store.helpers import assert_ledger_exact

MEMBERS = [f"K-{i:02d}" for i in range(12)]
BASE = "/v1/programs/retail"


def start(database_url: str, cwd: Path, log_name: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "LOYALTY_DATABASE_URL": database_url}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = open(cwd / log_name, "w")  # noqa: SIM115 - the server writes to it until killed
    proc = subprocess.Popen([*LOYALTY, "serve", "--port", str(port), "--workers", "2",
                             "--log-level", "warning"], cwd=cwd, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            kill(proc)
            raise RuntimeError(f"server did not start:\n{(cwd / log_name).read_text()}")
        time.sleep(0.2)


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the server and its workers (its own process group, started by this test)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=15)


def workload(rng: random.Random, round_no: int, n: int) -> list[tuple[str, str, dict]]:
    """(kind, id, body): orders with unique ids, redemptions with idempotency keys."""
    items = []
    for i in range(n):
        member = rng.choice(MEMBERS)
        if rng.random() < 0.6:
            oid = f"R{round_no}-O-{i}"
            items.append(("order", oid, {"member": {"id": member}, "order": {
                "id": oid, "placed_at": "2026-11-17T12:00:00Z", "lines": [
                    {"sku": "TV", "category": "electronics", "quantity": 1,
                     "unit_price": f"{rng.randint(100, 400)}.00"}]}}))
        else:
            key = f"R{round_no}-K-{i}"
            items.append(("redemption", key, {"member_id": member, "points": 500,
                                              "order_total": "5000.00", "idempotency_key": key,
                                              "as_of": "2026-11-18T12:00:00Z"}))
    return items


async def send(client: httpx.AsyncClient, kind: str, body: dict) -> httpx.Response:
    path = f"{BASE}/orders" if kind == "order" else f"{BASE}/redemptions"
    return await client.post(path, json=body)


async def load_then_kill(url: str, key: str, items, proc, kill_after: int):
    """Send everything 16 at a time; SIGKILL the server once `kill_after` answers came."""
    answers: dict[str, int] = {}
    answered = asyncio.Event()
    gate = asyncio.Semaphore(16)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=20) as client:
        async def one(kind, ident, body):
            async with gate:
                try:
                    r = await send(client, kind, body)
                except httpx.HTTPError:
                    return
                answers[ident] = r.status_code
                if len(answers) >= kill_after:
                    answered.set()

        async def killer():
            await answered.wait()
            kill(proc)

        task = asyncio.create_task(killer())
        await asyncio.gather(*(one(*item) for item in items))
        if not answered.is_set():
            answered.set()
        await task
    return answers


async def retry_unanswered(url: str, key: str, items, answers: dict[str, int]) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        for kind, ident, body in items:
            while ident not in answers:
                try:
                    answers[ident] = (await send(client, kind, body)).status_code
                except httpx.HTTPError:
                    await asyncio.sleep(0.2)


def test_sigkill_mid_load_loses_and_duplicates_nothing(tmp_path):
    rng = random.Random(42)
    with scratch_database(tmp_path) as database_url:
        proc, url = start(database_url, tmp_path, "server-0.log")
        key = create_key(database_url, "commit", "redeem", "evaluate")
        sent: list[tuple[str, str, dict]] = []
        answers: dict[str, int] = {}
        try:
            for round_no in range(2):
                items = workload(rng, round_no, 300)
                sent += items
                answers.update(asyncio.run(load_then_kill(url, key, items, proc, 120)))
                assert proc.poll() is not None  # it really died mid-load,
                assert any(i not in answers for _, i, _ in items)  # leaving requests unanswered
                proc, url = start(database_url, tmp_path, f"server-{round_no + 1}.log")
                asyncio.run(retry_unanswered(url, key, sent, answers))
            statuses = Counter(answers.values())
            assert set(statuses) <= {200, 201, 404, 409}, statuses
            kinds = {ident: kind for kind, ident, _ in sent}
            # 404: a redemption for a member whose first order had not come yet.
            assert all(kinds[i] == "redemption" for i, s in answers.items() if s in (404, 409))
            check_database(database_url, sent, answers)
            check_api(url, key)
        finally:
            if proc.poll() is None:
                kill(proc)


def check_database(database_url: str, sent, answers) -> None:
    db = open_database(database_url)
    try:
        assert_ledger_exact(db)
        with db.reading() as session:
            order_ids = [ident for kind, ident, _ in sent if kind == "order"]
            stored = Counter(session.scalars(select(OrderRow.order_id)))
            assert all(stored[o] == 1 for o in order_ids), "an order is missing or doubled"
            assert set(stored) == set(order_ids)
            for row in session.scalars(select(OrderRow)):
                earned = session.scalar(select(func.sum(LedgerEntryRow.points)).where(
                    LedgerEntryRow.source_type.in_(("order", "activity", "tier", "milestone")),
                    LedgerEntryRow.source_ref.in_((row.order_id, f"order:{row.order_id}")),
                    LedgerEntryRow.kind.in_(("earn", "bonus")))) or 0
                assert earned == row.result["commit"]["points_awarded"], row.order_id
            keys = Counter(session.scalars(select(RedemptionRow.idempotency_key).where(
                RedemptionRow.kind != "gift")))  # a first electronics order's milestone gift
            assert all(count == 1 for count in keys.values())
            succeeded = {ident for kind, ident, _ in sent
                         if kind == "redemption" and answers[ident] in (200, 201)}
            assert set(keys) == succeeded
            debits = Counter(session.scalars(select(LedgerEntryRow.source_ref).where(
                LedgerEntryRow.kind == "redeem")))
            assert all(count == 1 for count in debits.values())
            assert len(debits) == len(succeeded)
    finally:
        db.dispose()


def check_api(url: str, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    for member in MEMBERS:
        summary = httpx.get(f"{url}{BASE}/members/{member}", headers=headers,
                            params={"as_of": "2026-11-19T00:00:00Z"})
        if summary.status_code == 404:
            continue
        entries = httpx.get(f"{url}{BASE}/members/{member}/ledger", headers=headers,
                            params={"limit": 500}).json()["entries"]
        assert summary.json()["balance"] == sum(e["points"] for e in entries)
