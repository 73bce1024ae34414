"""`loyalty expire`: the points expiry job (store/jobs/expiry.py) from the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from cli.db_cmd import database_option, open_db
from cli.output import fail


def _as_of(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--as-of {value!r} is not an ISO 8601 instant (e.g. 2027-01-01T00:00:00Z)")
    if at.tzinfo is None:
        fail(f"--as-of {value!r} needs a UTC offset (e.g. 2027-01-01T00:00:00-05:00)")
    return at


@click.command("expire")
@click.option("--program", "programs", multiple=True,
              help="program to expire (repeatable; default: every published program)")
@click.option("--as-of", "as_of", default=None,
              help="expire what is due at this instant (ISO 8601 with offset; default "
              "and latest: now)")
@click.option("--batch", "batch_size", default=200, show_default=True,
              type=click.IntRange(1, 100_000), help="members found per scan")
@click.option("--quiet", is_flag=True, help="no progress lines on stderr")
@database_option
def expire(programs: tuple[str, ...], as_of: str | None, batch_size: int, quiet: bool,
           database_url: str) -> None:
    """Write `expire` entries for points past their date and release timed-out checkout
    holds. Idempotent and resumable: run it again (e.g. after an interruption) and it
    writes only what is still due. Prints one JSON report per program.

    \b
    Example:
      loyalty expire                          # every program, as of now
      loyalty expire --program retail --batch 500 --quiet
    """
    import store.jobs.expiry as expiry
    from store.errors import StoreError

    at = _as_of(as_of)
    database = open_db(database_url)

    def progress(program: str, report: expiry.ExpiryReport) -> None:
        if not quiet:
            click.echo(f"{program}: batch {report.batches}, {report.members} member(s), "
                       f"{report.points_expired} point(s) expired", err=True)

    try:
        reports = expiry.run(database, list(programs) or None, at, batch_size, actor="cli",
                             on_batch=progress)
    except StoreError as exc:
        fail(exc.message)
    finally:
        database.dispose()
    for program, report in reports.items():
        click.echo(json.dumps({"program": program, **report.to_json()}))
