"""`loyalty members insights` and `loyalty report`: reports from what production
recorded, over the service (`GET …/members/{id}/insights`, `GET …/reports/performance`)
or, with --database-url, read from a database directly."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import click

from cli.members_cmd import members_group
from cli.output import fail
from cli.registry_cmd import parse_instant
from cli.service import Service, segment, target, target_options
from cli.simulate_cmd import emit_report

YEAR = timedelta(days=365)


def _period(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    return parse_instant(since, "--from"), parse_instant(until, "--to")


def _fetch(url: str | None, database_url: str | None, path: str,
           params: dict[str, Any], direct: Callable[[Any, Any], Any]) -> Any:
    """The service's answer at `path`, or `direct(database, cache)` on a database."""
    t = target(url, database_url)
    if not t.direct:
        assert t.url is not None
        return Service(t.url).call("GET", path, params=params)
    from cli.db_cmd import open_db
    from store.errors import StoreError
    from store.registry.programs import ProgramCache

    database = open_db(t.database_url or "")
    try:
        return direct(database, ProgramCache())
    except StoreError as exc:
        fail(f"{exc.code}: {exc.message}")
    finally:
        database.dispose()


def _bounds(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    import store.clock as clock

    end = end or clock.now()
    return start or end - YEAR, end


@members_group.command("insights")
@click.argument("program")
@click.argument("member_id")
@click.option("--from", "since", default=None,
              help="start of the period, ISO instant (default: 12 months before --to)")
@click.option("--to", "until", default=None, help="end of the period, exclusive (default: now)")
@click.option("--json", "as_json", is_flag=True, help="the whole answer as JSON")
@target_options
def insights(program: str, member_id: str, since: str | None, until: str | None,
             as_json: bool, url: str | None, database_url: str | None) -> None:
    """A member's spend and points by category and month, seasonal caps used and left,
    the trend against the period before, tier progress, points expiring by month and the
    rewards worth aiming for.

    \b
    Example:
      loyalty members insights retail CUST-curl
      loyalty members insights retail CUST-curl --from 2026-01-01T00:00:00Z \\
          --to 2027-01-01T00:00:00Z --json
    """
    start, end = _period(since, until)

    def direct(database: Any, cache: Any) -> Any:
        import store.clock as clock
        from store.reports.insights import insights as run

        lo, hi = _bounds(start, end)
        return run(database, cache, program, member_id, lo, hi, min(hi, clock.now()))

    doc = _fetch(url, database_url,
                 f"/v1/programs/{segment(program)}/members/{segment(member_id)}/insights",
                 {"from": start.isoformat() if start else None,
                  "to": end.isoformat() if end else None}, direct)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    _print_insights(doc)


def _print_insights(doc: dict[str, Any]) -> None:
    echo = click.echo
    period = doc["period"]
    echo(f"{doc['program']} {doc['member_id']}: {period['from']} .. {period['to']}, "
         f"balance {doc['balance']}")
    echo("by category:")
    for row in doc["by_category"]:
        echo(f"  {row['category']:<20} spend {row['spend']:>12}  points {row['points']:>8}")
    echo("by month:")
    for row in doc["by_month"]:
        echo(f"  {row['month']}  orders {row['orders']:>4}  spend {row['spend']:>12}  "
             f"points +{row['points_issued']} -{row['points_redeemed']} redeemed")
    for cap in doc["caps"]:
        echo(f"cap {cap['rule']}: {cap['spend']} of {cap['cap']} spent, {cap['remaining']} left")
    trend = doc["trend"]
    trend = doc["trend"]
    echo("trend vs the period before: " + ", ".join(
        f"{k} {trend[k]['current']} (change {trend[k]['change']})"
        for k in ("spend", "orders", "points_issued")))
    tier = doc["tier"]
    if tier:
        p = tier["progress"]
        echo(f"tier {tier['tier']}: next {p['next_tier'] or '—'} (spend {p['spend_needed']}, "
             f"orders {p['orders_needed']} to go)")
        keep = tier["keep"]
        if keep:
            echo(f"  to keep {keep['tier']}: spend {keep['spend_needed']}, orders "
                 f"{keep['orders_needed']} more; held until {keep['held_until'] or 'further notice'}")
    for row in doc["expiring"]:
        echo(f"expiring {row['month']}: {row['points']} points")
    best, nearest = doc["rewards"]["best_affordable"], doc["rewards"]["nearest_out_of_reach"]
    if best:
        echo(f"best value now: {best['id']} {best['name']} ({best['points']} points)")
    if nearest:
        echo(f"nearest out of reach: {nearest['id']} {nearest['name']} "
             f"({nearest['points_needed']} points to go)")


@click.command("report")
@click.option("--program", required=True, help="The program to report on.")
@click.option("--from", "since", default=None,
              help="start of the period, ISO instant (default: 12 months before --to)")
@click.option("--to", "until", default=None, help="end of the period, exclusive (default: now)")
@click.option("--output", "-o", type=click.Choice(["text", "json", "html"]), default="text",
              show_default=True, help="What to print on stdout.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, writable=True),
              help="Also write the HTML report to this file.")
@target_options
def report(program: str, since: str | None, until: str | None, output: str,
           report_path: str | None, url: str | None, database_url: str | None) -> None:
    """The program's performance from what production recorded: the simulation report
    (points issued, reversed, redeemed, expired, outstanding and liability by month,
    breakage and redemption rates, tiers, campaigns, points by rule) over a period.

    \b
    Example:
      loyalty report --program retail --from 2026-01-01T00:00:00Z --to 2027-01-01T00:00:00Z
      loyalty report --program retail -o html > retail-report.html
    """

    start, end = _period(since, until)

    def direct(database: Any, cache: Any) -> Any:
        from store.reports.performance import performance

        return performance(database, cache, program, *_bounds(start, end))

    doc = _fetch(url, database_url, f"/v1/programs/{segment(program)}/reports/performance",
                 {"from": start.isoformat() if start else None,
                  "to": end.isoformat() if end else None}, direct)
    title = f"Performance of {program} ({doc['period']['from']} .. {doc['period']['to']})"
    emit_report(doc, output, report_path, title)
