"""HTTP benchmark: the loyalty service vs a bare FastAPI echo app, side by side.

    .venv/bin/python bench/http_bench.py [--duration 10] [--connections 32]

Starts `loyalty serve --workers 2` (SQLite file in a temp dir) and a bare FastAPI app
with 2 workers that echoes the same JSON, drives both from another process (wrk when it
is installed, else an httpx/asyncio driver; the output says which), and prints req/s,
p50, p99 and the ratio; then the floor of a quote (bench/quote_floor.py, 2 workers): the
echo's app evaluating the same request in the worker, and also reading the member's row
from the service's database as a quote does. Then commits per second on PostgreSQL (a fresh database on
LOYALTY_BENCH_PG, default postgresql://postgres@127.0.0.1:5432/postgres, dropped after;
new orders of 1,000 members, after a warm-up that gives each member its row, whose own
figure — mostly members' first orders — is printed too), and PostgreSQL's own `pgbench` (TPC-B-like, `--pgbench-scale`, as many clients as
connections, for the same duration, in a database of its own) against the same server:
the commits' ratio to it. Then pgbench's own transaction served over HTTP by a bare
FastAPI app on psycopg (bench/commit_floor.py, 2 workers, same connections): the floor of
a commit in a Python service on this machine, with the workers' CPU per request beside
the commits', and the same with the lifecycle core's own work for each order (the floor of
a commit that runs the core in the serving process). Targets (docs/performance.md): evaluate ≥ 60 % of the bare
app's req/s with p99 ≤ 20 ms; commits ≥ 0.25 × pgbench's tps with p99 ≤ 50 ms. The load
average and the machine baseline (bench/machine.py) are printed at the start and the
end. Prints figures; asserts nothing.

    .venv/bin/python bench/http_bench.py --shadow [--duration 10] [--connections 32]

measures the checkout instead with and without a version in shadow (docs/shadow.md): on
one `loyalty serve --workers 2` (PostgreSQL as above; SQLite when it is not reachable),
quotes and commits without a shadow and with a changed retail version 2 in shadow
(electronics x3), in `--rounds` alternating rounds (so a machine's changing load falls
on both alike), and prints the median over the rounds of p50, p99 and req/s of each, the
ratios, what the shadow processes did (evaluated, dropped, failed), and the machine's
load average at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench import machine  # noqa: E402
from bench.http_drive import (  # noqa: E402
    bench_app,
    drive,
    line,
    loyalty_server,
    server_cpu,
)

PY = sys.executable
LOYALTY = [PY, "-c", "from cli.main import main; main()"]

echo_app = FastAPI()


@echo_app.post("/echo")
async def echo(payload: dict[str, Any]) -> dict[str, Any]:
    return payload


CART = {
    "member": {"id": "CUST-12345", "attributes": {"segments": ["vip"]}},
    "order": {"id": "ORD-1", "placed_at": "2026-11-17T14:30:00-05:00", "channel": "web",
              "currency": "USD", "shipping": "5.00",
              "lines": [{"sku": f"SKU-{i}", "category": c, "quantity": 1 + i % 2,
                         "unit_price": "49.99", "discount": "0.00"}
                        for i, c in enumerate(["electronics", "fashion", "home", "toys", "home"])]},
}
# A commit's body: wrk's script gives each request its member id (one of 1,000) and a new
# order id.
COMMIT_BODY: dict[str, Any] = json.loads(json.dumps(CART))
COMMIT_BODY["member"]["id"], COMMIT_BODY["order"]["id"] = "MEMBER-ID", "ORDER-ID"


def echo_server(tmp: Path) -> AbstractContextManager[str]:
    return bench_app("http_bench:echo_app", tmp)


def floor_server(dsn: str, scale: int, tmp: Path) -> AbstractContextManager[str]:
    """bench/commit_floor.py, against the pgbench database."""
    return bench_app("commit_floor:app", tmp, {"FLOOR_DSN": dsn, "FLOOR_SCALE": str(scale)})

def caught_up(database_url: str, most: float) -> float:
    """Wait (up to `most` seconds) until the notifications job has planned every domain
    event and no message is due; answers the seconds waited. The commits' notifications
    are planned and sent by that job in the API workers after the commit (every 10 s by
    default), so their CPU falls after a short measurement's end."""
    import psycopg

    started = time.monotonic()
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() - started < most:
            behind, due = conn.execute(
                "SELECT (SELECT coalesce(sum(e.last - coalesce(c.position, 0)), 0) "
                "FROM event_positions e LEFT JOIN notify_cursors c USING (program)), "
                "(SELECT count(*) FROM messages WHERE status IN ('pending', 'deferred', "
                "'sending') AND next_attempt_at <= now() AT TIME ZONE 'UTC')"  # naive UTC
            ).fetchone() or (0, 0)
            if not behind and not due:
                break
            time.sleep(0.5)
    return time.monotonic() - started


