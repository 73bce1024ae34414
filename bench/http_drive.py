"""Driving the HTTP benchmarks' servers: starting them (the service, or a bare app of
bench/ on uvicorn with 2 workers), loading them with wrk (or an httpx driver when wrk is
not installed), and reading their workers' CPU from /proc. Used by bench/http_bench.py."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
LOYALTY = [PY, "-c", "from cli.main import main; main()"]

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def process(cmd: list[str], ready_url: str, env: dict[str, str], cwd: Path) -> Iterator[int]:
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_ready(ready_url, proc)
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def loyalty_server(database_url: str, tmp: Path) -> Iterator[tuple[str, str]]:
    port = free_port()
    # The rate limits are checked on every request but never refuse one: the benchmark
    # drives one key (and, for quotes, one member) as fast as it can.
    unlimited = json.dumps({budget: {"rate": 1e9, "burst": 1e9}
                            for budget in ("quote", "write", "read", "admin")})
    env = {**os.environ, "LOYALTY_DATABASE_URL": database_url,
           "LOYALTY_RATE_LIMITS": unlimited, "LOYALTY_MEMBER_RATE_LIMITS": unlimited}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    url = f"http://127.0.0.1:{port}"
    with process([*LOYALTY, "serve", "--port", str(port), "--workers", "2", "--log-level",
                  "warning"], f"{url}/readyz", env, tmp) as pid:
        SERVERS[url] = pid
        out = subprocess.run([*LOYALTY, "keys", "create", "--scope", "evaluate", "--scope",
                              "commit"], env=env, cwd=tmp, capture_output=True, text=True,
                             check=True).stdout
        yield url, out.strip().splitlines()[-1]


@contextmanager
def bench_app(app: str, tmp: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """An app of bench/ ("module:attribute") on uvicorn with 2 workers; its workers' CPU
    is read through SERVERS."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [PY, "-m", "uvicorn", app, "--app-dir", str(REPO / "bench"),
           "--port", str(port), "--workers", "2", "--log-level", "warning", "--no-access-log"]
    with process(cmd, f"{url}/openapi.json", {**os.environ, **(env or {})}, tmp) as pid:
        SERVERS[url] = pid
        yield url



