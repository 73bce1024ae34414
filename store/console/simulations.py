"""Simulation runs started from the console: a published version replayed over a
generated history (`engine.simulation.generate`) or over the store's own recorded
history of the program (store/imports/export.py), in the background, with progress,
keeping the HTML report (`engine.simulation.report.render`).

Each run is simulated in a process of its own (the replay is CPU-bound: in a thread it
would hold the serving process's interpreter lock), at most `MAX_RUNNING` at a time;
later runs wait, `queued`. A thread per run writes the recorded history (a read of the
database, in the serving process), starts the process and takes its progress from a
pipe: the events replayed of the history's lines. Runs live in the memory of the
process that started them: the last `KEEP` finished runs are kept, and a restart
forgets them all (they are dry runs: nothing of them is in the database).
"""

from __future__ import annotations

import itertools
import multiprocessing
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import store.imports.export as export
from store.db.database import Database
from store.errors import NotFound, Unprocessable
from store.registry.programs import ProgramCache

MAX_RUNNING = 2
KEEP = 20
MAX_EVENTS = 2_000_000  # a generated history's events (about 40 s to generate)
MAX_MEMBERS = 200_000
GENERATED_START, GENERATED_END = date(2026, 1, 1), date(2028, 6, 30)  # as `loyalty generate`


@dataclass
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
    status: str = "queued"  # queued exporting generating simulating done failed
    done: int = 0  # lines of the history replayed
    total: int = 0  # lines of the history (0 until known)
    finished_at: datetime | None = None
    error: str | None = None
    totals: dict[str, Any] | None = None
    report_html: str | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return min(99, self.done * 100 // self.total) if self.total else 0

    def describe(self) -> str:
        what = (f"a generated history ({self.members} members, {self.events} events, seed "
                f"{self.seed})" if self.source == "generated"
                else "the store's recorded history")
        return f"{self.program} v{self.version} over {what}"


def _simulate(sources: Mapping[str, str], history: str, generated: dict[str, Any] | None,
              conn: Connection) -> None:
    """The run's process: generate the history when asked, simulate, send the report."""
    try:
        from engine.program import load_program
        from engine.simulation.generate import generate
        from engine.simulation.report import render
        from engine.simulation.simulate import count_lines, simulate

        if generated is not None:
            conn.send(("status", "generating"))
            with open(history, "w", encoding="utf-8", newline="\n") as out:
                generate(out, **generated)
        total = count_lines(history)
        conn.send(("total", total))
        conn.send(("status", "simulating"))
        program = load_program(dict(sources))
        doc = simulate(program, history, tick=lambda line: conn.send(("done", line)))
        conn.send(("report", doc["totals"], render(doc)))
    except Exception as exc:  # noqa: BLE001 - any failure is reported on the run's page
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class Runs:
    """The runs of this process."""

    def __init__(self, db: Database, cache: ProgramCache, max_running: int = MAX_RUNNING,
                 keep: int = KEEP) -> None:
        self.db, self.cache, self.keep = db, cache, keep
        self._runs: dict[str, Run] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_running)
        self._context = multiprocessing.get_context("spawn")

    def start(self, program: str, version: int, source: str, started_by: str,
              members: int | None = None, events: int | None = None,
              seed: int | None = None) -> Run:
        """Queue a run; raises NotFound (program, version) or Unprocessable (arguments)."""
        if source not in ("generated", "recorded"):
            raise Unprocessable("invalid_source", "source must be generated or recorded",
                                pointer="/source")
        generated = None
        if source == "generated":
            generated = _generated_args(program, members, events, seed)
        with self.db.reading() as session:
            loaded = self.cache.get(session, program, version)  # NotFound when unknown
        run = Run(id="", program=program, version=version, source=source,
                  members=members if generated else None, events=events if generated else None,
                  seed=seed if generated else None, started_by=started_by,
                  created_at=datetime.now(UTC))
        with self._lock:
            run.id = str(next(self._ids))
            self._runs[run.id] = run
            self._forget_old()
        threading.Thread(target=self._work, args=(run, dict(loaded.sources), generated),
                         name=f"simulation-{run.id}", daemon=True).start()
        return run

    def get(self, run_id: str) -> Run:
        with self._lock:
            run = self._runs.get(run_id)
        if run is None:
            raise NotFound("unknown_simulation", f"no simulation run {run_id!r} in this "
                           "server process (runs are kept in the memory of the process that "
                           "started them, and forgotten on restart)")
        return run

    def list(self) -> list[Run]:
        """Newest first."""
        with self._lock:
            return sorted(self._runs.values(), key=lambda r: int(r.id), reverse=True)

    def _forget_old(self) -> None:
        finished = sorted((r for r in self._runs.values() if r.finished),
                          key=lambda r: int(r.id))
        for run in finished[:max(0, len(finished) - self.keep)]:
            del self._runs[run.id]

    def _work(self, run: Run, sources: dict[str, str], generated: dict[str, Any] | None
              ) -> None:
        with self._slots, tempfile.TemporaryDirectory(prefix="loyalty-sim-") as folder:
            history = Path(folder) / "history.jsonl"
            try:
                if generated is None:
                    run.status = "exporting"
                    with history.open("w", encoding="utf-8", newline="\n") as out:
                        export.write(self.db, run.program, out, self.cache)
                self._process(run, sources, str(history), generated)
            except Exception as exc:  # noqa: BLE001 - a failed export: the run says why
                run.status, run.error = "failed", f"{type(exc).__name__}: {exc}"
            finally:
                run.finished_at = datetime.now(UTC)
                with self._lock:
                    self._forget_old()

    def _process(self, run: Run, sources: dict[str, str], history: str,
                 generated: dict[str, Any] | None) -> None:
        mine, theirs = self._context.Pipe(duplex=False)
        process = self._context.Process(target=_simulate, name=f"simulation-{run.id}",
                                        args=(sources, history, generated, theirs),
                                        daemon=True)
        process.start()
        theirs.close()
        try:
            while True:
                try:
                    kind, *payload = mine.recv()
                except EOFError:
                    run.status = "failed"
                    run.error = run.error or (f"the simulation process ended without a report "
                                              f"(exit code {process.exitcode})")
                    return
                if kind == "status":
                    run.status = payload[0]
                elif kind == "total":
                    run.total = payload[0]
                elif kind == "done":
                    run.done = payload[0]
                elif kind == "report":
                    run.totals, run.report_html = payload
                    run.done, run.status = run.total, "done"
                    return
                elif kind == "error":
                    run.status, run.error = "failed", payload[0]
                    return
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
    return {"members": members, "events": events, "seed": seed, "start": GENERATED_START,
            "end": GENERATED_END, "program": program, "lifecycle": True}