@contextmanager
def postgres_database(prefix: str = "loyalty_bench") -> Iterator[str | None]:
    base = os.environ.get("LOYALTY_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        import psycopg

        admin = psycopg.connect(base, autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001
        print(f"commits: PostgreSQL not reachable ({type(exc).__name__}); skipped")
        yield None
        return
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield "postgresql+psycopg://" + base.split("://", 1)[1].rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def run_pgbench(seconds: int, clients: int, scale: int, tmp: Path,
                ) -> tuple[dict[str, float], dict[str, float], dict[str, float]] | None:
    """PostgreSQL's own TPC-B-like benchmark (`pgbench`) against the same server, in a
    database of its own (dropped after): the physical limit the commits compare with.
    Then the same transaction served over HTTP (`bench/commit_floor.py`, 2 workers, the
    same connections and duration): the floor of a commit in this stack; and after the
    lifecycle core's own work for each order (`/tpcb-core`). None when pgbench is not
    installed."""
    pgbench = shutil.which("pgbench") or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))), None)
    if pgbench is None:
        print("pgbench: not installed (Debian: postgresql-client); skipped")
        return None
    with postgres_database(prefix="pgbench") as url:
        if url is None:
            return None
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        subprocess.run([pgbench, "-i", "-q", "-s", str(scale), dsn], check=True,
                       capture_output=True, text=True)
        out = subprocess.run([pgbench, "-c", str(clients), "-j", "2", "-T", str(seconds),
                              "-P", str(max(1, seconds)), "-r", dsn], check=True,
                             capture_output=True, text=True).stdout
        with floor_server(dsn, scale, tmp) as floor_url:
            floor_args = argparse.Namespace(duration=seconds, connections=clients)
            drive(f"{floor_url}/tpcb", CART, "-", False,
                  argparse.Namespace(duration=2, connections=clients))  # warm-up
            floor = _with_cpu(floor_url, lambda: drive(f"{floor_url}/tpcb", CART, "-", False,
                                                       floor_args), seconds)
            # the same with the lifecycle core's work for each order (a member's book
            # per id, kept in the worker): after a warm-up that gives the members books
            drive(f"{floor_url}/tpcb-core", COMMIT_BODY, "-", True,
                  argparse.Namespace(duration=2, connections=clients))
            core = _with_cpu(floor_url, lambda: drive(
                f"{floor_url}/tpcb-core", COMMIT_BODY, "-", True, floor_args), seconds)
    tps = re.search(r"^tps = ([\d.]+)", out, re.MULTILINE)
    latency = re.search(r"^latency average = ([\d.]+) ms", out, re.MULTILINE)
    if tps is None:
        raise RuntimeError(f"pgbench printed no tps:\n{out}")
    return {"tps": float(tps.group(1)),
            "latency": float(latency.group(1)) if latency else float("nan")}, floor, core


def _cli(database_url: str, tmp: Path, *args: str) -> str:
    env = {**os.environ, "LOYALTY_DATABASE_URL": database_url}
    return subprocess.run([*LOYALTY, *args], env=env, cwd=tmp, capture_output=True, text=True,
                          check=True).stdout


def _changed_retail(tmp: Path) -> Path:
    """The shipped retail ruleset as version 2 with electronics at 3x."""
    folder = tmp / "retail-v2"
    shutil.copytree(REPO / "rulesets" / "retail", folder)
    program, earning = folder / "program.yaml", folder / "earning.yaml"
    program.write_text(program.read_text().replace("version: 1", "version: 2", 1))
    earning.write_text(earning.read_text().replace("electronics: 2.0", "electronics: 3.0", 1))
    return folder


def _checkout(url: str, key: str, args: Any) -> tuple[dict[str, float], dict[str, float]]:
    """Quotes, then commits of new orders (members cycle over 1000)."""
    commit_body = COMMIT_BODY
    quote = _with_cpu(url, lambda: drive(f"{url}/v1/programs/retail/evaluate", CART, key,
                                         False, args), args.duration)
    commit = _with_cpu(url, lambda: drive(f"{url}/v1/programs/retail/orders", commit_body,
                                          key, True, args), args.duration)
    return quote, commit


