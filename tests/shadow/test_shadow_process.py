"""The shadow evaluation runs in a separate process at a lower priority, started only once
a program has a version in shadow, and it ends with the server process: when stopped,
after the requests handed to it, and on its own when the server process is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import store.shadow.report as shadow_report
import store.shadow.runs as runs
from store.registry.programs import ProgramCache
from store.shadow.tap import ShadowTap
from tests.shadow.changed import publish_changed
from tests.store.helpers import publish_retail

QUOTE = {"member": {"id": "Q-1"}, "as_of": "2026-11-17T14:30:00-05:00"}
LIVE = {"ruleset_version": 1, "tier_after": "bronze", "earn": {"by_rule": {}}}


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting for a parent that is gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def test_no_process_until_a_version_is_in_shadow_then_a_niced_one(db):
    publish_retail(db, 1)
    publish_changed(db, 2)
    tap = ShadowTap(db, ProgramCache(), check_seconds=0.1, nice=7)
    tap.start()
    try:
        assert tap.pid is None  # nothing in shadow: no process
        run = runs.start(db, "retail", 2, "tests")
        deadline = time.monotonic() + 120  # a start-up on a loaded machine takes a while
        while tap.pid is None and time.monotonic() < deadline:
            time.sleep(0.05)  # the watcher notices the run
        pid = tap.pid
        assert pid is not None and pid != os.getpid()
        niced = min(19, os.getpriority(os.PRIO_PROCESS, 0) + 7)
        while os.getpriority(os.PRIO_PROCESS, pid) != niced and time.monotonic() < deadline:
            time.sleep(0.05)  # it lowers its priority once it has started
        assert os.getpriority(os.PRIO_PROCESS, pid) == niced
        for _ in range(5):
            assert tap.offer(run, "quote", QUOTE, LIVE)
    finally:
        tap.stop(timeout=120)  # generous: a loaded machine
    # stopped after the requests handed over: all five evaluated and written
    assert not alive(pid)
    assert tap.wait_idle(0)
    shadow = shadow_report.report(db, ProgramCache(), "retail")["shadow"]
    assert shadow["evaluated"] == 5 and shadow["requests"]["quote"] == 5


SERVER = """
import sys, time
from store.db.database import open_database
from store.registry.programs import ProgramCache
from store.shadow.tap import ShadowTap
tap = ShadowTap(open_database(sys.argv[1]), ProgramCache(), check_seconds=0.1)
tap.start()
while tap.pid is None:
    time.sleep(0.05)
print(tap.pid, flush=True)
time.sleep(120)
"""


def test_the_shadow_process_ends_when_its_server_process_is_killed(db):
    publish_retail(db, 1)
    publish_changed(db, 2)
    runs.start(db, "retail", 2, "tests")
    server = subprocess.Popen([sys.executable, "-c", SERVER, db.url], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert server.stdout is not None
        pid = int(server.stdout.readline())
        assert alive(pid)
        server.send_signal(signal.SIGKILL)  # no chance to stop anything
        server.wait(10)
        deadline = time.monotonic() + 120  # it looks once it has started up
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(pid)
    finally:
        if server.poll() is None:
            server.kill()
