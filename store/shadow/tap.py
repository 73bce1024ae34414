"""The shadow evaluation of one server process: a bounded queue to a separate, niced
process (store/shadow/worker.py).

The checkout handlers hand each live quote and commit of a program with a version in
shadow to `ShadowTap.offer` after they have their answer; `offer` never waits: when the
queue is full the request is dropped and counted (`dropped`). The shadow process
evaluates and counts; the server process only pickles the request and its answer onto
the queue, so shadow work takes no CPU time from the server's own requests beyond that,
and runs at a lower priority (`LOYALTY_SHADOW_NICE`) when the cores are busy.

Which programs have a version in shadow is read from the database when the server
process starts and every `check_seconds` by a watcher thread (and at once in the process
that starts or stops one), so the handlers look it up in memory. The shadow process is
started the first time a program has a version in shadow (most servers never start one)
and stops with the server process: when told, after the requests handed to it, or on its
own when the server process is gone.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time
from collections import Counter
from multiprocessing.process import BaseProcess
from typing import Any

import store.checkout.orders as orders
import store.shadow.runs as runs
from store.db.database import Database
from store.registry.programs import ProgramCache
from store.shadow import worker
from store.shadow.evaluator import Job

log = logging.getLogger(__name__)
__all__ = ["Job", "ShadowTap"]


class ShadowTap:
    def __init__(self, db: Database, cache: ProgramCache, capacity: int = 10_000,
                 check_seconds: float = 2.0, nice: int = 10) -> None:
        self.db, self.cache = db, cache  # `cache`: the server's, for nothing but its type
        self.check_seconds, self.nice = check_seconds, nice
        self.capacity = capacity
        self._context = multiprocessing.get_context("spawn")  # no fork of a threaded server
        self._channels_made: worker.Channels | None = None  # on first use: most servers never
        self._runs: dict[str, runs.Run] = {}
        self._offered = 0
        self._dropped: Counter[int] = Counter()
        self._lock = threading.RLock()
        self._process: BaseProcess | None = None
        self._watcher: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def _channels(self) -> worker.Channels:
        channels = self._channels_made
        if channels is None:
            with self._lock:
                if self._channels_made is None:
                    self._channels_made = worker.Channels(
                        self._context.Queue(maxsize=self.capacity), self._context.Queue(),
                        self._context.Value("q", 0))
                channels = self._channels_made
        return channels

    # ------------------------------------------------------------ request path

    def watching(self, program: str) -> runs.Run | None:
        """The run in shadow of `program`, if any (no I/O)."""
        return self._runs.get(program) if self._watcher is not None else None

    def offer(self, run: runs.Run, operation: str, request: dict[str, Any],
              live: dict[str, Any], before: orders.BookBefore | None = None) -> bool:
        """Queue one live request for shadow evaluation; False (and counted) when full."""
        try:
            self._channels.jobs.put_nowait(Job(run, operation, request, live, before))
        except (queue.Full, ValueError):  # full, or closed: the server is stopping
            with self._lock:
                self._dropped[run.id] += 1
            return False
        with self._lock:
            self._offered += 1
        return True

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.refresh()
        self._watcher = threading.Thread(target=self._watch, name="shadow-watch", daemon=True)
        self._watcher.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the shadow process after the requests already handed over (at most
        `timeout` seconds: then it is terminated, their figures lost)."""
        if self._watcher is None:
            return
        self._stopping.set()
        self._watcher.join(timeout)
        self._watcher = None
        self._send_dropped()
        process = self._process
        if process is not None:
            with self._lock:
                self._channels.control.put(("stop", self._offered))
            process.join(timeout)
            if process.is_alive():
                log.warning("shadow: the shadow process did not stop in %.0f s", timeout)
                process.terminate()
                process.join(5)
            self._process = None
        if self._channels_made is not None:
            for q in (self._channels_made.jobs, self._channels_made.control):
                q.cancel_join_thread()  # never wait at exit for what nobody will read
                q.close()

    def refresh(self) -> None:
        """Re-read which programs have a version in shadow; start the shadow process
        the first time one has."""
        try:
            with self.db.read_connection() as conn:
                self._runs = runs.active(conn)
        except Exception:  # the database is away: keep what we knew
            log.exception("shadow: cannot read the runs in shadow")
        if self._runs:
            self._ensure_process()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every request handed over is evaluated and written (for tests, tools)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                offered = self._offered
            if offered == 0 or self._channels.done.value >= offered:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    @property
    def pid(self) -> int | None:
        """The shadow process's id while it runs."""
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    # ------------------------------------------------------------ the watcher

    def _watch(self) -> None:
        while not self._stopping.wait(self.check_seconds):
            self.refresh()
            self._send_dropped()
            process = self._process
            if process is not None and not process.is_alive() and not self._stopping.is_set():
                log.error("shadow: the shadow process ended (exit code %s); starting another",
                          process.exitcode)
                self._process = None
                self._ensure_process()

    def _ensure_process(self) -> None:
        with self._lock:
            if self._process is not None or self._stopping.is_set():
                return
            process = self._context.Process(
                target=worker.main, name="loyalty-shadow", daemon=True,
                args=(self.db.url, self.db.pgbouncer, self.check_seconds, self.nice,
                      self._channels))
            process.start()
            self._process = process

    def _send_dropped(self) -> None:
        with self._lock:
            dropped, self._dropped = self._dropped, Counter()
        for run, n in dropped.items():
            self._channels.control.put(("dropped", run, n))
