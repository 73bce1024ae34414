"""`loyalty import`: load an event history into the store (store/imports/importer.py)."""

from __future__ import annotations

import json

import click

from cli.db_cmd import database_option, open_db
from cli.output import EXIT_USAGE, fail


def _summary(report: dict) -> None:
    click.echo(f"{report['program']}: {report['lines']} line(s): {report['applied']} applied, "
               f"{report['replayed']} already imported, {len(report['rejected'])} rejected"
               + (f" (resumed after line {report['resumed_after']})"
                  if report["resumed_after"] else ""))
    if report["declined"]:
        click.echo("refused by the program's rules (counted as the simulator counts them):")
    for key, count in report["declined"].items():
        click.echo(f"  {key}: {count}")
    for item in report["rejected"][:50]:
        click.echo(f"  line {item['line']}: {item['reason']}")
    if len(report["rejected"]) > 50:
        click.echo(f"  … and {len(report['rejected']) - 50} more (--output json lists them all)")
    click.echo(f"expiry to {report['history_end']}: {report['points_expired']} point(s) expired")
    if "external_points" in report:
        sent = report["external_points"]
        click.echo(f"sent to the points API at the end: {sent['sent']} transfer(s), "
                   f"{sent['rejected']} rejected by it")


@click.command("import")
@click.option("--history", required=True, type=click.Path(exists=True, dir_okay=False),
              help="Event history: JSON Lines (.jsonl, every event type) or order CSV (.csv).")
@click.option("--program", required=True, help="The published program to load it into.")
@click.option("--key-prefix", default="import", show_default=True,
              help="Prefix of the ids derived from the history (activity and enrolment "
                   "event ids, redemption idempotency keys); another history imported into "
                   "the same program needs another prefix.")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="The final summary as text or JSON.")
@click.option("--quiet", is_flag=True, help="no progress lines on stderr")
@database_option
def import_history(history: str, program: str, key_prefix: str, output: str, quiet: bool,
                   database_url: str) -> None:
    """Load an event history into the store, event by event, through the same calls the
    HTTP API makes — so the service ends where `loyalty simulate` says it would.

    Each event is one transaction, in file order, mapped as the simulator replays it.
    Ids come from the history, so running it again changes nothing; an interrupted
    import run again resumes after the lines it finished. Instants must not be ahead of
    the server clock (LOYALTY_MAX_FUTURE_SKEW_SECONDS), and the program must have a
    version in effect at the history's first instant. Ends with the expiry job at the
    history's last instant. For a program whose balances live in an external points API,
    what is owed to it is sent before each redemption and at the end (the API must be
    configured: LOYALTY_POINTS_API_URLS). Exit 1 when the file's imported part has
    changed, or when the points API cannot be reached (run it again to resume).

    \b
    Example:
      export LOYALTY_DATABASE_URL=sqlite:///./loyalty.db
      loyalty db upgrade
      loyalty publish rulesets/retail
      loyalty activate retail 1 --at 2021-01-01T00:00:00Z
      loyalty generate --members 25 --events 400 --lifecycle --start 2022-01-01 \\
          --end 2025-12-31 --out history.jsonl
      loyalty import --history history.jsonl --program retail
      loyalty simulate -r rulesets/retail --history history.jsonl --member-states members.jsonl
    """
    import store.imports.importer as importer
    from store.db.migrate import upgrade
    from store.errors import StoreError
    from store.settings import Settings

    database = open_db(database_url, create=True)

    def progress(report: importer.ImportReport) -> None:
        if not quiet:
            click.echo(f"{program}: line {report.lines}: {report.applied} applied, "
                       f"{report.replayed} already imported, {len(report.rejected)} rejected",
                       err=True)

    try:
        upgrade(database)
        skew = Settings(database_url=database_url).max_future_skew_seconds
        report = importer.run(database, program, history, key_prefix, skew,
                              progress=progress).to_json()
    except importer.ImportMismatch as exc:
        fail(str(exc), EXIT_USAGE)
    except StoreError as exc:
        fail(f"{exc.code}: {exc.message}")
    finally:
        database.dispose()
    if output == "json":
        click.echo(json.dumps(report, indent=2))
    else:
        _summary(report)
