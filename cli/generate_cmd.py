"""`loyalty generate`: write a synthetic, reproducible event history (JSON Lines)."""

from __future__ import annotations

import sys
from datetime import datetime

import click


@click.command()
@click.option("--members", type=click.IntRange(min=1), required=True, help="Number of members.")
@click.option("--events", type=click.IntRange(min=1), required=True,
              help="Number of events in all (enrolments included).")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Random seed: the same arguments give the same file.")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default="2026-01-01",
              show_default=True, help="First day of the history (program-local).")
@click.option("--end", type=click.DateTime(["%Y-%m-%d"]), default="2028-06-30",
              show_default=True, help="Last day of the history (program-local).")
@click.option("--program", default="retail", show_default=True,
              help="Category mix, prices and catalog of this program (retail, card-rewards, b2b-portal).")
@click.option("--lifecycle", is_flag=True,
              help="Every event type: tiers and referrals at enrolment, orders paying with "
                   "points, checkout holds (some never captured), cancels.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True),
              help="Output file (default: stdout).")
def generate(members: int, events: int, seed: int, start: datetime, end: datetime, program: str,
             lifecycle: bool, out_path: str | None) -> None:
    """Generate a synthetic event history for `loyalty simulate`.

    \b
    Example:
      loyalty generate --members 1000 --events 50000 --seed 7 --out history.jsonl
      loyalty generate --members 25 --events 400 --lifecycle --start 2022-01-01 \\
          --end 2025-12-31 --out small.jsonl
    """
    from engine.simulation.generate import generate as run

    try:
        if out_path:
            with open(out_path, "w", encoding="utf-8", newline="\n") as out:
                count = run(out, members=members, events=events, seed=seed, start=start.date(),
                            end=end.date(), program=program, lifecycle=lifecycle)
            click.echo(f"wrote {count} events to {out_path}", err=True)
        else:
            run(sys.stdout, members=members, events=events, seed=seed, start=start.date(),
                end=end.date(), program=program, lifecycle=lifecycle)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
