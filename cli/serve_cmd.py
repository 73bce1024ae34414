"""`loyalty serve`: the HTTP API under uvicorn."""

from __future__ import annotations

import os
import tempfile

import click

from cli.db_cmd import database_option, open_db


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="worker processes (the engine is not thread-safe: scale with processes)")
@click.option("--log-level", default="info", show_default=True)
@database_option
def serve(host: str, port: int, workers: int, log_level: str, database_url: str) -> None:
    """Serve the HTTP API. On first start: migrate the database and publish + activate the
    shipped rulesets (retail, card-rewards, b2b-portal)."""
    import uvicorn

    from store import keys
    from store.bootstrap import bootstrap

    database = open_db(database_url)
    for name in bootstrap(database):
        click.echo(f"published and activated shipped ruleset {name}")
    with database.reading() as session:
        if keys.count(session) == 0:
            click.echo("no API keys yet; create one with:\n"
                       "  loyalty keys create --scope evaluate --scope commit")
    database.dispose()
    os.environ["LOYALTY_DATABASE_URL"] = database_url  # workers read their settings from it
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="loyalty-metrics-")
    uvicorn.run("api.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_level=log_level)
