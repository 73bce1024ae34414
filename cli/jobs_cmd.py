"""`loyalty jobs run`: the background jobs (store/jobs/scheduler.py) from the command line."""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import click

from cli.db_cmd import database_option, open_db
from cli.output import EXIT_USAGE, dump_json, fail


@click.group("jobs")
def jobs() -> None:
    """Background jobs: webhook fulfilment deliveries and points expiry.

    \b
    Example:
      loyalty jobs run --once
    """


def _settings(database_url: str) -> Any:
    from pydantic import ValidationError

    from store.settings import Settings

    try:
        return Settings(database_url=database_url)  # type: ignore[call-arg]
    except ValidationError as exc:
        fail("; ".join(f"LOYALTY_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                       for e in exc.errors()))


def _select(all_jobs: list[Any], only: tuple[str, ...]) -> list[Any]:
    known = [job.name for job in all_jobs]
    unknown = [name for name in only if name not in known]
    if unknown:
        fail(f"no job {unknown[0]!r}; the jobs are: {', '.join(known)}")
    return [job for job in all_jobs if not only or job.name in only]


def _print_summaries(summaries: dict[str, dict[str, Any]], output: str) -> None:
    if output == "json":
        click.echo(dump_json(summaries))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Background jobs", title_justify="left")
    for column in ("job", "result", "summary"):
        table.add_column(column)
    for name, summary in summaries.items():
        failed = "error" in summary
        table.add_row(name, "[red]error[/]" if failed else "[green]ok[/]",
                      summary["error"] if failed else json.dumps(summary, sort_keys=True))
    Console(highlight=False, soft_wrap=True, width=120).print(table)


def _every(seconds: float) -> str:
    return f"{seconds:g} s"


@jobs.command("run")
@click.option("--once", is_flag=True,
              help="run each job once, print their summaries and exit (e.g. from cron)")
@click.option("--only", "only", multiple=True, metavar="NAME",
              help="run only this job (repeatable; default: every job)")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Summary format: a table, or JSON (one line per run "
              "without --once).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="warning", show_default=True,
              help="log messages shown on stderr (job failures are logged as errors)")
@database_option
def run(once: bool, only: tuple[str, ...], output: str, log_level: str,
        database_url: str) -> None:
    """Run the background jobs: `fulfilment` (deliver due webhook fulfilments) and
    `expiry` (expire points past their date, release timed-out checkout holds).

    Without --once, runs them on their intervals in the foreground until Ctrl-C (or
    SIGTERM), printing one line per run: for deployments that run the jobs apart from
    the API workers (start those with LOYALTY_JOBS_ENABLED=false). Intervals:
    LOYALTY_FULFILMENT_DISPATCH_SECONDS (15) and LOYALTY_EXPIRY_JOB_SECONDS (3600); 0
    disables a job. With --once every selected job runs, whatever its interval. Safe
    beside the API workers' own schedulers. Exit code 1 when a job failed (--once) or on
    bad input.

    \b
    Examples:
      loyalty jobs run --once
      loyalty jobs run --once --only expiry -o json
      LOYALTY_FULFILMENT_DISPATCH_SECONDS=5 loyalty jobs run
    """
    import store.jobs.scheduler as store_jobs

    selected = _select(store_jobs.default_jobs(_settings(database_url)), only)
    database = open_db(database_url)
    with _logging_to_stderr(log_level):
        try:
            if once:
                summaries = store_jobs.run_once(database, selected)
                _print_summaries(summaries, output)
                failed = [name for name, summary in summaries.items() if "error" in summary]
                if failed:
                    fail(f"job(s) failed: {', '.join(failed)}", EXIT_USAGE)
            else:
                _run_forever(store_jobs, database, selected, output)
        finally:
            database.dispose()


@contextmanager
def _logging_to_stderr(level: str) -> Iterator[None]:
    root = logging.getLogger()
    handler = logging.StreamHandler()  # stderr
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    before = root.level
    root.addHandler(handler)
    root.setLevel(level.upper())
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(before)


def _run_forever(store_jobs: Any, database: Any, selected: list[Any], output: str) -> None:
    def report(name: str, summary: dict[str, Any]) -> None:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        if output == "json":
            click.echo(json.dumps({"at": at, "job": name, "summary": summary}))
        else:
            click.echo(f"{at} {name} {json.dumps(summary, sort_keys=True)}")

    scheduler = store_jobs.Scheduler(database, selected, on_result=report)
    if not scheduler.jobs:
        fail("no job to run: every selected job has an interval of 0")
    click.echo("running " + ", ".join(f"{job.name} every {_every(job.interval)}"
                                      for job in scheduler.jobs) + "; Ctrl-C to stop", err=True)

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: scheduler.stop(timeout=0)) \
        if main else None
    scheduler.start()
    try:
        while scheduler.is_alive():
            scheduler.join(0.5)
    except KeyboardInterrupt:
        pass
    try:
        click.echo("stopping (a job in flight finishes first)", err=True)
        scheduler.stop(timeout=None)
    except KeyboardInterrupt:
        fail("stopped in the middle of a job (it resumes safely on the next run)")
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
