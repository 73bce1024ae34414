"""Report benchmark: the program performance report on PostgreSQL over 1,000,000 ledger
entries, against a plain `SELECT count(*)` scan of the same table in the same run.

    .venv/bin/python bench/report_bench.py [--entries 1000000] [--members 20000]

Creates a fresh database on LOYALTY_BENCH_PG (default
postgresql://postgres@127.0.0.1:5432/postgres; dropped after), migrates it, publishes the
retail program and bulk-loads synthetic members, orders (a third as many as the entries,
each with its earned lines) and ledger entries over 2026 with COPY. Then times, best of
three, `loyalty report`'s work (store.reports.performance over the year) and
`SELECT count(*) FROM ledger_entries`, and prints both, their ratio and the machine's
load (bench/machine.py). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import machine

YEAR_START = datetime(2026, 1, 1, 5, tzinfo=UTC)
CATEGORIES = ("electronics", "fashion", "home", "toys", "groceries")
RULES = ("earning.base", "earning.categories.electronics", "earning.categories.fashion",
         "campaigns.double-points-weekend", "tiers.silver")
TIERS = ("bronze", "silver", "gold", "platinum")


def _stamp(at: datetime) -> str:
    return at.replace(tzinfo=None).isoformat(sep=" ")


def load(conninfo: str, entries: int, members: int, seed: int = 1) -> None:
    import psycopg

    rng = random.Random(seed)
    now = _stamp(datetime(2027, 1, 1, tzinfo=UTC))
    orders = entries // 3
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        with cur.copy("COPY members (program, member_id, tier, attributes, balance, "
                      "orders_count, created_at, updated_at) FROM STDIN") as copy:
            for m in range(members):
                copy.write_row(("retail", f"M{m}", TIERS[m % 4], "{}", 0, 0, now, now))
        cur.execute("SELECT min(id) FROM members WHERE program = 'retail'")
        first = cur.fetchone()[0]  # type: ignore[index]
        placed: list[tuple[int, datetime]] = []
        with cur.copy("COPY orders (program, order_id, member_pk, request_hash, request, "
                      "result, ruleset_version, placed_at, qualifying_spend, original_spend, "
                      "refunded_fraction, counted, created_at) FROM STDIN") as copy:
            for o in range(orders):
                member = first + rng.randrange(members)
                at = YEAR_START + timedelta(seconds=rng.randrange(365 * 86400))
                placed.append((member, at))
                lines = [{"category": rng.choice(CATEGORIES), "points": 40,
                          "amount": "40.00"} for _ in range(2)]
                result = {"earn": {"lines": lines}, "tier_after": TIERS[member % 4]}
                copy.write_row(("retail", f"O{o}", member, "0" * 64, "{}", json.dumps(result),
                                1, _stamp(at), 800_000, 800_000, 0, True, now))
        with cur.copy("COPY ledger_entries (member_pk, program, kind, points, ruleset_version, "
                      "rule, source_type, source_ref, occurred_at, recorded_at) "
                      "FROM STDIN") as copy:
            for e in range(entries):
                member, at = placed[e % orders]
                roll = e % 10
                kind, points, source = (("redeem", -30, "redemption") if roll == 7 else
                                        ("expire", -5, "expiry") if roll == 8 else
                                        ("reverse", -10, "refund") if roll == 9 else
                                        ("earn", 40, "order"))
                rule = rng.choice(RULES) if kind == "earn" else None
                copy.write_row((member, "retail", kind, points, 1, rule, source,
                                f"O{e % orders}", _stamp(at), now))
        cur.execute("ANALYZE")


def best_of(n: int, work) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(n):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=20_000)
    args = parser.parse_args()
    import psycopg
    from sqlalchemy import text

    from store.db.database import open_database
    from store.db.migrate import upgrade
    from store.registry.programs import ProgramCache
    from store.reports.performance import performance
    from tests.store.helpers import publish_retail

    base = os.environ.get("LOYALTY_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        admin = psycopg.connect(base, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        print(f"PostgreSQL not reachable at {base} ({type(exc).__name__}); nothing measured")
        return
    name = f"loyalty_bench_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    conninfo = base.rsplit("/", 1)[0] + f"/{name}"
    try:
        machine.report("start")
        db = open_database("postgresql+psycopg://" + conninfo.split("://", 1)[1])
        upgrade(db)
        publish_retail(db, 1)
        started = time.perf_counter()
        load(conninfo, args.entries, args.members)
        print(f"loaded {args.entries:,} ledger entries, {args.entries // 3:,} orders, "
              f"{args.members:,} members in {time.perf_counter() - started:.1f} s (COPY)")
        cache = ProgramCache()

        def count() -> None:
            with db.reading() as session:
                session.execute(text("SELECT count(*) FROM ledger_entries")).scalar()

        def report() -> None:
            doc = performance(db, cache, "retail", YEAR_START, YEAR_START + timedelta(days=365))
            assert doc["totals"]["points_issued"] > 0

        report()  # compile the program once, warm the cache
        scan, full = best_of(3, count), best_of(3, report)
        print(f"SELECT count(*) over {args.entries:,} entries: {scan * 1000:8.1f} ms")
        print(f"performance report over the same:            {full * 1000:8.1f} ms")
        print(f"ratio report / count(*): {full / scan:.1f}")
        machine.report("end")
        db.dispose()
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


if __name__ == "__main__":
    main()
