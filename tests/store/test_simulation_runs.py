"""Simulation runs in the background (store/console/simulations.py): a generated or the
recorded history, progress up to the history's lines, the report kept; bounded."""

from __future__ import annotations

import io
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import store.imports.importer as importer
from engine.program import load_program
from engine.simulation.generate import generate
from engine.simulation.simulate import simulate
from store.console.simulations import Run, Runs
from store.db.database import Database
from store.errors import Conflict, NotFound, Unprocessable
from store.imports import export
from store.registry import versions as registry
from store.registry.programs import ProgramCache
from tests.store.db_support import RETAIL
from tests.store.helpers import publish_retail

DEADLINE = 240.0


def finished(runs: Runs, run: Run) -> Run:
    """Wait for the run to end, with a deadline (the condition, not a fixed sleep)."""
    ends = time.monotonic() + DEADLINE
    seen = []
    while not runs.get(run.id).finished:
        assert time.monotonic() < ends, f"run {run.id} still {run.status} ({seen[-3:]})"
        seen.append((run.status, run.done, run.total))
        time.sleep(0.05)
    return runs.get(run.id)


@pytest.fixture
def retail(db: Database) -> Database:
    publish_retail(db, 1, activate=False)
    with db.writing() as session:
        registry.activate(session, "retail", 1, "tests", datetime(2021, 1, 1, tzinfo=UTC))
    return db


def test_a_generated_run_reports_what_the_simulator_reports(retail: Database,
                                                            tmp_path: Path) -> None:
    runs = Runs(retail, ProgramCache())
    run = finished(runs, runs.start("retail", 1, "generated", "admin", members=30,
                                    events=3000, seed=2))
    assert run.status == "done", run.error
    out = io.StringIO()
    generate(out, members=30, events=3000, seed=2, start=date(2026, 1, 1),
             end=date(2028, 6, 30), program="retail", lifecycle=True)
    path = tmp_path / "same.jsonl"
    path.write_text(out.getvalue())
    expected = simulate(load_program(RETAIL), path)
    assert run.totals == expected["totals"]
    assert run.total == len(out.getvalue().splitlines()) and run.done == run.total
    assert run.percent == 100 and run.report_html is None  # only when asked for
    run = runs.get(run.id, report=True)
    assert run.report_html is not None and "<svg" in run.report_html
    assert str(expected["totals"]["points_issued"]) in run.report_html.replace(",", "")


def test_a_recorded_run_replays_the_store_export(retail: Database, tmp_path: Path) -> None:
    out = io.StringIO()
    generate(out, members=6, events=150, seed=8, start=date(2023, 1, 1),
             end=date(2025, 6, 30), lifecycle=True)
    path = tmp_path / "h.jsonl"
    path.write_text(out.getvalue())
    importer.run(retail, "retail", path)
    runs = Runs(retail, ProgramCache())
    run = finished(runs, runs.start("retail", 1, "recorded", "admin"))
    assert run.status == "done", run.error
    recorded = tmp_path / "recorded.jsonl"
    with recorded.open("w") as stream:
        lines = export.write(retail, "retail", stream)
    assert run.total == lines
    assert run.totals == simulate(load_program(RETAIL), recorded)["totals"]


def test_progress_is_seen_while_a_long_run_goes(retail: Database) -> None:
    runs = Runs(retail, ProgramCache(), max_running=1)
    long = runs.start("retail", 1, "generated", "admin", members=200, events=40000, seed=1)
    queued = runs.start("retail", 1, "generated", "admin", members=5, events=50, seed=1)
    ends = time.monotonic() + DEADLINE
    seen_midway = False
    while not runs.get(long.id).finished:
        assert time.monotonic() < ends
        now = runs.get(long.id)
        if now.status == "simulating" and 0 < now.done < now.total:
            seen_midway = True
            assert 0 <= now.percent < 100
        assert runs.get(queued.id).status == "queued"  # one at a time
        time.sleep(0.02)
    assert seen_midway
    assert finished(runs, queued).status == "done"
    assert [r.id for r in runs.list()] == [queued.id, long.id]


def test_bad_arguments_and_unknown_versions_are_refused(retail: Database) -> None:
    runs = Runs(retail, ProgramCache())
    with pytest.raises(Unprocessable) as bad:
        runs.start("retail", 1, "generated", "admin", members=0, events=10, seed=1)
    assert bad.value.pointer == "/members"
    with pytest.raises(NotFound):
        runs.start("retail", 7, "recorded", "admin")
    with pytest.raises(NotFound):
        runs.get("99")
    assert runs.list() == []


def test_a_run_whose_worker_stopped_shows_as_failed(retail: Database) -> None:
    from sqlalchemy import update

    from store.console.simulations import STALE
    from store.tables.operations import SimulationRunRow

    runs = Runs(retail, ProgramCache(), max_running=1)
    run = finished(runs, runs.start("retail", 1, "generated", "admin", members=2, events=5,
                                    seed=1))
    long_ago = datetime.now(UTC) - STALE * 2
    with retail.writing() as session:  # as a run left `simulating` by a stopped server
        session.execute(update(SimulationRunRow).where(SimulationRunRow.id == int(run.id))
                        .values(status="simulating", updated_at=long_ago, finished_at=None))
    stopped = runs.get(run.id)
    assert stopped.status == "failed" and "stopped before it finished" in (stopped.error or "")


def test_runs_waiting_in_a_worker_are_bounded(retail: Database) -> None:
    """A worker keeps at most `max_running` + `max_queued` runs: one more is refused (409,
    nothing written) instead of a thread that waits, so a loop of requests cannot pile up
    threads and rows; once the runs end, runs start again."""
    runs = Runs(retail, ProgramCache(), max_running=1, max_queued=1)
    kept = [runs.start("retail", 1, "generated", "viewer", members=5, events=200, seed=s)
            for s in (1, 2)]
    with pytest.raises(Conflict) as busy:
        runs.start("retail", 1, "generated", "viewer", members=5, events=200, seed=3)
    assert busy.value.code == "simulations_busy" and "2 simulation" in busy.value.message
    assert len(runs.list()) == 2
    for run in kept:
        assert finished(runs, run).status == "done"
    again = runs.start("retail", 1, "generated", "viewer", members=5, events=200, seed=3)
    assert finished(runs, again).status == "done"
