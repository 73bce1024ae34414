"""The shadow process of one server process: started by `ShadowTap` (store/shadow/tap.py)
with the `spawn` method and lowered in priority (`os.nice`), it takes live requests off
the bounded queue, evaluates them against the version in shadow (store/shadow/evaluator.py)
and adds the figures to the database in batches. It has its own database connections and
its own compiled versions, so the server process spends nothing on shadow work but
handing the request over.

It stops when told (after the requests handed over before the stop), and on its own when
the server process that started it is gone (killed without a chance to stop it).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import time
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from store.shadow.evaluator import Evaluator, Job

log = logging.getLogger(__name__)
BATCH = 200  # requests counted before a flush, at most
FLUSH_SECONDS = 0.5  # and at most this long after the last flush


@dataclass(frozen=True)
class Channels:
    """What the server process and its shadow process share."""

    jobs: Any  # multiprocessing Queue[Job], bounded
    control: Any  # multiprocessing Queue of ("dropped", run, n) and ("stop", handed_over)
    done: Synchronized[int]  # requests whose figures are written (or given up on)


def main(url: str, pgbouncer: bool, check_seconds: float, nice: int,
         channels: Channels) -> None:
    """The shadow process's entry point: lower the priority first, then import the store
    and the engine (this module imports neither, so a busy machine serves the server
    processes before this one's start-up too)."""
    try:
        os.nice(nice)
    except OSError:  # not allowed here: run at the server's priority
        log.warning("shadow: cannot lower this process's priority")
    from store.db.database import open_database
    from store.registry.programs import ProgramCache
    from store.shadow.evaluator import Evaluator

    db = open_database(url, pool_size=2, pgbouncer=pgbouncer)
    evaluator = Evaluator(db, ProgramCache(check_seconds))
    parent = multiprocessing.parent_process()
    taken = pending = 0  # requests taken off the queue; of them, not yet written
    stop_after: int | None = None
    flushed = time.monotonic()
    try:
        while stop_after is None or taken < stop_after:
            stop_after = _control(channels, evaluator, stop_after)
            if parent is not None and not parent.is_alive():
                break
            try:
                job: Job | None = channels.jobs.get(timeout=FLUSH_SECONDS)
            except queue.Empty:
                job = None
            if job is not None:
                evaluator.evaluate(job)
                taken, pending = taken + 1, pending + 1
            # in batches: one write transaction for many requests under load
            if evaluator.tally and (job is None or evaluator.tally.requests >= BATCH
                                    or time.monotonic() - flushed >= FLUSH_SECONDS):
                evaluator.flush()
                flushed = time.monotonic()
            if not evaluator.tally and pending:
                pending = _done(channels, pending)
        _control(channels, evaluator, stop_after)
        evaluator.flush()
        _done(channels, pending)
    finally:
        db.dispose()


def _control(channels: Channels, evaluator: Evaluator, stop_after: int | None) -> int | None:
    while True:
        try:
            message = channels.control.get_nowait()
        except queue.Empty:
            return stop_after
        if message[0] == "dropped":
            _, run, n = message
            evaluator.tally.run_count(run, "health", "dropped", n)
        elif message[0] == "stop":
            stop_after = message[1]


def _done(channels: Channels, n: int) -> int:
    with channels.done.get_lock():
        channels.done.value += n
    return 0
