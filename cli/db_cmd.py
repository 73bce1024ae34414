"""`loyalty db upgrade`: bring the database schema up to date."""

from __future__ import annotations

import click

from store.settings import DEFAULT_DATABASE_URL

database_option = click.option(
    "--database-url", envvar="LOYALTY_DATABASE_URL", default=DEFAULT_DATABASE_URL,
    show_default=True, help="SQLAlchemy URL (env LOYALTY_DATABASE_URL); SQLite file by default.")


def open_db(url: str):  # type: ignore[no-untyped-def]
    from store.db.database import open_database

    return open_database(url)


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

    database = open_db(database_url)
    before = current_revision(database)
    run_upgrade(database)
    after = current_revision(database)
    click.echo(f"database at revision {after}" + ("" if before == after else f" (was {before})"))
