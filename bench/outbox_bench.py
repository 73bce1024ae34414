"""What the transactional outbox costs an order commit, side by side in one run.

    .venv/bin/python bench/outbox_bench.py [--rounds 5] [--orders 200] [--threads 8]

Commits orders through the store (`store.checkout.orders.commit`, in this process, with
`--threads` threads, each order a new member's or a returning one's) in alternating
rounds: with the domain events written (as shipped) and with them left out (the
lifecycle's events replaced by none: the baseline). On PostgreSQL (a fresh database on
LOYALTY_BENCH_PG, default postgresql://postgres@127.0.0.1:5432/postgres, dropped after)
and on a SQLite file. Prints the median commits/s of each, their ratio, and the events
written per commit. Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

import store.ledger.books as books
from bench import machine
from bench.http_bench import postgres_database
from engine import load_program
from store.checkout import orders
from store.db.database import Database, open_database
from store.db.migrate import upgrade
from store.registry import versions as registry
from store.registry.programs import ProgramCache

RETAIL = Path(__file__).resolve().parents[1] / "rulesets" / "retail"
REAL_EVENTS_OF = books.events_of


def _order(order_id: str, member: str) -> dict:
    return {"member": {"id": member},
            "order": {"id": order_id, "placed_at": "2026-11-17T14:30:00-05:00",
                      "channel": "web", "currency": "USD", "shipping": "5.00",
                      "lines": [{"sku": "TV-55", "category": "electronics", "quantity": 1,
                                 "unit_price": "120.00", "discount": "0.00"}]}}


def _round(db: Database, cache: ProgramCache, tag: str, n: int, threads: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda i: orders.commit(db, cache, "retail", _order(
            f"{tag}-{i}", f"M-{i % (n // 2)}")), range(n)))
    return n / (time.perf_counter() - started)


def _count(db: Database, table: str) -> int:
    with db.reading() as session:
        return int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def measure(label: str, url: str, rounds: int, n: int, threads: int) -> None:
    db = open_database(url, pool_size=threads + 2)
    upgrade(db)
    with db.writing() as session:
        registry.publish(session, load_program(RETAIL), "bench", "v1")
        registry.activate(session, "retail", 1, "bench", at_declared=True)
    cache = ProgramCache()
    _round(db, cache, "warm", 20, threads)
    with_events: list[float] = []
    without: list[float] = []
    events_before, commits = _count(db, "domain_events"), 0
    for r in range(rounds):
        for on in ((True, False) if r % 2 == 0 else (False, True)):
            books.events_of = REAL_EVENTS_OF if on else (lambda *a, **k: [])  # type: ignore[assignment]
            rate = _round(db, cache, f"{'on' if on else 'off'}{r}", n, threads)
            (with_events if on else without).append(rate)
            commits += n if on else 0
    books.events_of = REAL_EVENTS_OF  # type: ignore[assignment]
    per_commit = (_count(db, "domain_events") - events_before) / commits
    a, b = statistics.median(with_events), statistics.median(without)
    print(f"{label:<10} with events {a:8.1f} commits/s   without {b:8.1f} commits/s   "
          f"ratio {a / b:.3f}   ({per_commit:.2f} events per commit, {threads} threads, "
          f"{rounds} rounds of {n})")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    machine.report("start")
    with postgres_database() as url:
        if url:
            measure("postgresql", url, args.rounds, args.orders, args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        measure("sqlite", f"sqlite:///{tmp}/bench.db", args.rounds, args.orders, args.threads)
    machine.report("end")


if __name__ == "__main__":
    main()
