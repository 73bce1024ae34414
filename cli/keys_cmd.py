"""`loyalty keys create|list|revoke`: API keys for the HTTP API."""

from __future__ import annotations

import click

from cli.db_cmd import database_option, open_db
from cli.output import cli_actor, fail
from store.registry.scopes import SCOPES


@click.group("keys")
def keys() -> None:
    """Manage API keys (stored hashed; a key is shown once, when created).

    \b
    Example:
      KEY=$(loyalty keys create --scope evaluate --scope commit | tail -n 1)
      loyalty keys list
    """


@keys.command("create")
@click.option("--scope", "scopes", multiple=True, required=True,
              type=click.Choice(SCOPES),
              help="repeat for several scopes; admin implies all; viewer reads only")
@click.option("--program", default=None, help="restrict the key to one program")
@click.option("--name", default="", help="a label for people")
@database_option
def create(scopes: tuple[str, ...], program: str | None, name: str, database_url: str) -> None:
    """Create a key and print it once, alone on the last line. Run it where the service's
    database is (it never creates one). Give each person their own key: the key is who
    publishes and approves.

    \b
    Example:
      loyalty keys create --scope admin --name "Ana (program manager)"
      loyalty keys create --scope viewer --name "Ben (read only)"
    """
    import store.registry.keys as store_keys

    database = open_db(database_url)
    with database.writing() as session:
        plaintext, info = store_keys.create(session, list(scopes), program, name, actor=cli_actor())
    click.echo(f"created key {info.prefix}… scopes={','.join(sorted(info.scopes))}"
               + (f" program={program}" if program else "")
               + "; store it now, it cannot be shown again:")
    click.echo(plaintext)


@keys.command("list")
@database_option
def list_keys(database_url: str) -> None:
    """List keys (prefixes only).

    \b
    Example:
      loyalty keys list --database-url postgresql://loyalty@db.internal/loyalty
    """
    import store.registry.keys as store_keys

    with open_db(database_url).reading() as session:
        for key in store_keys.listing(session):
            state = "revoked" if key.revoked else "active"
            click.echo(f"{key.prefix}…\t{state}\t{','.join(sorted(key.scopes))}\t"
                       f"{key.program or '*'}\t{key.name}")


@keys.command("revoke")
@click.argument("prefix")
@database_option
def revoke(prefix: str, database_url: str) -> None:
    """Revoke the key whose prefix `loyalty keys list` shows.

    \b
    Example:
      loyalty keys revoke lrk_Xa3f9Q
    """
    import store.registry.keys as store_keys
    from store.errors import StoreError

    try:
        with open_db(database_url).writing() as session:
            store_keys.revoke(session, prefix.rstrip("…"), actor=cli_actor())
    except StoreError as exc:
        fail(exc.message)
    click.echo(f"revoked {prefix}")
