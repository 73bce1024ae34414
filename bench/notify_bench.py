"""Notification benchmark: what planning and sending a member's messages costs next to
the order commit that wrote the event, measured side by side in one run.

    .venv/bin/python bench/notify_bench.py [--members 300] [--pg]

On a fresh SQLite file (or, with --pg, a fresh PostgreSQL database on LOYALTY_BENCH_PG,
default postgresql://postgres@127.0.0.1:5432/postgres, dropped after), publishes the
shipped retail program (its engagement section: a tier-upgrade email, milestone messages),
gives each member an email address, and commits one 900.00 order per member (a
`tier.changed` upgrade and a `milestone.reached`, among other events). Then times, in CPU
and wall time:

- the order commits (the baseline: what wrote the events);
- planning: the `notifications` job's planning of every event (store/notify/dispatch.py
  `plan_program`), with templates rendered and records written;
- sending: every due message to an SMTP server on loopback (aiosmtpd, a dev dependency).

Prints per-order and per-message figures and their ratios to the commit, and the machine's
load (bench/machine.py). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import machine


def timed(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """(CPU seconds of this process, wall seconds, result)."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = work()
    return time.process_time() - cpu, time.perf_counter() - wall, result


def run(url: str, members: int) -> None:
    import store.notify.dispatch as dispatch
    import store.notify.preferences as preferences
    import store.notify.sending as sending
    from store import clock
    from store.checkout import orders
    from store.db.database import open_database
    from store.db.migrate import upgrade
    from store.ledger import members as member_rows
    from store.notify.unsubscribe import Unsubscriber
    from store.registry.programs import ProgramCache
    from store.settings import Settings
    from tests.smtp_loopback import smtp_sink
    from tests.store.helpers import order, publish_retail

    db = open_database(url)
    upgrade(db)
    publish_retail(db, 1)
    ids = [f"B-{n}" for n in range(members)]
    for member_id in ids:
        with db.writing() as session:
            member_rows.lock_or_create(session, "retail", member_id, None)
        preferences.change(db, "retail", member_id, email=f"{member_id}@example.com",
                           channels=["email"])
    cache = ProgramCache()

    def commit_all() -> None:
        for n, member_id in enumerate(ids):
            orders.commit(db, cache, "retail", order(f"O-{n}", member=member_id,
                                                     amount="900.00"))

    commit_cpu, commit_wall, _ = timed(commit_all)
    with smtp_sink() as sink:
        settings = Settings(smtp_host=sink.host, smtp_port=sink.port)
        at = clock.now()
        unsubscriber = Unsubscriber.of(settings, db)
        plan_cpu, plan_wall, planned = timed(
            lambda: dispatch.plan_program(db, settings, "retail", at, unsubscriber))
        send_cpu, send_wall, sent = timed(lambda: sending.deliver_due(db, settings, at,
                                                                      rounds=10_000))
        received = len(sink.received)
    messages = sum(planned.values())
    print(f"{members} orders committed; {messages} messages planned {planned}; "
          f"sent {sent}; {received} emails received")
    per = [("commit, per order", commit_cpu / members, commit_wall / members),
           ("planning, per order", plan_cpu / members, plan_wall / members),
           ("sending, per email", send_cpu / max(received, 1), send_wall / max(received, 1))]
    for name, cpu, wall in per:
        print(f"  {name:22} {cpu * 1000:8.2f} ms CPU {wall * 1000:8.2f} ms wall   "
              f"CPU ratio to the commit {cpu / per[0][1]:.3f}")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--pg", action="store_true", help="on PostgreSQL instead of SQLite")
    args = parser.parse_args()
    machine.report("start")
    if not args.pg:
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{folder}/bench.db", args.members)
    else:
        import psycopg

        base = os.environ.get("LOYALTY_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
        name = f"loyalty_bench_{secrets.token_hex(4)}"
        with psycopg.connect(base, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
            try:
                run("postgresql+psycopg://" + base.split("://", 1)[1].rsplit("/", 1)[0]
                    + f"/{name}", args.members)
            finally:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    machine.report("end")


if __name__ == "__main__":
    main()
