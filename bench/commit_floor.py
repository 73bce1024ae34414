"""The floor of a commit in this stack: pgbench's own transaction, served over HTTP.

A bare FastAPI app (run by `bench/http_bench.py` with uvicorn and 2 workers, as the
service is) whose one route takes the checkout's JSON body and runs pgbench's TPC-B-like
transaction on the pgbench database through psycopg: three UPDATEs, a SELECT and an
INSERT, then COMMIT, on connections from a pool of 10 per worker, in the threadpool as
the service's commit route runs. No engine, no ORM, no authentication, no ledger: what
HTTP, FastAPI and the driver alone cost for a transaction of a commit's size. The
service's commits cannot go faster than this on the same machine, so its ratio to
pgbench says how far the target (commits ≥ 0.25 × pgbench) is within reach of a
Python service at all.

    FLOOR_DSN=postgresql://… FLOOR_SCALE=10 python -m uvicorn commit_floor:app --app-dir bench
"""

from __future__ import annotations

import os
import queue
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI

POOL_SIZE = 10  # as the service's default pool (store/db/database.py)
_pool: queue.Queue[psycopg.Connection[Any]] = queue.Queue()


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    for _n in range(POOL_SIZE):
        _pool.put(psycopg.connect(os.environ["FLOOR_DSN"]))
    yield
    while not _pool.empty():
        _pool.get().close()


app = FastAPI(lifespan=lifespan)
SCALE = int(os.environ.get("FLOOR_SCALE", "10"))


@app.post("/tpcb")
def tpcb(payload: dict[str, Any]) -> dict[str, Any]:
    """pgbench's built-in "tpcb-like" script, with its random ids and delta."""
    aid = random.randint(1, 100_000 * SCALE)
    bid, tid = random.randint(1, SCALE), random.randint(1, 10 * SCALE)
    delta = random.randint(-5000, 5000)
    conn = _pool.get()
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE pgbench_accounts SET abalance = abalance + %s WHERE aid = %s",
                        (delta, aid))
            cur.execute("SELECT abalance FROM pgbench_accounts WHERE aid = %s", (aid,))
            row = cur.fetchone()
            cur.execute("UPDATE pgbench_tellers SET tbalance = tbalance + %s WHERE tid = %s",
                        (delta, tid))
            cur.execute("UPDATE pgbench_branches SET bbalance = bbalance + %s WHERE bid = %s",
                        (delta, bid))
            cur.execute("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
                        "VALUES (%s, %s, %s, %s, CURRENT_TIMESTAMP)", (tid, bid, aid, delta))
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        _pool.put(conn)
    order = payload.get("order")
    return {"order_id": order.get("id") if isinstance(order, dict) else None,
            "balance": row[0] if row else None}
