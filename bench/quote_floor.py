"""The floor of a quote in this stack, served over HTTP beside the bare echo.

A bare FastAPI app (run by `bench/http_bench.py` with uvicorn and 2 workers, as the
service is) with two routes that take the quote's JSON body as the echo does:

- `/evaluate` evaluates it with the engine (`engine.evaluate`, the shipped retail
  program, no member state) and answers the result rendered with orjson, as the service
  renders it (api/render.py): what a quote that evaluates in the serving process cannot
  go below;
- `/evaluate-read` first reads the member's row from the service's own database with the
  store's own read (`store.ledger.members.snapshot` on a pooled connection, the read a
  quote makes), then evaluates.

Both are plain Starlette routes that decode the body with orjson and check nothing: no
FastAPI handler, authentication, rate limits, metrics, program registry or book brought to
the instant. The service's quotes cannot go faster than these on the same machine, so their
ratio to the echo says how far the target (quotes ≥ 0.60 × the echo) is within reach.

    QUOTE_FLOOR_DB=sqlite:///… python -m uvicorn quote_floor:app --app-dir bench
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson
from fastapi import FastAPI, Request, Response
from starlette.routing import Route

from engine import evaluate, load_program
from store.db.database import open_database
from store.ledger import members

app = FastAPI()
_PROGRAM = load_program(Path(__file__).resolve().parents[1] / "rulesets" / "retail")
_DB = open_database(os.environ["QUOTE_FLOOR_DB"]) if "QUOTE_FLOOR_DB" in os.environ else None


async def quote(request: Request) -> Response:
    payload = orjson.loads(await request.body())
    return Response(orjson.dumps(evaluate(_PROGRAM, payload), default=str),
                    media_type="application/json")


async def quote_with_read(request: Request) -> Response:
    assert _DB is not None, "QUOTE_FLOOR_DB is not set"
    payload = orjson.loads(await request.body())
    with _DB.read_connection() as conn:
        members.snapshot(conn, "retail", str(payload["member"]["id"]))
    return Response(orjson.dumps(evaluate(_PROGRAM, payload), default=str),
                    media_type="application/json")


# Plain Starlette routes: the body read with orjson and nothing checked, no FastAPI
# handler around them (the service's QuoteRoute still has FastAPI's routing, the key and
# the engine's parser): lighter than the service on every count.
app.router.routes += [Route("/evaluate", quote, methods=["POST"]),
                      Route("/evaluate-read", quote_with_read, methods=["POST"])]
