"""`loyalty db upgrade`: bring the database schema up to date."""

from __future__ import annotations

import click

from cli.output import fail
from store.settings import DEFAULT_DATABASE_URL

database_option = click.option(
    "--database-url", envvar="LOYALTY_DATABASE_URL", default=DEFAULT_DATABASE_URL,
    show_default=True, help="SQLAlchemy URL (env LOYALTY_DATABASE_URL); SQLite file by default.")


def open_db(url: str, create: bool = False):  # type: ignore[no-untyped-def]
    """The database at `url`. Only `serve`, `db upgrade` and `import` may `create` (and then
    migrate) one; every other command needs an existing one at the head revision, else
    exits 1 with one line saying how to get there."""
    from store.db.migrate import open_creating, open_current
    from store.errors import StoreError

    try:
        return open_creating(url) if create else open_current(url)
    except StoreError as exc:
        fail(exc.message)


@click.group("db")
def db() -> None:
    """Database administration.

    \b
    Example:
      loyalty db upgrade --database-url postgresql+psycopg://loyalty@db.internal/loyalty
    """


@db.command("upgrade")
@database_option
def upgrade(database_url: str) -> None:
    """Apply every pending migration (safe to run repeatedly).

    \b
    Example:
      loyalty db upgrade                                    # ./loyalty.db
      LOYALTY_DATABASE_URL=postgresql+psycopg://loyalty@db.internal/loyalty loyalty db upgrade
    """
    from store.db.migrate import current_revision
    from store.db.migrate import upgrade as run_upgrade

    database = open_db(database_url, create=True)
    before = current_revision(database)
    run_upgrade(database)
    after = current_revision(database)
    click.echo(f"database at revision {after}" + ("" if before == after else f" (was {before})"))
