"""In-process cost of the checkout routes, without sockets: the whole ASGI application
(middleware, authentication, rate limits, validation, the store, the engine, metrics, the
response) called directly, against the bare FastAPI echo app of bench/http_bench.py in
the same process.

    .venv/bin/python bench/route_bench.py [--requests 2000] [--pg] [--profile quote|commit]

Prints the CPU µs per request (best of five rounds, `time.process_time`) of the echo,
the engine's `evaluate` of the same request alone (no HTTP, no store), a quote (`POST
/v1/programs/retail/evaluate`), a commit of a new order (`POST /v1/programs/retail/orders`)
by one of 200 members the warm-up created, and the first order of a new member, on
SQLite (a file in a temp dir) or, with `--pg`, on a fresh PostgreSQL database
(LOYALTY_BENCH_PG, as http_bench),
and the ratios to the echo. The HTTP benchmark's ratio is bounded by these: a worker
that spends N × the echo's CPU on a request serves at most 1/N of the echo's req/s; and
no quote can cost less than the echo's work plus one evaluation (the floor it prints).
With `--profile`, runs that route under cProfile (CPU time; what the app hands to worker
threads runs in the calling thread then, so that the profile sees it) and prints the 30
most costly functions (cumulative). With `--run`, it only runs that many requests after the warm-up: under
`valgrind --tool=callgrind`, the difference between two N gives instructions per request.
The load average and the machine baseline (bench/machine.py) are printed at the start
and the end.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import machine
from bench.http_bench import CART, echo_app, postgres_database
from engine import evaluate, load_program
from store.ledger import members

Asgi = Callable[..., Any]


class Driver:
    """Calls an ASGI app with one POST, as uvicorn would, and returns the status."""

    def __init__(self, app: Asgi, path: str, key: str) -> None:
        self.app, self.path = app, path
        self.headers = [(b"host", b"bench"), (b"content-type", b"application/json"),
                        (b"authorization", f"Bearer {key}".encode())]
        self.loop = asyncio.new_event_loop()

    def post(self, body: bytes) -> int:
        return self.loop.run_until_complete(self._post(body))

    async def _post(self, body: bytes) -> int:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": self.path,
                 "raw_path": self.path.encode(), "query_string": b"", "root_path": "",
                 "headers": [*self.headers, (b"content-length", str(len(body)).encode())],
                 "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(scope, receive, send)
        return status


def cpu_per_request(post: Callable[[bytes], int], bodies: Callable[[int], bytes], n: int,
                    rounds: int = 5) -> float:
    """Best over `rounds` of the mean CPU µs per request, n requests each."""
    best = float("inf")
    done = 0
    for _ in range(rounds):
        batch = [bodies(done + i) for i in range(n)]
        done += n
        start = time.process_time()
        for body in batch:
            status = post(body)
            if status >= 300:
                raise SystemExit(f"status {status} for {body[:200]!r}")
        best = min(best, (time.process_time() - start) / n * 1e6)
    return best


def loyalty_app(database_url: str) -> tuple[FastAPI, str, Any]:
    from api.app import create_app
    from engine import load_program
    from store.db.database import open_database
    from store.db.migrate import upgrade
    from store.registry import keys
    from store.registry import versions as registry
    from store.settings import Settings

    unlimited = {budget: {"rate": 1e9, "burst": 1e9}
                 for budget in ("quote", "write", "read", "admin")}
    settings = Settings.model_validate({"database_url": database_url, "jobs_enabled": False,
                                        "rate_limits": unlimited,
                                        "member_rate_limits": unlimited})
    db = open_database(database_url, settings.pool_size)
    upgrade(db)
    program = load_program(Path(__file__).resolve().parents[1] / "rulesets" / "retail")
    with db.writing() as session:
        registry.publish(session, program, "bench", "v1")
        registry.activate(session, "retail", 1, "bench", at_declared=True)
        key, _ = keys.create(session, ["evaluate", "commit"], name="bench")
    return create_app(settings, db), key, db


KNOWN_MEMBERS = 200  # the warm-up commits one order for each


def commit_body(i: int) -> bytes:
    """A new order of one of the members the warm-up created (a member's row and book
    exist: the steady state of a checkout)."""
    body = json.loads(json.dumps(CART))
    body["member"]["id"] = f"BM-{i % KNOWN_MEMBERS}"
    body["order"]["id"] = f"B-{time.time_ns()}-{i}"
    return json.dumps(body).encode()


def new_member_body(i: int) -> bytes:
    """The first order of a member with no row yet (created by the commit; the shipped
    retail program gives a first order a milestone's gift, a redemption of 0 points)."""
    body = json.loads(commit_body(i))
    body["member"]["id"] = f"BN-{time.time_ns()}-{i}"
    return json.dumps(body).encode()


def run_jobs(db: Any, jobs: list[Any], commits: int = 1) -> dict[str, float]:
    """Run each job once; its CPU µs divided by `commits`, for the jobs that took more than
    a microsecond per commit, and their total."""
    from store.jobs.scheduler import run_job

    costs: dict[str, float] = {}
    for job in jobs:
        start = time.process_time()
        run_job(db, job)
        costs[job.name] = (time.process_time() - start) / commits * 1e6
    shown = {name: us for name, us in costs.items() if us >= 1}
    return {**shown, "all jobs": sum(costs.values())}


def inline_threads() -> None:
    """Run what the app hands to worker threads (a sync route, the key check, a quote's
    read) in the calling thread instead, for --profile: cProfile sees one thread only."""
    import anyio.to_thread

    async def run_sync(func: Callable[..., Any], *args: Any, **_: Any) -> Any:
        return func(*args)

    anyio.to_thread.run_sync = run_sync  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="per round (5 rounds)")
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--profile", choices=["quote", "commit"])
    parser.add_argument("--run", choices=["quote", "commit"],
                        help="only run --requests of these after the warm-up, timing nothing "
                        "(for valgrind: the difference of two counts over the difference of N)")
    parser.add_argument("--lines", type=int, default=30, help="with --profile: functions shown")
    args = parser.parse_args()
    base_start = machine.report("start")
    quote_body = json.dumps(CART).encode()
    with tempfile.TemporaryDirectory() as tmp, postgres_database() as pg_url:
        if args.pg and pg_url is None:
            raise SystemExit("--pg: PostgreSQL is not reachable")
        url = pg_url if args.pg and pg_url else f"sqlite:///{Path(tmp) / 'bench.db'}"
        app, key, db = loyalty_app(url)
        lifespan = app.router.lifespan_context(app)
        echo = Driver(echo_app, "/echo", "-")
        quote = Driver(app, "/v1/programs/retail/evaluate", key)
        commit = Driver(app, "/v1/programs/retail/orders", key)
        quote.loop.run_until_complete(lifespan.__aenter__())
        try:
            for i in range(KNOWN_MEMBERS):  # warm-up: imports, caches, the members' rows
                echo.post(quote_body), quote.post(quote_body), commit.post(commit_body(i))
            if args.run:  # for instruction counts: N requests and nothing else
                drive, make = ((quote.post, lambda i: quote_body) if args.run == "quote"
                               else (commit.post, commit_body))
                for i in range(args.requests):
                    drive(make(10_000 + i))
                return
            if args.profile:
                drive, make = ((quote.post, lambda i: quote_body) if args.profile == "quote"
                               else (commit.post, commit_body))
                inline_threads()  # the profiler sees only the thread it runs in
                profiler = cProfile.Profile(time.process_time)
                profiler.runcall(cpu_per_request, drive, make, args.requests, 1)
                stats = pstats.Stats(profiler).sort_stats("cumulative")
                stats.print_stats(args.lines)
                return
            n = args.requests
            program = load_program(Path(__file__).resolve().parents[1] / "rulesets" / "retail")
            request = json.loads(quote_body)

            def engine_only(body: bytes) -> int:
                evaluate(program, request)
                return 200

            def member_read(body: bytes) -> int:  # the quote's one read, as it makes it
                with db.read_connection() as conn:
                    members.snapshot(conn, "retail", "BM-1")
                return 200

            costs = {"echo": cpu_per_request(echo.post, lambda i: quote_body, n),
                     "evaluate": cpu_per_request(engine_only, lambda i: quote_body, n),
                     "read": cpu_per_request(member_read, lambda i: quote_body, n),
                     "quote": cpu_per_request(quote.post, lambda i: quote_body, n)}
            from store.jobs.scheduler import default_jobs

            jobs = default_jobs(app.state.services.settings)  # the app runs none itself
            run_jobs(db, jobs)  # what the warm-up's commits left them
            costs["commit"] = cpu_per_request(commit.post, commit_body, max(200, n // 5))
            job_costs = run_jobs(db, jobs, 5 * max(200, n // 5))
            costs["commit1"] = cpu_per_request(commit.post, new_member_body, max(200, n // 5))
        finally:
            quote.loop.run_until_complete(lifespan.__aexit__(None, None, None))
    where = "PostgreSQL" if args.pg else "SQLite"
    print(f"in-process CPU per request, best of 5 rounds ({where}):")
    names = {"commit": "commit (a known member)", "commit1": "commit (a new member)"}
    for name, us in costs.items():
        print(f"  {names.get(name, name):<24} {us:8.1f} µs   {us / costs['echo']:6.2f} × echo")
    print(f"quote ceiling on the HTTP ratio (echo CPU / quote CPU): "
          f"{costs['echo'] / costs['quote']:.2f}")
    floor = costs["echo"] + costs["evaluate"]
    print(f"floor of a quote that evaluates in this process: the echo's work plus one "
          f"evaluate() = {floor:.1f} µs, a ceiling of {costs['echo'] / floor:.2f} on the ratio; "
          f"the quote's work beyond it (store read, checks, auth, metrics): "
          f"{costs['quote'] - floor:.1f} µs")
    print("the background jobs' CPU per commit of a known member, run once over what those "
          "commits left them (in the API workers unless they run apart, `loyalty jobs run`):")
    for name, us in job_costs.items():
        print(f"  {name:<24} {us:8.1f} µs   {us / costs['commit']:6.2f} × the commit")
    floor += costs["read"]
    print(f"floor of a quote that also reads the member's row (the read alone, "
          f"{costs['read']:.1f} µs): {floor:.1f} µs, a ceiling of {costs['echo'] / floor:.2f}; "
          f"the rest (the book brought to the instant, the key, limits, metrics, "
          f"rendering): {costs['quote'] - floor:.1f} µs")
    base_end = machine.report("end")
    mean = (base_start + base_end) / 2
    print(f"in multiples of the machine baseline: echo {costs['echo'] / mean:.1f}, "
          f"quote {costs['quote'] / mean:.1f}, commit {costs['commit'] / mean:.1f} "
          f"(a new member's {costs['commit1'] / mean:.1f})")


if __name__ == "__main__":
    main()
