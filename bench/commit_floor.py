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

`/tpcb-core` runs the same transaction after the lifecycle core's own work for the order
in the body, as a commit does it: the engine's request parser, the member's book read from
its JSON (kept in the process, one per member id, as the member row keeps it), the
order's step (`commit_order`: evaluation, points, tier), the result rendered and the book
written back to JSON. No ORM, no ledger rows, no events: the floor of a commit that runs
the lifecycle core in the serving process.

    FLOOR_DSN=postgresql://… FLOOR_SCALE=10 python -m uvicorn commit_floor:app --app-dir bench
"""

from __future__ import annotations

import os
import queue
import random
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import psycopg
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.routing import Route

from engine.evaluation.render import result_json
from engine.evaluation.request import parse
from engine.lifecycle import Lifecycle, NoPool, commit_order, from_json, to_json
from engine.program import load_program

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
_LIFECYCLE = Lifecycle(load_program(os.path.join(os.path.dirname(__file__), "..", "rulesets",
                                                 "retail")))
_books: dict[str, dict[str, Any]] = {}  # member id → book JSON, as the member row keeps it
_books_lock = threading.Lock()  # a member's commits one at a time, as the row lock makes them


@app.post("/tpcb")
def tpcb(payload: dict[str, Any]) -> dict[str, Any]:
    """pgbench's built-in "tpcb-like" script, with its random ids and delta."""
    return _transaction(payload)


async def tpcb_core(request: Request) -> Response:
    """The lifecycle core's work for the order, then pgbench's transaction, in the
    threadpool as the service's commit runs; the body read with orjson and checked by the
    engine's parser alone, the result rendered with orjson (a plain Starlette route: no
    FastAPI handler around it, lighter than the service's CommitRoute)."""
    payload = orjson.loads(await request.body())
    result = await run_in_threadpool(_core_and_transaction, payload)
    return Response(orjson.dumps(result, default=str), media_type="application/json")


def _core_and_transaction(payload: dict[str, Any]) -> dict[str, Any]:
    request = parse(payload)
    member_id = str(request.member["id"])
    with _books_lock:
        stored = _books.get(member_id)
        book = (from_json(stored) if stored is not None
                else _LIFECYCLE.new_book(member_id, request.at))
        step = commit_order(_LIFECYCLE, book, request, NoPool(), lambda: "R-1")
        _books[member_id] = to_json(book)
    assert step.outcome is not None
    return {**result_json(step.outcome), "commit": _transaction(payload)}


def _transaction(payload: dict[str, Any]) -> dict[str, Any]:
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


app.router.routes.append(Route("/tpcb-core", tpcb_core, methods=["POST"]))
