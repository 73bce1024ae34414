"""`loyalty simulate`: dry-run a ruleset over an event history, optionally against another."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cli.output import EXIT_USAGE, dump_json, fail, load_program_or_exit

PROGRESS_FROM = 200_000  # lines: shorter runs finish before a bar helps


def print_text(doc: dict[str, Any], title: str | None = None) -> None:
    """The text report of a simulation, production or shadow document (with its compare,
    when it has one)."""
    from rich.console import Console
    from rich.table import Table

    from engine.simulation.report import names

    console = Console(soft_wrap=True)
    other = doc.get("compare")
    label, other_label = names(doc)
    table = Table(title=title or (f"Simulation of {label}"
                                  + (f" compared with {other_label}" if other else "")))
    table.add_column("figure")
    table.add_column(label, justify="right")
    if other:
        table.add_column(str(other_label), justify="right")
        table.add_column("delta", justify="right")
    for key, value in doc["totals"].items():
        row = [key, str(value)]
        if other:
            row += [str(other["totals"].get(key, "—")),
                    str(other["delta"]["totals"].get(key, ""))]
        table.add_row(*row)
    console.print(table)
    console.print(f"members {doc['members']}, events processed {doc['events']['processed']}, "
                  f"rejected {doc['events']['rejected']}")
    for error in doc["events"]["errors"][:10]:
        console.print(f"  line {error['line']}: {error['message']}", markup=False)
    console.print(_rule_table(doc, label, other_label))
    console.print(_campaign_table(doc, label, other_label))
    console.print(_engagement_table(doc, label, other_label))
    if doc.get("redemptions"):
        redemptions = Table(title="Redemptions (accepted, declined by reason, automatic by method, milestone gifts)")
        redemptions.add_column("outcome")
        redemptions.add_column("count", justify="right")
        for outcome, count in doc["redemptions"].items():
            redemptions.add_row(outcome, str(count))
        console.print(redemptions)


def _show(value: Any) -> str:
    return "—" if value is None else str(value)


def _rule_table(doc: dict[str, Any], label: str, other_label: str | None) -> Any:
    """Points by rule; with a compare, every rule of either version and where it is."""
    from rich.table import Table

    from engine.simulation.report import rule_rows

    table = Table(title="Points by rule")
    table.add_column("rule")
    if other_label:
        table.add_column("in")
    table.add_column(label, justify="right")
    if other_label:
        table.add_column(other_label, justify="right")
        table.add_column("delta", justify="right")
    for row in rule_rows(doc):
        cells = [row.rule, str(row.where), _show(row.a), _show(row.b), str(row.delta)]
        table.add_row(*(cells if other_label else [cells[0], cells[2]]))
    return table


def _campaign_table(doc: dict[str, Any], label: str, other_label: str | None) -> Any:
    """Orders and points per campaign; with a compare, every campaign of either version."""
    from rich.table import Table

    from engine.simulation.report import campaign_rows

    table = Table(title="Campaigns")
    table.add_column("campaign")
    if other_label:
        table.add_column("in")
    for name in [label] + ([other_label] if other_label else []):
        table.add_column(f"orders {name}", justify="right")
        table.add_column(f"points {name}", justify="right")
    for row in campaign_rows(doc):
        figures = [_show(c and c[k]) for c in ([row.a, row.b] if other_label else [row.a])
                   for k in ("orders", "points")]
        table.add_row(row.campaign, *([str(row.where)] if other_label else []), *figures)
    return table


def _engagement_table(doc: dict[str, Any], label: str, other_label: str | None) -> Any:
    """Milestones, their points and messages per event type and channel."""
    from rich.table import Table

    from engine.simulation.report import engagement_rows

    table = Table(title="Engagement (messages planned with default preferences)")
    table.add_column("figure")
    for name in [label] + ([other_label, "delta"] if other_label else []):
        table.add_column(name, justify="right")
    for row in engagement_rows(doc):
        extra = [_show(row.b), _show(row.delta)] if other_label else []
        table.add_row(row.figure, _show(row.a), *extra)
    return table


def _progress(history: str) -> tuple[Any, Callable[[int], None] | None]:
    from engine.simulation.simulate import count_lines

    if os.environ.get("LOYALTY_NO_PROGRESS"):
        return None, None
    total = count_lines(history)
    if total < PROGRESS_FROM:
        return None, None
    from rich.console import Console
    from rich.progress import Progress

    bar = Progress(console=Console(stderr=True), transient=True)
    task = bar.add_task("simulating", total=total)
    return bar, lambda line: bar.update(task, completed=line)


@click.command()
@click.option("--ruleset", "-r", required=True, metavar="PATH", help="Ruleset to simulate.")
@click.option("--history",
              help="Event history: JSON Lines (.jsonl), Parquet (.parquet) or a flat order "
                   "CSV (.csv); a file, a directory of shards or a glob of them (quoted), "
                   "read in name order.")
@click.option("--from-store", "from_store", is_flag=True,
              help="A backtest: replay the program's history recorded in the database "
                   "(--database-url) and compare with what production recorded.")
@click.option("--from", "since", default=None,
              help="with --from-store: the recorded events from this ISO instant "
                   "(default: the first)")
@click.option("--to", "until", default=None,
              help="with --from-store: the recorded events before this ISO instant "
                   "(default: now)")
@click.option("--database-url", envvar="LOYALTY_DATABASE_URL", default=None,
              help="with --from-store: the database (env LOYALTY_DATABASE_URL; default "
                   "./loyalty.db)")
@click.option("--compare", metavar="PATH",
              help="A second ruleset (version) to compare with: every rule and campaign of "
                   "either is reported, labelled by the version(s) it is in.")
@click.option("--output", "-o", type=click.Choice(["text", "json", "html"]), default="text",
              show_default=True, help="What to print on stdout.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, writable=True),
              help="Also write the HTML report to this file.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes (members are partitioned across them).")
@click.option("--cluster", metavar="ADDRESS", default=None,
              help="Run the partitions on the Dask cluster whose scheduler is at ADDRESS "
                   "(tcp://host:8786): --workers of them, or one per worker thread; the "
                   "history must be readable at the same path on every worker.")
@click.option("--on-error", type=click.Choice(["skip", "fail"]), default="skip",
              show_default=True, help="Invalid events: skip and count them, or stop.")
@click.option("--member-states", "states_path", type=click.Path(dir_okay=False, writable=True),
              help="Write every member's final state (tier, tier_since, balance, lots, cap "
                   "spend, campaign uses, status) to this file, one JSON line per member.")
@click.option("--codes", "codes_path", type=click.Path(exists=True, dir_okay=False),
              help="The program's coupon codes, as `loyalty codes generate` writes them "
                   "(CSV: code,campaign,uses); orders in the history present them in `codes`. "
                   "A history with codes replays in one process, or on the --cluster.")
def simulate(ruleset: str, history: str | None, from_store: bool, since: str | None,
             until: str | None, database_url: str | None, compare: str | None, output: str,
             report_path: str | None, workers: int, cluster: str | None, on_error: str,
             states_path: str | None, codes_path: str | None) -> None:
    """Replay an event history against a ruleset and report what it costs.

    \b
    Example:
      loyalty generate --members 1000 --events 50000 --out history.jsonl
      loyalty simulate -r rulesets/retail --history history.jsonl -o json
      loyalty simulate -r rulesets/retail --compare new-retail/ --history history.jsonl \\
          --report report.html
      loyalty simulate -r rulesets/retail --history history.jsonl --member-states members.jsonl
      loyalty simulate -r my-program/ --history history.jsonl --codes codes.csv
      loyalty simulate -r rulesets/retail --history shards/ --cluster tcp://scheduler:8786
      loyalty simulate -r draft/retail --from-store --from 2026-01-01T00:00:00Z \\
          --to 2027-01-01T00:00:00Z --report backtest.html
    """
    from engine.simulation.cluster import ClusterUnavailable
    from engine.simulation.coupons import CouponsInvalid
    from engine.simulation.simulate import SimulationFailed
    from engine.simulation.simulate import simulate as run
    from engine.simulation.sources import HistoryUnreadable, resolve

    if from_store == (history is not None):
        fail("pass --history FILE or --from-store (a backtest over the recorded history)",
             EXIT_USAGE)
    if not from_store and (since or until or database_url):
        fail("--from, --to and --database-url go with --from-store", EXIT_USAGE)
    program = load_program_or_exit(ruleset)
    if from_store:
        if compare or states_path or codes_path or cluster:
            fail("--compare, --member-states, --codes and --cluster do not go with "
                 "--from-store: a backtest compares with production", EXIT_USAGE)
        doc = _backtest(program, since, until, database_url, workers)
        emit_report(doc, output, report_path, f"Backtest of {ruleset} against production")
        return
    assert history is not None
    try:
        resolve(history)
    except HistoryUnreadable as exc:
        fail(f"--history: {exc}", EXIT_USAGE)
    other = load_program_or_exit(compare) if compare else None
    bar = None
    try:
        bar, tick = _progress(history)
        if bar is not None:
            bar.start()
        doc = run(program, history, compare_with=other, workers=workers, on_error=on_error,
                  tick=tick, member_states=states_path, codes=codes_path, cluster=cluster)
    except SimulationFailed as exc:
        fail(f"{history}: {exc}", EXIT_USAGE)
    except (CouponsInvalid, HistoryUnreadable) as exc:
        fail(str(exc), EXIT_USAGE)
    except ClusterUnavailable as exc:
        fail(str(exc))
    finally:
        if bar is not None:
            bar.stop()
    emit_report(doc, output, report_path, None)


def emit_report(doc: dict[str, Any], output: str, report_path: str | None,
                title: str | None) -> None:
    """A report document (a simulation's, production's, a backtest's or a shadow run's) on
    stdout as text, JSON or HTML, and as HTML in `report_path` too when given. The HTML
    template probes for optional figures, so it gets plain dicts (not a service Answer)."""
    from cli.service import plain
    from engine.simulation.report import render

    if report_path:
        Path(report_path).write_text(render(plain(doc), title=title), encoding="utf-8")
        click.echo(f"report written to {report_path}", err=True)
    if output == "json":
        click.echo(dump_json(doc))
    elif output == "html":
        click.echo(render(plain(doc), title=title))
    else:
        print_text(doc, title=title)


def _backtest(program: Any, since: str | None, until: str | None, database_url: str | None,
              workers: int) -> dict[str, Any]:
    """The draft replayed over the recorded history, compared with production."""
    import store.clock as clock
    from cli.db_cmd import open_db
    from cli.registry_cmd import parse_instant
    from store.errors import StoreError
    from store.registry.programs import ProgramCache
    from store.reports.backtest import backtest
    from store.settings import DEFAULT_DATABASE_URL

    start, end = parse_instant(since, "--from"), parse_instant(until, "--to")
    database = open_db(database_url or DEFAULT_DATABASE_URL)
    try:
        return backtest(database, ProgramCache(), program, start, end or clock.now(),
                        workers=workers)
    except StoreError as exc:
        fail(f"{exc.code}: {exc.message}")
    finally:
        database.dispose()
