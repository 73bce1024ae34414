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
@click.option("--out", "out_path", type=click.Path(writable=True),
              help="Output file (default: stdout); with --shards, a directory.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "parquet"]), default="jsonl",
              show_default=True,
              help="JSON Lines, or Parquet (one row per event: type, member_id, at and the "
                   "event's JSON in `event`; needs --out).")
@click.option("--shards", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --format parquet: split the history into this many files "
                   "part-00000.parquet… of consecutive events in the --out directory.")
def generate(members: int, events: int, seed: int, start: datetime, end: datetime, program: str,
             lifecycle: bool, out_path: str | None, fmt: str, shards: int) -> None:
    """Generate a synthetic event history for `loyalty simulate`.

    \b
    Example:
      loyalty generate --members 1000 --events 50000 --seed 7 --out history.jsonl
      loyalty generate --members 25 --events 400 --lifecycle --start 2022-01-01 \\
          --end 2025-12-31 --out small.jsonl
      loyalty generate --members 1000 --events 50000 --format parquet --out history.parquet
      loyalty generate --members 1000 --events 50000 --format parquet --shards 4 --out shards/
    """
    from engine.simulation.generate import generate as run

    if fmt == "parquet" and not out_path:
        raise click.UsageError("--format parquet needs --out")
    if shards > 1 and fmt != "parquet":
        raise click.UsageError("--shards goes with --format parquet")
    try:
        if fmt == "parquet":
            from engine.simulation.sources import ParquetSink

            assert out_path is not None
            sink = ParquetSink(out_path, shards, -(-events // shards))
            with sink:
                count = run(sink, members=members, events=events, seed=seed,  # type: ignore[arg-type]
                            start=start.date(), end=end.date(), program=program,
                            lifecycle=lifecycle)
            click.echo(f"wrote {count} events to {out_path}"
                       + (f" ({len(sink.paths)} files)" if shards > 1 else ""), err=True)
        elif out_path:
            with open(out_path, "w", encoding="utf-8", newline="\n") as out:
                count = run(out, members=members, events=events, seed=seed, start=start.date(),
                            end=end.date(), program=program, lifecycle=lifecycle)
            click.echo(f"wrote {count} events to {out_path}", err=True)
        else:
            run(sys.stdout, members=members, events=events, seed=seed, start=start.date(),
                end=end.date(), program=program, lifecycle=lifecycle)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
