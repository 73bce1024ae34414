"""Two `loyalty serve` processes on different ports (standing in for two machines) against
one database, started at once on a fresh one: commits, refunds, redemptions and an
activation go through both at the same time, for the same members, many of them sent to
both servers at once. Afterwards every order, refund and redemption is recorded once,
every balance equals its ledger (and both servers say so), and the activation made
through one server governs the next commit through the other at once. A fresh
PostgreSQL database with CI=true (through PgBouncer as well in CI's second pass); a
SQLite file locally."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select

from store.db.database import open_database
from store.tables.core import LedgerEntryRow, OrderRow, RefundRow
from store.tables.redemptions import RedemptionRow
from tests.api.server import Server, running_server
from tests.store.db_support import scratch_database
from tests.store.helpers import assert_ledger_exact, retail_version

BASE = "/v1/programs/retail"
MEMBERS = [f"T-{i:02d}" for i in range(10)]
# Quotes re-read the activations every 3 s; writes must not wait for that.
SETTINGS = {"LOYALTY_ACTIVATION_CHECK_SECONDS": "3",
            "LOYALTY_MEMBER_RATE_LIMITS": '{"quote": null, "write": null}'}
Send = tuple[str, str, dict]  # (path, request id, body)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("two")
    (tmp / "a").mkdir()
    (tmp / "b").mkdir()
    with scratch_database(tmp) as url, ExitStack() as stack:
        # Started at once on an empty database: both migrate and install the shipped
        # programs, one after the other (so give them time on a busy machine).
        with ThreadPoolExecutor(2) as pool:
            started = [pool.submit(stack.enter_context,
                                   running_server(url, tmp / d, workers=1, settings=SETTINGS,
                                                  ready_seconds=240))
                       for d in ("a", "b")]
            pair = [f.result() for f in started]
        yield pair


def order(oid: str, member: str, rng: random.Random, placed_at: str) -> dict:
    return {"member": {"id": member}, "order": {
        "id": oid, "placed_at": placed_at, "lines": [
            {"sku": "TV", "category": "electronics", "quantity": 1,
             "unit_price": f"{rng.randint(100, 300)}.00"},
            {"sku": "PLANT", "category": "home", "quantity": 2, "unit_price": "15.00"}]}}


def spread(rng: random.Random, items: list[Send], servers: list[Server]) -> list[tuple[str, Send]]:
    """Each request to one server at random; a third of them to both at once."""
    out = []
    for item in items:
        targets = [s.url for s in servers] if rng.random() < 1 / 3 else [rng.choice(servers).url]
        out += [(url, item) for url in targets]
    rng.shuffle(out)
    return out


async def send_all(sends: list[tuple[str, Send]], key: str) -> list[tuple[str, int, dict]]:
    """(request id, status, body) for every send, 24 in flight at a time."""
    gate = asyncio.Semaphore(24)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"},
                                 timeout=60) as client:
        async def one(url: str, item: Send) -> tuple[str, int, dict]:
            path, ident, body = item
            async with gate:
                r = await client.post(url + path, json=body)
            return ident, r.status_code, r.json()

        return await asyncio.gather(*(one(url, item) for url, item in sends))


def created_once(answers: list[tuple[str, int, dict]], ids: list[str]) -> None:
    """Each id answered 201 exactly once; its other answers replay it (200)."""
    by_id: dict[str, list[tuple[int, dict]]] = {}
    for ident, status, body in answers:
        by_id.setdefault(ident, []).append((status, body))
    assert set(by_id) == set(ids)
    for ident, got in by_id.items():
        statuses = sorted(s for s, _ in got)
        assert statuses[-1] == 201 and statuses.count(201) == 1, (ident, got)
        assert set(statuses[:-1]) <= {200}, (ident, got)


def test_two_servers_record_everything_once(servers):
    a = servers[0]
    rng = random.Random(15)
    key = a.key  # a key made through one server works on the other: one database

    # 1. orders, through both servers at once
    first = [(f"{BASE}/orders", f"O1-{m}-{n}", order(f"O1-{m}-{n}", m, rng,
                                                      "2026-11-17T12:00:00Z"))
             for m in MEMBERS for n in range(5)]
    answers = asyncio.run(send_all(spread(rng, first, servers), key))
    created_once(answers, [i for _, i, _ in first])
    earned = {}
    for ident, _, body in answers:
        assert body["earn"] == earned.setdefault(ident, body["earn"])  # a replay: the first result

    # 2. refunds of some, redemptions and more orders, all at once
    refunded = rng.sample([i for _, i, _ in first], 15)
    refunds = [(f"{BASE}/orders/{oid}/refunds", f"RF-{oid}",
                {"refund_id": f"RF-{oid}", "refunded_at": "2026-11-18T00:00:00Z"})
               for oid in refunded]
    redemptions = [(f"{BASE}/redemptions", f"RD-{m}-{n}",
                    {"member_id": m, "points": 500, "order_total": "5000.00",
                     "idempotency_key": f"RD-{m}-{n}", "as_of": "2026-11-18T12:00:00Z"})
                   for m in MEMBERS for n in range(2)]
    second = [(f"{BASE}/orders", f"O2-{m}", order(f"O2-{m}", m, rng, "2026-11-17T13:00:00Z"))
              for m in MEMBERS]
    answers = asyncio.run(send_all(spread(rng, refunds + redemptions + second, servers), key))
    created_once([x for x in answers if x[0].startswith(("RF-", "O2-"))],
                 [i for _, i, _ in refunds + second])
    redeemed = {i: s for i, s, _ in answers if i.startswith("RD-")}
    assert set(redeemed.values()) <= {200, 201, 409, 422}, Counter(redeemed.values())
    accepted = {i for i, s, _ in answers if i.startswith("RD-") and s in (200, 201)}
    assert accepted  # members earn 1,000s of points: most redemptions go through

    check_database(a.database_url, [i for _, i, _ in first + second], refunded, accepted)
    for member in MEMBERS:  # both servers: balance = Σ ledger, and the same balance
        balances = {server_balance(s, key, member) for s in servers}
        assert len(balances) == 1, (member, balances)


def test_an_activation_through_one_server_governs_the_other(servers):
    a, b = servers
    checkout = {"Authorization": f"Bearer {a.key}"}
    v1 = httpx.post(f"{b.url}{BASE}/orders", headers=checkout, json=order(
        "ACT-0", "T-00", random.Random(1), now())).json()
    assert v1["ruleset_version"] == 1
    published = httpx.post(f"{a.url}/v1/rulesets", headers={"Authorization": f"Bearer {a.admin_key}"},
                           json={"sources": retail_version(2, ("electronics: 2.0", "electronics: 3.0")),
                                 "activate": "now"}, timeout=60)
    assert published.status_code == 201, published.text
    # The very next commit through the other server, placed after the activation, is
    # recorded under version 2, though that server last looked less than 3 s ago.
    after = httpx.post(f"{b.url}{BASE}/orders", headers=checkout, json=order(
        "ACT-1", "T-00", random.Random(1), now()), timeout=60)
    assert after.status_code == 201, after.text
    assert after.json()["ruleset_version"] == 2
    assert after.json()["earn"]["points"] > v1["earn"]["points"]  # electronics ×3, not ×2
    # Quotes through it follow within LOYALTY_ACTIVATION_CHECK_SECONDS.
    quote = order("Q-1", "T-01", random.Random(2), now())
    seen = []
    for _ in range(50):
        r = httpx.post(f"{b.url}{BASE}/evaluate", headers=checkout, json=quote)
        assert r.status_code == 200, r.text
        seen.append(r.json()["ruleset_version"])
        if seen[-1] == 2:
            break
        asyncio.run(asyncio.sleep(0.2))
    assert seen[-1] == 2, seen


def now() -> str:
    return datetime.now(UTC).isoformat()


def server_balance(server: Server, key: str, member: str) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    summary = httpx.get(f"{server.url}{BASE}/members/{member}", headers=headers,
                        params={"as_of": "2026-11-19T00:00:00Z"}).json()
    entries = httpx.get(f"{server.url}{BASE}/members/{member}/ledger", headers=headers,
                        params={"limit": 500}).json()["entries"]
    assert summary["balance"] == sum(e["points"] for e in entries), member
    return summary["balance"]


def check_database(url: str, order_ids: list[str], refunded: list[str],
                   accepted: set[str]) -> None:
    db = open_database(url)
    try:
        assert_ledger_exact(db, negative=True)  # retail claws refunded points back
        with db.reading() as session:
            stored = Counter(session.scalars(select(OrderRow.order_id)))
            assert stored == Counter(order_ids), "an order is missing or doubled"
            for row in session.scalars(select(OrderRow)):
                earned = session.scalar(select(func.sum(LedgerEntryRow.points)).where(
                    LedgerEntryRow.source_ref.in_((row.order_id, f"order:{row.order_id}")),
                    LedgerEntryRow.kind.in_(("earn", "bonus")))) or 0
                assert earned == row.result["commit"]["points_awarded"], row.order_id
            refunds = Counter(session.scalars(select(RefundRow.refund_id)))
            assert refunds == Counter(f"RF-{o}" for o in refunded)
            keys = Counter(session.scalars(select(RedemptionRow.idempotency_key).where(
                RedemptionRow.kind != "gift")))  # a first electronics order's milestone gift
            assert keys == Counter(accepted)
            debits = Counter(session.scalars(select(LedgerEntryRow.source_ref).where(
                LedgerEntryRow.kind == "redeem")))
            assert all(n == 1 for n in debits.values()) and len(debits) == len(accepted)
    finally:
        db.dispose()
