"""The shadow evaluation of one server process: a bounded queue and one worker thread.

The checkout handlers hand each live quote and commit of a program with a version in
shadow to `ShadowTap.offer` after they have their answer; `offer` never waits: when the
queue is full the request is dropped and counted (`dropped`). The worker thread evaluates
each one against the version in shadow through the same code as the live answer — a
quote through `store.checkout.orders.quote` pinned to the version in shadow, a commit
through `store.checkout.orders.rehearse`, the lifecycle step of a commit on a copy of the
member's book as the live commit found it — writing nothing but the shadow aggregates.
A shadow evaluation that raises is counted (`failed`) and sampled; the live answer was
sent before it started.

Which programs have a version in shadow is read from the database when the worker
starts and every `check_seconds` (and at once in the process that starts or stops one),
so the handlers look it up in memory.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import store.checkout.orders as orders
import store.shadow.runs as runs
from engine.simulation.shadow import differences, side_of
from store.db.database import Database
from store.registry.programs import ProgramCache
from store.shadow.tally import Sample, Tally

log = logging.getLogger(__name__)
BATCH = 200  # requests counted before a flush, at most
FLUSH_SECONDS = 0.5  # and at most this long after the last flush


@dataclass(frozen=True)
class Job:
    run: runs.Run
    operation: str  # quote | commit
    request: dict[str, Any]
    live: dict[str, Any]
    before: orders.BookBefore | None = None


class ShadowTap:
    def __init__(self, db: Database, cache: ProgramCache, capacity: int = 10_000,
                 check_seconds: float = 2.0) -> None:
        self.db, self.cache = db, cache
        self.check_seconds = check_seconds
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=capacity)
        self._runs: dict[str, runs.Run] = {}
        self._dropped: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self.tally = Tally()

    # ------------------------------------------------------------ request path

    def watching(self, program: str) -> runs.Run | None:
        """The run in shadow of `program`, if any (no I/O)."""
        return self._runs.get(program) if self._thread is not None else None

    def offer(self, run: runs.Run, operation: str, request: dict[str, Any],
              live: dict[str, Any], before: orders.BookBefore | None = None) -> bool:
        """Queue one live request for shadow evaluation; False (and counted) when full."""
        try:
            self._idle.clear()
            self._queue.put_nowait(Job(run, operation, request, live, before))
            return True
        except queue.Full:
            with self._lock:
                self._dropped[run.id] += 1
            return False

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._loop, name="shadow", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        self._stopping.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout)
        self._thread = None

    def refresh(self) -> None:
        """Re-read which programs have a version in shadow."""
        try:
            with self.db.read_connection() as conn:
                self._runs = runs.active(conn)
        except Exception:  # the database is away: keep what we knew
            log.exception("shadow: cannot read the runs in shadow")

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued request is evaluated and written (for tests, tools)."""
        return self._idle.wait(timeout)

    # ------------------------------------------------------------ worker

    def _loop(self) -> None:
        next_check = time.monotonic() + self.check_seconds
        flushed = time.monotonic()
        while not self._stopping.is_set():
            try:
                job = self._queue.get(timeout=min(FLUSH_SECONDS, self.check_seconds))
            except queue.Empty:
                job = None
            if job is not None:
                self._evaluate(job)
            # in batches: one write transaction for many requests under load
            if self.tally and (job is None or self.tally.requests >= BATCH
                               or time.monotonic() - flushed >= FLUSH_SECONDS):
                self._flush()
                flushed = time.monotonic()
            if time.monotonic() >= next_check:
                self._flush_dropped()
                self.refresh()
                next_check = time.monotonic() + self.check_seconds
            if self._queue.empty() and not self.tally:
                self._idle.set()
        self._flush_dropped()
        self._flush()

    def _flush(self) -> None:
        if not self.tally:
            return
        try:
            self.tally.flush(self.db)
        except Exception:
            log.exception("shadow: cannot write the aggregates; %d requests' figures lost",
                          self.tally.requests)
            self.tally = Tally(full=self.tally.full)

    def _flush_dropped(self) -> None:
        with self._lock:
            dropped, self._dropped = self._dropped, Counter()
        for run, n in dropped.items():
            self.tally.run_count(run, "health", "dropped", n)

    def _evaluate(self, job: Job) -> None:
        run, request, live = job.run, job.request, job.live
        member_id = str((request.get("member") or {}).get("id"))
        try:
            shadow = self._shadow(job, run.version, request)
            with self.db.read_connection() as conn:
                live_program = self.cache.get(conn, run.program, live["ruleset_version"], self.db)
                shadow_program = self.cache.get(conn, run.program, run.version, self.db)
            a, b = side_of(live_program, request, live), side_of(shadow_program, request, shadow)
            kinds = differences(a, b)
        except Exception as exc:  # noqa: BLE001  # counted and sampled; the live answer is gone
            self.tally.failed(run.id, job.operation, Sample(
                job.operation, member_id, request, live, None, f"{type(exc).__name__}: {exc}"))
            return
        self.tally.add(run.id, job.operation, member_id, live["ruleset_version"], a, b, kinds)
        sample = None
        for kind in kinds:
            if self.tally.wants_sample(run.id, kind):
                if sample is None:
                    try:
                        sample = self._traced(job, member_id)
                    except Exception:  # noqa: BLE001  # the answers without their traces
                        sample = Sample(job.operation, member_id, request, live, shadow)
                self.tally.sample(run.id, kind, sample)

    def _shadow(self, job: Job, version: int, request: dict[str, Any]) -> dict[str, Any]:
        if job.operation == "quote":
            return orders.quote(self.db, self.cache, job.run.program, request, version,
                                may_call_out=False)
        assert job.before is not None
        with self.db.read_connection() as conn:
            program = self.cache.get(conn, job.run.program, version, self.db)
        return orders.rehearse(self.db, program, request, job.before)

    def _traced(self, job: Job, member_id: str) -> Sample:
        """A sample of a difference: both versions' answers with their explain traces
        (evaluated again with `explain`, from the same book)."""
        request = {**job.request, "explain": True}
        live = self._shadow(job, job.live["ruleset_version"], request)
        shadow = self._shadow(job, job.run.version, request)
        if job.operation == "commit":  # what the live commit answered, with the trace
            live = {**job.live, "trace": live.get("trace")}
        return Sample(job.operation, member_id, job.request, live, shadow)
