"""Simulation runs started from the console: a published version replayed over a
generated history (`engine.simulation.generate`) or over the store's own recorded
history of the program (store/imports/export.py), in the background, with progress,
keeping the HTML report (`engine.simulation.report.render`).

Runs are kept in the database (`simulation_runs`), so every server worker shows every
run, and a finished run's report stays until the row is deleted. The worker that was
asked to start a run does it: a thread writes the recorded history (a read of the
database), then the replay runs in a process of its own (it is CPU-bound: in a thread it
would hold the serving process's interpreter lock), which sends its progress — lines of
the history replayed — through a pipe; the thread writes it to the run's row at most
twice a second and at least every `HEARTBEAT` seconds. Each worker process runs at most
`MAX_RUNNING` at a time; later ones wait, `queued`, up to `MAX_QUEUED`: a run asked for
beyond that is refused (409 `simulations_busy`), so repeated requests cannot pile up
waiting threads and rows. A run whose row has not been written
for `STALE` (its worker stopped: a restart, a crash) is shown as failed.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import defer

import store.imports.export as export
from engine.program import load_program
from engine.simulation.generate import DEFAULT_END, DEFAULT_START, generate
from engine.simulation.report import render
from engine.simulation.simulate import count_lines, simulate
from store.db.database import Database
from store.errors import Conflict, NotFound, Unprocessable
from store.registry.programs import ProgramCache
from store.tables.operations import SimulationRunRow

MAX_RUNNING = 2
MAX_QUEUED = 8  # runs waiting for a slot, per worker process
LISTED = 20
HEARTBEAT = 5.0  # seconds between writes of a run that is alive but has nothing new
PROGRESS_EVERY = 0.5  # seconds between writes of its progress
STALE = timedelta(seconds=60)
MAX_EVENTS = 2_000_000  # a generated history's events (about 40 s to generate)
MAX_MEMBERS = 200_000
RUNNING = ("queued", "exporting", "generating", "simulating")


@dataclass(frozen=True)
class Run:
    id: str
    program: str
    version: int
    source: str  # generated recorded
    members: int | None
    events: int | None
    seed: int | None
    started_by: str
    created_at: datetime
    updated_at: datetime
    status: str  # queued exporting generating simulating done failed
    done: int  # lines of the history replayed
    total: int  # lines of the history (0 until known)
    finished_at: datetime | None
    error: str | None
    totals: dict[str, Any] | None
    report_html: str | None  # only when asked for

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return min(99, self.done * 100 // self.total) if self.total else 0

    def describe(self) -> str:
        what = (f"a generated history ({self.members:,} members, {self.events:,} events, "
                f"seed {self.seed})" if self.source == "generated"
                else "the store's recorded history")
        return f"{self.program} version {self.version} over {what}"


def _view(row: SimulationRunRow, now: datetime, report: bool) -> Run:
    status, error = row.status, row.error
    if status in RUNNING and now - row.updated_at > STALE:
        status = "failed"
        error = ("the server process running it stopped before it finished (a restart?); "
                 "start it again")
    return Run(str(row.id), row.program, row.version, row.source, row.members, row.events,
               row.seed, row.started_by, row.created_at, row.updated_at, status, row.done,
               row.total, row.finished_at, error, row.totals,
               row.report_html if report else None)


def _simulate(sources: Mapping[str, str], history: str, generated: dict[str, Any] | None,
              conn: Connection) -> None:
    """The run's process: generate the history when asked, simulate, send the report."""
    try:
        if generated is not None:
            conn.send(("status", "generating"))
            with open(history, "w", encoding="utf-8", newline="\n") as out:
                generate(out, **generated)
        total = count_lines(history)
        conn.send(("total", total))
        conn.send(("status", "simulating"))
        program = load_program(dict(sources))
        doc = simulate(program, history, tick=lambda line: conn.send(("done", line)))
        conn.send(("report", doc["totals"], render(doc), total))
    except Exception as exc:  # noqa: BLE001 - any failure is reported on the run's page
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class Runs:
    """Starts runs in this process; reads every run of the database."""

    def __init__(self, db: Database, cache: ProgramCache, max_running: int = MAX_RUNNING,
                 max_queued: int = MAX_QUEUED) -> None:
        self.db, self.cache = db, cache
        self._slots = threading.BoundedSemaphore(max_running)
        self._most = max_running + max_queued  # runs this process keeps, running or queued
        self._kept = 0
        self._counting = threading.Lock()
        self._context = multiprocessing.get_context("spawn")

    def start(self, program: str, version: int, source: str, started_by: str,
              members: int | None = None, events: int | None = None,
              seed: int | None = None) -> Run:
        """Queue a run; raises NotFound (program, version), Unprocessable (arguments) or
        Conflict (`simulations_busy`: this process keeps as many runs as it may)."""
        if source not in ("generated", "recorded"):
            raise Unprocessable("invalid_source", "the history is generated or recorded",
                                pointer="/source")
        generated = _generated_args(program, members, events, seed) \
            if source == "generated" else None
        now = datetime.now(UTC)
        with self._counting:
            if self._kept >= self._most:
                raise Conflict("simulations_busy", f"{self._kept} simulation(s) are running or "
                               "waiting on this server; start this one when one has finished")
            self._kept += 1
        try:
            return self._queue(program, version, source, started_by, members, events, seed,
                               generated, now)
        except BaseException:
            self._done()
            raise

    def _done(self) -> None:
        with self._counting:
            self._kept -= 1

    def _queue(self, program: str, version: int, source: str, started_by: str,
               members: int | None, events: int | None, seed: int | None,
               generated: dict[str, Any] | None, now: datetime) -> Run:
        with self.db.writing() as session:
            loaded = self.cache.get(session, program, version)  # NotFound when unknown
            row = SimulationRunRow(
                program=program, version=version, source=source,
                members=members if generated else None, events=events if generated else None,
                seed=seed if generated else None, started_by=started_by, status="queued",
                done=0, total=0, created_at=now, updated_at=now)
            session.add(row)
            session.flush()
            run_id = row.id
        run = self.get(str(run_id))
        threading.Thread(target=self._work, args=(run_id, program, dict(loaded.sources),
                                                  generated),
                         name=f"simulation-{run_id}", daemon=True).start()
        return run  # from here on, the thread counts itself out when it ends

    def get(self, run_id: str, report: bool = False) -> Run:
        """The run (with its HTML report when `report`); NotFound when unknown."""
        with self.db.reading() as session:
            row = session.get(SimulationRunRow, int(run_id)) if run_id.isdigit() else None
            if row is None:
                raise NotFound("unknown_simulation", f"no simulation run {run_id!r}")
            return _view(row, datetime.now(UTC), report)

    def list(self, limit: int = LISTED, program: str | None = None) -> list[Run]:
        """The latest runs, newest first (of one program when given)."""
        query = select(SimulationRunRow).options(defer(SimulationRunRow.report_html)) \
            .order_by(SimulationRunRow.id.desc()).limit(limit)
        if program is not None:
            query = query.where(SimulationRunRow.program == program)
        now = datetime.now(UTC)
        with self.db.reading() as session:
            return [_view(row, now, False) for row in session.scalars(query)]

    def _write(self, run_id: int, **changes: Any) -> None:
        with self.db.writing() as session:
            row = session.get(SimulationRunRow, run_id)
            if row is not None:
                for name, value in changes.items():
                    setattr(row, name, value)
                row.updated_at = datetime.now(UTC)

    def _work(self, run_id: int, program: str, sources: dict[str, str],
              generated: dict[str, Any] | None) -> None:
        try:
            self._run(run_id, program, sources, generated)
        finally:
            self._done()

    def _run(self, run_id: int, program: str, sources: dict[str, str],
             generated: dict[str, Any] | None) -> None:
        while not self._slots.acquire(timeout=HEARTBEAT):
            self._write(run_id)  # still queued, and alive
        try:
            with tempfile.TemporaryDirectory(prefix="loyalty-sim-") as folder:
                history = Path(folder) / "history.jsonl"
                if generated is None:
                    self._write(run_id, status="exporting")
                    with history.open("w", encoding="utf-8", newline="\n") as out:
                        export.write(self.db, program, out, self.cache)
                self._process(run_id, sources, str(history), generated)
        except Exception as exc:  # noqa: BLE001 - a failed export: the run says why
            self._write(run_id, status="failed", error=f"{type(exc).__name__}: {exc}",
                        finished_at=datetime.now(UTC))
        finally:
            self._slots.release()

    def _process(self, run_id: int, sources: dict[str, str], history: str,
                 generated: dict[str, Any] | None) -> None:
        mine, theirs = self._context.Pipe(duplex=False)
        process = self._context.Process(target=_simulate, name=f"simulation-{run_id}",
                                        args=(sources, history, generated, theirs),
                                        daemon=True)
        process.start()
        theirs.close()
        progress: dict[str, Any] = {}
        written = time.monotonic()
        try:
            while True:
                if not mine.poll(HEARTBEAT):
                    self._write(run_id, **progress)
                    progress, written = {}, time.monotonic()
                    continue
                try:
                    kind, *payload = mine.recv()
                except EOFError:
                    self._write(run_id, status="failed", finished_at=datetime.now(UTC),
                                error="the simulation process ended without a report "
                                      f"(exit code {process.exitcode})")
                    return
                if kind == "report":
                    totals, html, total = payload
                    self._write(run_id, status="done", totals=totals, report_html=html,
                                done=total, total=total, finished_at=datetime.now(UTC))
                    return
                if kind == "error":
                    self._write(run_id, status="failed", error=payload[0],
                                finished_at=datetime.now(UTC))
                    return
                progress[kind] = payload[0]
                if kind != "done" or time.monotonic() - written >= PROGRESS_EVERY:
                    self._write(run_id, **progress)
                    progress, written = {}, time.monotonic()
        finally:
            mine.close()
            process.join(timeout=30)


def _generated_args(program: str, members: int | None, events: int | None,
                    seed: int | None) -> dict[str, Any]:
    problems = []
    if members is None or not 1 <= members <= MAX_MEMBERS:
        problems.append(("members", f"members must be between 1 and {MAX_MEMBERS:,}"))
    if events is None or not 1 <= events <= MAX_EVENTS:
        problems.append(("events", f"events must be between 1 and {MAX_EVENTS:,}"))
    if seed is None or seed < 0:
        problems.append(("seed", "seed must be a whole number, 0 or more"))
    if problems:
        field_name, message = problems[0]
        raise Unprocessable("invalid_simulation", message, pointer=f"/{field_name}")
    return {"members": members, "events": events, "seed": seed, "start": DEFAULT_START,
            "end": DEFAULT_END, "program": program, "lifecycle": True}
