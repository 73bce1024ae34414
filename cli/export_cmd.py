"""`loyalty export`: the store's recorded history of a program as an event history
(store/imports/export.py), for `loyalty simulate`. Reads only: it never creates or
migrates a database."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.db_cmd import database_option, open_db
from cli.output import fail


@click.command("export")
@click.option("--program", required=True, help="The program whose history to export.")
@click.option("--out", "-o", "out", required=True, type=click.Path(dir_okay=False),
              help="The JSON Lines file to write ('-' for stdout).")
@database_option
def export_history(program: str, out: str, database_url: str) -> None:
    """Write the store's recorded history of a program as the event history `loyalty
    simulate` reads: every recorded enrolment, order, refund, activity, redemption and
    cancel, in instant order. What the service refused is not recorded, so it is not
    in the export; nor are automatic redemptions, which the replay makes again.

    \b
    Example:
      loyalty export --program retail -o recorded.jsonl
      loyalty simulate -r rulesets/retail --history recorded.jsonl --report report.html
    """
    import store.imports.export as exporter
    from store.errors import StoreError

    database = open_db(database_url)  # never creates or migrates one
    target = Path(out)
    partial = target.with_name(target.name + ".partial")
    try:
        if out == "-":
            count = exporter.write(database, program, sys.stdout)
        else:
            with partial.open("w", encoding="utf-8", newline="\n") as stream:
                count = exporter.write(database, program, stream)
            partial.replace(target)
    except StoreError as exc:
        partial.unlink(missing_ok=True)
        fail(f"{exc.code}: {exc.message}")
    except OSError as exc:
        partial.unlink(missing_ok=True)
        fail(f"{out}: {exc.strerror or exc}")
    finally:
        database.dispose()
    click.echo(f"{program}: {count} event(s) written to {out}", err=True)