# ------------------------------------------------------------------ drivers
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(key)s"
local template = [==[%(body)s]==]
local unique = %(unique)s
local counter = 0
local prefix = ""
local threads = 0
-- Order ids are new in every run: "B-<run>-<thread>-<n>", <run> drawn by Python for each
-- run (wrk's own random numbers are the same in every run, so a second run would resend
-- the first run's orders and count their replays). Each thread steps through the 1,000
-- members, the second 500 ahead of the first, so that two requests for one member at
-- once are as rare as at a real checkout (threads in step would queue at that member's
-- row lock).
function setup(thread)
  thread:set("tid", "%(run)s-" .. threads)
  thread:set("offset", threads * 500)
  threads = threads + 1
end
function init(args)
  prefix = tid or "%(run)s"
  offset = offset or 0
end
function request()
  counter = counter + 1
  local body = template
  if unique then
    body = string.gsub(template, "ORDER%%-ID", "B-" .. prefix .. "-" .. counter)
    body = string.gsub(body, "MEMBER%%-ID", "BM-" .. ((offset + counter) %% 1000))
  end
  return wrk.format(nil, nil, nil, body)
end
"""


def run_wrk(url: str, body: str, key: str, unique: bool, seconds: int, conns: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT % {"key": key, "body": body, "unique": "true" if unique else "false",
                              "run": secrets.token_hex(4)})
    out = subprocess.run(["wrk", "-t2", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", f.name,
                          url], capture_output=True, text=True, check=True).stdout
    os.unlink(f.name)

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{out}")
    rps = float(found.group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = int(non2xx.group(1)) if non2xx else 0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return {"rps": rps, "p50": ms("50%"), "p99": ms("99%"), "errors": float(errors)}


def _httpx_worker(args: tuple[str, str, str, bool, float, int, str], queue: Any) -> None:
    url, body, key, unique, seconds, conns, wid = args  # wid: the run's nonce and the worker

    async def main() -> tuple[list[float], int]:
        latencies: list[float] = []
        errors = 0
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient(headers=headers, timeout=seconds + 30, limits=httpx.Limits(
                max_connections=conns)) as client:
            async def loop(n: int) -> None:
                nonlocal errors
                i = 0
                while time.monotonic() < deadline:
                    i += 1
                    data = body
                    if unique:
                        data = body.replace("ORDER-ID", f"B-{wid}-{n}-{i}").replace(
                            "MEMBER-ID", f"BM-{(n * 7919 + i) % 1000}")
                    start = time.perf_counter()
                    try:  # a connection the server drops (ReadError) is an error, not a hang
                        response = await client.post(url, content=data)
                    except httpx.HTTPError:
                        errors += 1
                        continue
                    latencies.append(time.perf_counter() - start)
                    if response.status_code >= 300:
                        errors += 1
            await asyncio.gather(*(loop(n) for n in range(conns)))
        return latencies, errors

    try:
        queue.put(asyncio.run(main()))
    except BaseException:  # the parent must never wait for a result that cannot come
        queue.put(([], -1))
        raise


def run_httpx(url: str, body: str, key: str, unique: bool, seconds: int, conns: int) -> dict[str, float]:
    run = secrets.token_hex(4)  # order ids new in every run, as with wrk
    context = multiprocessing.get_context("spawn")
    queue: Any = context.Queue()
    procs = [context.Process(
        target=_httpx_worker, args=((url, body, key, unique, seconds, conns // 2, f"{run}-{w}"),
                                    queue))
        for w in range(2)]
    for p in procs:
        p.start()
    results = []
    for _ in procs:  # bounded: a worker that died without a word does not hang the bench
        try:
            results.append(queue.get(timeout=seconds + 120))
        except Exception:  # noqa: BLE001 (queue.Empty)
            results.append(([], -1))
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()
    if any(errors < 0 for _, errors in results):
        raise RuntimeError("an httpx driver process failed")
    lat = sorted(x for latencies, _ in results for x in latencies)
    if not lat:
        raise RuntimeError("no request succeeded")
    pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
    return {"rps": len(lat) / seconds, "p50": pick(0.50), "p99": pick(0.99),
            "errors": float(sum(errors for _, errors in results))}


def drive(url: str, payload: dict[str, Any], key: str, unique: bool, args: Any) -> dict[str, float]:
    body = json.dumps(payload)
    fn = run_wrk if shutil.which("wrk") else run_httpx
    return fn(url, body, key, unique, args.duration, args.connections)


SERVERS: dict[str, int] = {}  # a server's URL → the process id of its supervisor


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command (field 3, the state, first)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, IndexError):
        return []


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if len(fields) > 1 and fields[1] == str(pid):
                out.append(int(entry.name))
    return out


def _cpu(pid: int) -> float:
    """User + system CPU seconds of one process (not of its children)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0


def server_cpu(url: str) -> tuple[float, float]:
    """CPU seconds so far of the server's worker processes, and of the processes they
    started (their shadow processes, when there are any)."""
    def started(pid: int) -> list[int]:  # all but multiprocessing's resource tracker
        return [c for c in _children(pid)
                if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]

    pid = SERVERS.get(url)
    if pid is None:
        return 0.0, 0.0
    workers = started(pid)  # forked by `loyalty serve`, spawned by uvicorn's command line
    return (sum(_cpu(w) for w in workers),
            sum(_cpu(c) for w in workers for c in started(w)))


def line(name: str, r: dict[str, float]) -> str:
    extra = f"  errors (non-2xx, socket) {int(r['errors'])}" if r.get("errors") else ""
    return f"{name:<28} {r['rps']:>9.0f} req/s   p50 {r['p50']:6.2f} ms   p99 {r['p99']:6.2f} ms{extra}"