def _with_cpu(url: str, run: Any, duration: float) -> dict[str, float]:
    """`run()`'s figures, with the CPU milliseconds per request of the server's workers
    (`cpu`) and of their shadow processes (`shadow_cpu`) while it ran: CPU time is much
    less at the mercy of other work on a shared machine than latency."""
    workers, shadows = server_cpu(url)
    out = run()
    workers_after, shadows_after = server_cpu(url)
    requests = max(1.0, out["rps"] * duration)
    return {**out, "cpu": 1000 * (workers_after - workers) / requests,
            "shadow_cpu": 1000 * max(0.0, shadows_after - shadows) / requests}


def _median(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {k: sorted(r[k] for r in rounds)[len(rounds) // 2] for k in rounds[0]}


def shadow_bench(args: Any, tmp: Path) -> None:
    print("load average at the start: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in ("q", "c", "sq", "sc")}
    evaluated = dropped = failed = 0
    with postgres_database() as pg_url:
        database_url = pg_url or f"sqlite:///{tmp / 'shadow.db'}"
        with loyalty_server(database_url, tmp) as (url, key):
            _cli(database_url, tmp, "publish", str(_changed_retail(tmp)), "-m", "bench")
            _checkout(url, key, argparse.Namespace(duration=2, connections=args.connections))
            time.sleep(args.settle)
            for n in range(args.rounds):
                quote, commit = _checkout(url, key, args)
                runs["q"].append(quote)
                runs["c"].append(commit)
                _cli(database_url, tmp, "shadow", "start", "retail", "2")
                time.sleep(3 + (args.settle if n == 0 else 0))  # the workers re-read the
                # runs in shadow every 2 s (and start their shadow process the first time)
                quote, commit = _checkout(url, key, args)
                runs["sq"].append(quote)
                runs["sc"].append(commit)
                time.sleep(3)  # the shadow workers finish what is queued
                report = json.loads(_cli(database_url, tmp, "shadow", "report", "retail",
                                         "-o", "json"))["shadow"]
                _cli(database_url, tmp, "shadow", "stop", "retail")
                time.sleep(3)
                evaluated += report["evaluated"]
                dropped += report["dropped"]
                failed += report["failed"]
                print(f"round {n + 1}: shadow evaluated {report['evaluated']} of "
                      f"{sum(report['requests'].values())} requests, dropped "
                      f"{report['dropped']}, differences {report['differences']}")
            shadow_cpu = server_cpu(url)[1]
    quote, commit = _median(runs["q"]), _median(runs["c"])
    shadow_quote, shadow_commit = _median(runs["sq"]), _median(runs["sc"])
    where = "PostgreSQL" if pg_url else "SQLite"
    print(f"medians over {args.rounds} rounds:")
    print(line(f"quote ({where})", quote))
    print(line("quote, version in shadow", shadow_quote))
    print(line(f"commit ({where})", commit))
    print(line("commit, version in shadow", shadow_commit))
    for name, a, b in (("quote", quote, shadow_quote), ("commit", commit, shadow_commit)):
        print(f"{name} with / without shadow: p50 x{b['p50'] / a['p50']:.2f}, "
              f"p99 x{b['p99'] / a['p99']:.2f}, req/s x{b['rps'] / a['rps']:.2f}")
    print("CPU per request of the server's worker processes (ms), without / with shadow, "
          "and of their shadow processes:")
    for name, a, b in (("quote", quote, shadow_quote), ("commit", commit, shadow_commit)):
        print(f"{name}: workers {a['cpu']:.2f} / {b['cpu']:.2f} (x{b['cpu'] / a['cpu']:.2f}), "
              f"shadow processes {b['shadow_cpu']:.2f}")
    print(f"shadow over all rounds: evaluated {evaluated}, dropped {dropped}, failed {failed}")
    if shadow_cpu:
        print(f"shadow processes in all: {shadow_cpu:.1f} s CPU, "
              f"{1000 * shadow_cpu / max(1, evaluated):.2f} ms per evaluated request "
              "(their start-up and compiling included)")
    print("load average at the end: {:.1f} {:.1f} {:.1f}".format(*os.getloadavg()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--shadow", action="store_true",
                        help="the checkout's latency with and without a version in shadow")
    parser.add_argument("--rounds", type=int, default=3, help="with --shadow: rounds of each")
    parser.add_argument("--settle", type=float, default=5.0,
                        help="with --shadow: seconds to wait after the warm-up, and for the "
                             "shadow processes to start up in the first round")
    parser.add_argument("--pgbench-scale", type=int, default=10,
                        help="pgbench -i scale factor (100,000 accounts each)")
    args = parser.parse_args()
    machine.report("start")
    print(f"driver: {'wrk' if shutil.which('wrk') else 'httpx/asyncio (wrk not installed)'}, "
          f"{args.connections} connections, {args.duration} s each, 2 server workers")
    if args.shadow:
        with tempfile.TemporaryDirectory() as tmp_name:
            shadow_bench(args, Path(tmp_name))
        return
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        with echo_server(tmp) as echo_url:
            drive(f"{echo_url}/echo", CART, "-", False, argparse.Namespace(duration=2,
                  connections=args.connections))  # warm-up
            bare = drive(f"{echo_url}/echo", CART, "-", False, args)
        with loyalty_server(f"sqlite:///{tmp / 'bench.db'}", tmp) as (url, key):
            target = f"{url}/v1/programs/retail/evaluate"
            drive(target, CART, key, False, argparse.Namespace(duration=2,
                  connections=args.connections))
            quote = drive(target, CART, key, False, args)
        # the floor of a quote: the echo's app evaluating in the worker, then also reading
        # the member's row from the service's database (bench/quote_floor.py)
        floors = {}
        with bench_app("quote_floor:app", tmp,
                       {"QUOTE_FLOOR_DB": f"sqlite:///{tmp / 'bench.db'}"}) as floor_url:
            for route in ("evaluate", "evaluate-read"):
                drive(f"{floor_url}/{route}", CART, "-", False,
                      argparse.Namespace(duration=2, connections=args.connections))
                floors[route] = drive(f"{floor_url}/{route}", CART, "-", False, args)
        print(line("bare FastAPI echo", bare))
        print(line("evaluate (SQLite)", quote))
        print(line("floor: echo app + evaluate", floors["evaluate"]))
        print(line("floor: + the member's read", floors["evaluate-read"]))
        print(f"evaluate / bare = {quote['rps'] / bare['rps']:.2f}  (target ≥ 0.60, p99 ≤ 20 ms); "
              f"the floors / bare = {floors['evaluate']['rps'] / bare['rps']:.2f} and "
              f"{floors['evaluate-read']['rps'] / bare['rps']:.2f} "
              "(bench/quote_floor.py: evaluating in the worker, and reading the member's row too)")
        with postgres_database() as pg_url:
            if pg_url is None:
                machine.report("end")
                return
            commit_body = COMMIT_BODY
            with loyalty_server(pg_url, tmp) as (url, key):
                # the warm-up gives the 1,000 members their rows (each wrk thread steps
                # through its 500 at a few hundred commits a second): what follows is
                # the steady state of a checkout, orders of members the store knows
                first = drive(f"{url}/v1/programs/retail/orders", commit_body, key, True,
                              argparse.Namespace(duration=max(5, args.duration // 2),
                                                 connections=args.connections))
                caught_up(pg_url, 120)  # the warm-up's notifications planned and sent
                before = server_cpu(url)[0]
                commits = _with_cpu(url, lambda: drive(
                    f"{url}/v1/programs/retail/orders", commit_body, key, True, args),
                    args.duration)
                waited = caught_up(pg_url, 120)
                commits["cpu_jobs"] = 1000 * (server_cpu(url)[0] - before) / max(
                    1.0, commits["rps"] * args.duration)
        print(line("commit, warm-up (1st orders)", first))
        print(line("commit (PostgreSQL)", commits) + f"   workers' CPU {commits['cpu']:.2f} ms")
        print(f"{'':28} with the background jobs' work on them (until the notifications job "
              f"caught up, {waited:.0f} s later): workers' CPU {commits['cpu_jobs']:.2f} ms "
              f"per commit")
        measured = run_pgbench(args.duration, args.connections, args.pgbench_scale, tmp)
        if measured is not None:
            pgbench, floor, core = measured
            print(f"{'pgbench TPC-B-like':<28} {pgbench['tps']:>9.0f} tps     latency average "
                  f"{pgbench['latency']:.2f} ms  (scale {args.pgbench_scale}, "
                  f"{args.connections} clients)")
            print(line("its transaction over HTTP", floor)
                  + f"   workers' CPU {floor['cpu']:.2f} ms  (bench/commit_floor.py)")
            print(line("with the lifecycle core", core)
                  + f"   workers' CPU {core['cpu']:.2f} ms  (bench/commit_floor.py, /tpcb-core)")
            print(f"commits / pgbench = {commits['rps'] / pgbench['tps']:.2f}  "
                  f"(target ≥ 0.25, p99 ≤ 50 ms); the floor over HTTP / pgbench = "
                  f"{floor['rps'] / pgbench['tps']:.2f}, with the lifecycle core "
                  f"{core['rps'] / pgbench['tps']:.2f}; commits / the floor with the core = "
                  f"{commits['rps'] / core['rps']:.2f}")
        else:
            print(f"commits/s = {commits['rps']:.0f}  (target ≥ 0.25 × pgbench, p99 ≤ 50 ms)")
    machine.report("end")

if __name__ == "__main__":
    main()
