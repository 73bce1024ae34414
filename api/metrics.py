"""Prometheus metrics, and the ASGI middleware that counts requests and bounds bodies.

With several uvicorn workers, `loyalty serve` sets PROMETHEUS_MULTIPROC_DIR so that
/metrics aggregates every worker's samples.
"""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import HTTPException
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("loyalty_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("loyalty_http_request_duration_seconds", "HTTP request latency",
                    ["method", "route"],
                    buckets=(.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5))
EVALUATIONS = Counter("loyalty_evaluations_total", "Evaluations by program and version",
                      ["program", "version", "mode"])
POINTS_ISSUED = Counter("loyalty_points_issued_total", "Points written to the ledger",
                        ["program", "kind"])
RATE_LIMITED = Counter("loyalty_rate_limited_total", "Requests refused with 429, by budget "
                       "and by what ran out (an API key's bucket or a member's)",
                       ["budget", "per"])
RATE_LIMITS = Gauge("loyalty_rate_limit", "Configured rate limits per worker: `rate` "
                    "(requests a second) and `burst`", ["budget", "per", "kind"],
                    multiprocess_mode="livemax")


def record_evaluation(result: dict[str, Any], mode: str) -> None:
    EVALUATIONS.labels(result["program"], str(result["ruleset_version"]), mode).inc()


def record_points(program: str, kind: str, points: int) -> None:
    if points > 0:
        POINTS_ISSUED.labels(program, kind).inc(points)


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds {limit} bytes")


class ObserveMiddleware:
    """Counts and times every request by route template; refuses oversize bodies."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, large_paths: dict[str, int]) -> None:
        self.app, self.max_body, self.large_paths = app, max_body_bytes, large_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        limit = self.large_paths.get(scope["path"], self.max_body)
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
            return message

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, counted_receive, observed_send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            REQUESTS.labels(scope["method"], path, str(status)).inc()
            LATENCY.labels(scope["method"], path).observe(time.perf_counter() - start)
