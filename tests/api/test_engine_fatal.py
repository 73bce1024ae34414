"""EngineFatal ends the worker: a real `loyalty serve` worker (one, so nothing else can
answer) whose durable-rules engine is exhausted for real answers the quote that meets it
with a 503 problem, ends, and is replaced by the supervisor: quotes succeed again, from a
new process. No answer on the way is a 500."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.api.server import create_key, free_port
from tests.store.db_support import scratch_database

QUOTE = {"member": {"id": "F-1"}, "order": {
    "id": "F-1", "placed_at": "2026-11-17T12:00:00Z",
    "lines": [{"sku": "TV", "category": "electronics", "quantity": 1, "unit_price": "100"}]}}
SERVE = ("from cli.serve_cmd import prepare, run_workers; import sys; prepare(sys.argv[1]); "
         "run_workers('tests.api.fatal_app:create', '127.0.0.1', int(sys.argv[2]), 1, "
         "'warning')")


def _wait_for(check, what: str, log: Path, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            found = check()
        except httpx.HTTPError:
            found = None
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} within {seconds} s:\n{log.read_text()}")


def test_engine_fatal_ends_the_worker_and_a_fresh_one_answers(tmp_path):
    with scratch_database(tmp_path) as database_url:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "LOYALTY_DATABASE_URL": database_url}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        log = tmp_path / "server.log"
        with open(log, "w") as out:
            proc = subprocess.Popen([sys.executable, "-c", SERVE, database_url, str(port)],
                                    cwd=Path(__file__).resolve().parents[2], env=env,
                                    stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_for(lambda: httpx.get(f"{url}/readyz", timeout=5).status_code == 200,
                      "the server is ready", log)
            headers = {"Authorization": f"Bearer {create_key(database_url, 'evaluate')}"}

            def quote() -> httpx.Response:
                return httpx.post(f"{url}/v1/programs/retail/evaluate", json=QUOTE,
                                  headers=headers, timeout=30)

            assert quote().status_code == 200
            first = httpx.get(f"{url}/test/pid").json()["pid"]
            exhausted = httpx.post(f"{url}/test/exhaust-engine", timeout=60).json()
            assert exhausted["pid"] == first and exhausted["leaked"] >= 1024

            failed = quote()  # meets MemoryError in the engine: fatal
            assert failed.status_code == 503, failed.text
            assert failed.headers["content-type"] == "application/problem+json"
            assert failed.json()["code"] == "engine_restarting"
            assert failed.headers["retry-after"] == "1"

            answers: list[int] = []

            def served_again() -> bool:
                response = quote()
                answers.append(response.status_code)
                return response.status_code == 200

            _wait_for(served_again, "a quote succeeds again", log)
            assert set(answers) <= {200, 503}, answers  # never a 500
            assert httpx.get(f"{url}/test/pid").json()["pid"] != first  # a new worker
            assert proc.poll() is None  # the supervisor lives on
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
