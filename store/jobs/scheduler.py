"""Background jobs: the store's periodic work, run on a schedule.

The jobs (`default_jobs`):

- `fulfilment` — every `LOYALTY_FULFILMENT_DISPATCH_SECONDS` (15 s): deliver every due
  webhook fulfilment of every program (`store.redemptions.fulfilment.dispatch`): pending items, e.g.
  recorded while the webhook was not configured, and items whose dispatcher died
  (a worker killed between attempts), once its lease and backoff have passed. Failed items stay
  failed until someone asks for a retry (`POST …/fulfilment/dispatch?retry_failed=true`).
- `expiry` — every `LOYALTY_EXPIRY_JOB_SECONDS` (3600 s): `store.jobs.expiry.run` over every
  published program as of now: lots past their date are expired, timed-out checkout
  holds are released (audited as `expire` by actor `jobs` when something changed), and
  time-based alerts of the `engagement:` section that came due are raised.
- `external_points` — every `LOYALTY_EXTERNAL_POINTS_JOB_SECONDS` (30 s): transfers owed to
  external points APIs (store/external/transfers.py).
- `b2b_orders` — every `LOYALTY_B2B_ORDERS_JOB_SECONDS` (30 s): companies' orders past
  their approval time are cancelled, due virtual items of orders sent to the fulfilment
  API, orders a dead worker left `placing` settled (store/b2b_orders/job.py).
- `webhooks` — every `LOYALTY_WEBHOOK_DISPATCH_SECONDS` (5 s): domain events committed
  since each webhook subscription's cursor are queued as deliveries, and due deliveries
  are sent, signed, in order per member, with retries and a dead letter
  (store/events/delivery.py; knobs `LOYALTY_WEBHOOK_*`).
- `cashback.payout` — every `LOYALTY_CASHBACK_PAYOUT_SECONDS` (86400 s): members' unpaid
  cashback that adds up to more than zero is marked paid, one payout reference per run
  (store/ledger/cashback.py).
- `notifications` — every `LOYALTY_NOTIFY_DISPATCH_SECONDS` (10 s): the messages of new
  domain events are planned under a per-program cursor and the due ones sent by email or
  webhook (store/notify/dispatch.py).

An interval of 0 disables a job in the scheduler.

**Several schedulers at once are safe.** Every API worker process (`loyalty serve
--workers N`) runs its own `Scheduler`, and `loyalty jobs run` may run beside them:

- fulfilment claims each due item with a conditional UPDATE that sets a lease (status
  `sending`, `next_attempt_at` moved ahead) before sending, so two dispatchers never send
  one item at the same time; the webhook also gets the same `Idempotency-Key` every time;
- webhooks queue a subscription's cursor under its row lock (`SKIP LOCKED`) and claim
  deliveries with `FOR UPDATE SKIP LOCKED` and a lease, like the external transfers;
- notifications plan a program's events under a lock on its cursor row (one message
  record per event, notification and channel) and claim each message with a conditional
  UPDATE and a lease before sending it;
- expiry locks each member's row (`SELECT … FOR UPDATE` on PostgreSQL, `BEGIN IMMEDIATE`
  on SQLite) before touching its lots and holds, and an expired lot has nothing left, so a
  second run racing the first writes nothing for a member the first already did.

Each scheduler waits a random part of an interval (at most 30 s) before a job's first run
and varies every interval by ±`jitter` (10 %), so workers started together do not fire in
lockstep.

**Adding a job.** Write a function `(Database) -> dict` (a JSON-able summary; raise on
failure), add its interval to `store.settings.Settings` (a `LOYALTY_…_SECONDS` field, 0 to
disable), and append `Job(name, settings.<field>, function)` in `default_jobs`. The
scheduler, `loyalty jobs run` (`--only NAME`) and the API workers pick it up from there.
Like the two above, a job must be safe to run in several processes at once (claim work
with a compare-and-set or a row lock) and to be cut short (the next run finishes it).
Document it in the "Background jobs" section of docs/api.md.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import store.b2b_orders.job as b2b_orders
import store.clock as clock
import store.events.delivery as webhook_delivery
import store.jobs.expiry as expiry
import store.ledger.cashback as cashback
import store.notify.dispatch as notify
import store.redemptions.fulfilment as fulfilment
from store.db.database import Database
from store.settings import Settings

log = logging.getLogger(__name__)

JobFunction = Callable[[Database], dict[str, Any]]

FIRST_RUN_SPREAD = 30.0  # a job's first run: within its interval, and at most this late
FULFILMENT_ROUNDS = 50   # claims of up to 100 items each per fulfilment run


@dataclass(frozen=True)
class Job:
    """A named unit of periodic work. `interval` in seconds; 0 (or less) disables it in the
    scheduler (`run_once` still runs it when asked)."""

    name: str
    interval: float
    run: JobFunction


def dispatch_fulfilment(db: Database) -> dict[str, Any]:
    """Deliver every due webhook fulfilment of every program. The webhook settings
    (`LOYALTY_FULFILMENT_*`) are read on each run."""
    settings = fulfilment.FulfilmentSettings()  # type: ignore[call-arg]
    if not settings.webhook_url:
        return {"outcome": {}, "skipped": "LOYALTY_FULFILMENT_WEBHOOK_URL is not set"}
    outcome: dict[str, int] = {}
    for _ in range(FULFILMENT_ROUNDS):  # a dispatch claims at most 100 items
        sent = fulfilment.dispatch(db, settings=settings)
        if not sent:
            break
        for status, count in sent.items():
            outcome[status] = outcome.get(status, 0) + count
    return {"outcome": outcome}


def deliver_webhooks(db: Database) -> dict[str, Any]:
    """Queue new domain events for the webhook subscriptions and send the due deliveries
    (store/events/delivery.py). The knobs (`LOYALTY_WEBHOOK_*`) are read on each run."""
    return {"outcome": webhook_delivery.run(db)}


def expire_due(db: Database) -> dict[str, Any]:
    """Expire what is due now in every published program and release timed-out holds."""
    at = clock.now()
    reports = expiry.run(db, None, at, actor="jobs")
    return {"as_of": at.isoformat(), "programs": {
        program: {key: value for key, value in report.to_json().items() if key != "as_of"}
        for program, report in reports.items()}}


def external_points(db: Database) -> dict[str, Any]:
    """Transfers owed to external points APIs, and debits whose outcome stayed unknown
    (store/external/transfers.py). Safe in several workers: transfers are claimed with a
    lease (SKIP LOCKED on PostgreSQL), queuing is idempotent (one transfer per ledger
    entry, a unique key), and settling a debit moves its journal row conditionally."""
    import store.external.transfers as external_transfers

    return external_transfers.run_job(db)


def pay_cashback(db: Database) -> dict[str, Any]:
    """Mark paid every member's unpaid cashback that adds up to more than zero, in every
    program (store/ledger/cashback.py `payout`). Safe in several workers: entries are
    marked with a conditional UPDATE (`paid_at IS NULL`), so none is paid twice."""
    return cashback.payout(db)


def notifications(settings: Settings) -> JobFunction:
    """Plan the messages of new domain events and send the due ones
    (store/notify/dispatch.py). Safe in several workers: a program's events are planned
    under its cursor row's lock, one record per (event, notification, channel), and
    each message is claimed with a lease before it is sent."""
    def run(db: Database) -> dict[str, Any]:
        return notify.run(db, settings)
    return run


def default_jobs(settings: Settings) -> list[Job]:
    """The jobs every scheduler runs, with their intervals from `settings`. To add one,
    append it here (see the module docstring)."""
    return [
        Job("fulfilment", settings.fulfilment_dispatch_seconds, dispatch_fulfilment),
        Job("expiry", settings.expiry_job_seconds, expire_due),
        Job("external_points", settings.external_points_job_seconds, external_points),
        Job("cashback.payout", settings.cashback_payout_seconds, pay_cashback),
        Job("b2b_orders", settings.b2b_orders_job_seconds, b2b_orders.run),
        Job("notifications", settings.notify_dispatch_seconds, notifications(settings)),
        Job("webhooks", settings.webhook_dispatch_seconds, deliver_webhooks),
    ]


def run_job(db: Database, job: Job) -> dict[str, Any]:
    """Run one job; an exception is logged and answered as `{"error": "..."}`."""
    started = time.monotonic()
    try:
        summary = job.run(db)
    except Exception as exc:  # one failing job never stops the others
        log.exception("job %s failed", job.name)  # the whole story, with the traceback
        first_line = next(iter(str(exc).splitlines()), "")
        return {"error": f"{type(exc).__name__}: {first_line}"[:500]}
    log.info("job %s done in %.2f s: %s", job.name, time.monotonic() - started, summary)
    return summary


def run_once(db: Database, jobs: Iterable[Job]) -> dict[str, dict[str, Any]]:
    """Run each job once, in order: {name: summary, or {"error": "..."} if it raised}."""
    return {job.name: run_job(db, job) for job in jobs}


class Scheduler:
    """Runs jobs, each on its own interval and in its own daemon thread, until `stop()`.

    A job's runs never overlap one another, and a slow job (a webhook that times out,
    its retries sleeping through their backoff) delays only its own next run, never the
    other jobs. Waiting between runs is on a stop event, so `stop()` ends the waits at
    once; a job in flight is let finish (up to `stop`'s timeout; the threads are daemons,
    so a stuck job never holds the process).
    """

    def __init__(self, db: Database, jobs: Iterable[Job], jitter: float = 0.1,
                 rng: random.Random | None = None,
                 on_result: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.db = db
        self.jobs = [job for job in jobs if job.interval > 0]
        names = [job.name for job in self.jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must be unique: {names}")
        if not 0 <= jitter < 1:
            raise ValueError("jitter is a fraction of the interval, from 0 up to 1")
        self.jitter = jitter
        self.on_result = on_result
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def first_delay(self, job: Job) -> float:
        with self._rng_lock:
            return self._rng.uniform(0, min(job.interval, FIRST_RUN_SPREAD))

    def next_delay(self, job: Job) -> float:
        with self._rng_lock:
            return job.interval * self._rng.uniform(1 - self.jitter, 1 + self.jitter)

    def start(self) -> None:
        if self._threads:
            raise RuntimeError("scheduler already started")
        self._threads = [threading.Thread(target=self._loop, args=(job,), name="loyalty-jobs",
                                          daemon=True) for job in self.jobs]
        for thread in self._threads:
            thread.start()

    def run(self) -> None:
        """Run the jobs in the foreground until `stop()` (from another thread or a signal)."""
        self.start()
        self.join()

    def _loop(self, job: Job) -> None:
        due = time.monotonic() + self.first_delay(job)
        while not self._stop.is_set():
            wait = due - time.monotonic()
            if wait > 0:
                self._stop.wait(wait)
                continue  # woken by stop(), or the job is due now
            summary = run_job(self.db, job)
            if self.on_result is not None:
                try:
                    self.on_result(job.name, summary)
                except Exception:  # a reporting hook never stops the jobs
                    log.exception("reporting job %s failed", job.name)
            due = time.monotonic() + self.next_delay(job)

    def stop(self, timeout: float | None = 10.0) -> bool:
        """Ask the loops to end and wait for them (for jobs in flight to finish) up to
        `timeout` seconds in all; True when every thread has ended."""
        self._stop.set()
        self.join(timeout)
        return not self.is_alive()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the threads to end (after `stop()`), up to `timeout` seconds in all."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def is_alive(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)
