"""A real `loyalty serve` process on loopback, for the tests that need one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

LOYALTY = [sys.executable, "-c", "from cli.main import main; main()"]


@dataclass
class Server:
    url: str
    database_url: str
    key: str
    admin_key: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_key(database_url: str, *scopes: str) -> str:
    args = [a for s in scopes for a in ("--scope", s)]
    out = subprocess.run([*LOYALTY, "keys", "create", *args, "--database-url", database_url],
                         check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


@contextmanager
def running_server(database_url: str, cwd: Path, workers: int = 2,
                   settings: dict[str, str] | None = None,
                   ready_seconds: float = 60) -> Iterator[Server]:
    """`settings`: more environment variables for the server (`LOYALTY_…`);
    `ready_seconds`: how long it may take to answer /readyz."""
    port = free_port()
    env = {**os.environ, "LOYALTY_DATABASE_URL": database_url, **(settings or {})}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with open(cwd / "server.log", "w") as log:
        proc = subprocess.Popen([*LOYALTY, "serve", "--port", str(port), "--workers", str(workers),
                                 "--log-level", "warning"], cwd=cwd, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + ready_seconds
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start:\n{(cwd / 'server.log').read_text()}")
                time.sleep(0.2)
            yield Server(url, database_url, create_key(database_url, "evaluate", "commit"),
                         create_key(database_url, "admin"))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
