"""`loyalty serve`: the HTTP API under uvicorn, its workers always under a supervisor.

Every worker, even a single one, is a child process of uvicorn's process manager, which
starts a fresh one whenever a worker dies. A worker whose rule engine becomes unusable
(`EngineFatal`) ends itself (api/app.py), so it is replaced rather than left answering
errors.
"""

from __future__ import annotations

import inspect
import os
import sys
import tempfile

import click

from cli.db_cmd import database_option, open_db

APP = "api.app:app_from_env"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="worker processes (the engine is not thread-safe: scale with processes); "
                   "a worker that dies is replaced")
@click.option("--log-level", default="info", show_default=True)
@database_option
def serve(host: str, port: int, workers: int, log_level: str, database_url: str) -> None:
    """Serve the HTTP API. On first start: migrate the database and publish + activate the
    shipped rulesets (retail, card-rewards, b2b-portal).

    \b
    Example:
      loyalty serve                                  # ./loyalty.db, http://127.0.0.1:8000
      loyalty serve --host 0.0.0.0 --port 8080 --workers 4 \\
          --database-url postgresql+psycopg://loyalty@db.internal/loyalty
    """
    prepare(database_url)
    run_workers(APP, host, port, workers, log_level)


def prepare(database_url: str) -> None:
    """Migrate and bootstrap the database; set what the workers read from the environment."""
    import store.registry.keys as keys
    from store.registry.bootstrap import bootstrap

    database = open_db(database_url, create=True)
    for name in bootstrap(database):
        click.echo(f"published and activated shipped ruleset {name}")
    with database.reading() as session:
        if keys.count(session) == 0:
            click.echo("no API keys yet; create one with:\n"
                       "  loyalty keys create --scope evaluate --scope commit")
    database.dispose()
    os.environ["LOYALTY_DATABASE_URL"] = database_url  # workers read their settings from it
    # Workers are processes that may be replaced: /metrics aggregates them all, the
    # replaced ones included.
    # Before anything imports prometheus_client: it picks per-process sample files at import,
    # and the workers forked from this process keep that choice
    # (tests/api/test_server.py::test_metrics_add_up_every_workers_requests).
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="loyalty-metrics-")


HEALTHCHECK_SECONDS = 30


def run_workers(app: str, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve the app factory `app` ("module:function") with `workers` supervised worker
    processes, until SIGINT or SIGTERM."""
    import uvicorn
    from uvicorn.supervisors.multiprocess import Multiprocess

    # A worker compiling a large ruleset holds the GIL (the rule engine's native calls do
    # not release it), so it may answer the supervisor's health check late: give it time
    # rather than have a busy worker killed.
    config = uvicorn.Config(app, factory=True, host=host, port=port, workers=workers,
                            log_level=log_level)
    config.timeout_worker_healthcheck = HEALTHCHECK_SECONDS
    fork_workers(app)
    sockets = [config.bind_socket()]
    # uvicorn ≥ 0.30 restarts dead workers; its constructor took the worker's target
    # until the workers started building their own server.
    if "target" in inspect.signature(Multiprocess).parameters:
        supervisor = Multiprocess(config, target=uvicorn.Server(config).run,  # type: ignore[call-arg]
                                  sockets=sockets)
    else:
        supervisor = Multiprocess(config, sockets=sockets)
    try:
        supervisor.run()
    finally:
        for sock in sockets:
            sock.close()


def fork_workers(app: str) -> None:
    """Import the app's module here, once, and have the supervisor fork its workers from
    this process (uvicorn spawns them: each would import everything again, about as long as
    the rest of its start). The factory still runs in each worker: its database pool, rule
    engine and background jobs are its own. A worker restarted after a failure is forked
    from this process too, which has never evaluated anything. Off Linux, or where uvicorn
    no longer starts workers the way this relies on, they are spawned as before."""
    import importlib
    import multiprocessing

    import uvicorn._subprocess as subprocess

    # Linux only: macOS lists fork too, but its system libraries are not safe to fork.
    if not sys.platform.startswith("linux") \
            or not isinstance(getattr(subprocess, "spawn", None), multiprocessing.context.SpawnContext):
        return
    importlib.import_module(app.partition(":")[0])  # by name: cli has no import edge to api
    subprocess.spawn = multiprocessing.get_context("fork")  # type: ignore[assignment]
