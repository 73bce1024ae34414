"""Simulation throughput: a generated history replayed with 1 and 2 workers.

    python bench/simulate_bench.py                       # 1,000,000 events, 50,000 members
    python bench/simulate_bench.py --events 100000 --members 5000

Prints, for each worker count, wall time, events per second and the peak RSS of the
largest process (the parent or a worker), and checks that both runs give the same report.
Target (docs/performance.md): 1,000,000 events over 50,000 members in <= 30 s with 2 workers,
< 1 GiB, the cost per event flat within 15 % from a quarter of the history to all of it.

Each run also measures, in the same process just before and just after the simulation, a
baseline that no code of this project takes part in: `json.loads` of every line of the
history. The ratio of the simulation's CPU time per event (parent and workers) to that
baseline is what to compare across machines, sessions and versions of the code; wall times
on a shared machine are not. The load average and the machine baseline of
bench/machine.py are printed at the start and the end.

A longer history: with one worker among the runs, a history of a quarter of the events and
of the members over the same dates is generated and replayed by one worker too, and its CPU
per event is compared with the full history's (`--no-quarter` skips it). This is the
measure of whether an event costs more in a longer history; the checkpoints below also
move with what the history holds as its year goes on.

Checkpoints: every run also prints the cost per event at a quarter, half and the whole of
the history (250,000, 500,000 and 1,000,000 events in the default run), from the
simulation's progress callback: wall time per event overall and since the last
checkpoint, and with one worker the CPU time too (with two, the workers' CPU is known
only when they end). A cost that grows from one checkpoint to the next is a cost that
grows with the members' history.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import machine  # noqa: E402


def _cpu_seconds() -> float:
    """User + system CPU of this process and of its finished children (the workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _read_baseline_us(history: str) -> float:
    """CPU µs per line to `json.loads` every line of the history: the in-run baseline."""
    start = time.process_time()
    with open(history, encoding="utf-8") as lines:
        count = sum(1 for line in lines if json.loads(line) is not None)
    return (time.process_time() - start) * 1e6 / max(count, 1)


class Checkpoints:
    """The simulation's progress callback: wall (and own CPU) time when the replay passes
    a quarter, half and all of the history's lines."""

    def __init__(self, lines: int, start: float, cpu: float) -> None:
        self.marks = [max(1, lines // 4), max(1, lines // 2)]
        self.start, self.cpu = start, cpu
        self.seen: list[dict[str, float]] = []

    def __call__(self, line: int) -> None:
        if self.marks and line >= self.marks[0]:  # ticks come every 1,024 lines or so
            while self.marks and line >= self.marks[0]:
                self.marks.pop(0)
            self.add(line)

    def add(self, events: int) -> None:
        self.seen.append({"events": events, "wall": time.perf_counter() - self.start,
                          "cpu": _cpu_seconds() - self.cpu})


def _run_one(history: str, workers: int) -> None:
    """Child process: one simulation between two baseline reads; prints JSON with wall time,
    CPU time, the baselines, the checkpoints and peak RSS."""
    from engine.simulation.simulate import count_lines, simulate

    before = _read_baseline_us(history)
    cpu, start = _cpu_seconds(), time.perf_counter()
    marks = Checkpoints(count_lines(history), start, cpu)
    doc = simulate(str(ROOT / "rulesets" / "retail"), history, workers=workers, tick=marks)
    wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    after = _read_baseline_us(history)
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    events = doc["events"]["processed"] + doc["events"]["rejected"]
    marks.seen = [m for m in marks.seen if m["events"] < events]
    marks.seen.append({"events": events, "wall": wall, "cpu": cpu})
    print(json.dumps({"wall": wall, "cpu": cpu, "baseline_us": [before, after],
                      "checkpoints": marks.seen,
                      "rss_kib": max(rss_self, rss_children),
                      "events": events,
                      "digest": hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest(),
                      "books_balance": doc["totals"]["books_balance"]}))


def _print_run(workers: int, r: dict) -> None:
    events = r["events"]
    cpu_us = r["cpu"] * 1e6 / events
    baseline = sum(r["baseline_us"]) / 2
    print(f"simulate --workers {workers}: {r['wall']:.1f} s, "
          f"{events / r['wall']:,.0f} events/s, peak RSS "
          f"{r['rss_kib'] / 1024:,.0f} MiB, books balance: {r['books_balance']}")
    print(f"  per event: {r['wall'] * 1e6 / events:,.1f} µs wall, {cpu_us:,.1f} µs CPU; "
          f"baseline json.loads per line {r['baseline_us'][0]:.2f} µs before, "
          f"{r['baseline_us'][1]:.2f} µs after")
    print(f"  ratio CPU per event / baseline (workers {workers}): {cpu_us / baseline:.1f}")
    _print_checkpoints(workers, r["checkpoints"])


def _print_checkpoints(workers: int, marks: list[dict[str, Any]]) -> None:
    """Per-event cost at each checkpoint: overall so far, and since the one before."""
    last = {"events": 0, "wall": 0.0, "cpu": 0.0}
    clock = "wall" if workers > 1 else "cpu"
    costs = [m[clock] / m["events"] for m in marks]
    if costs:
        spread = max(costs) / min(costs)
        at = ", ".join(f"{m['events']:,}" for m in marks)
        print(f"  per-event {clock} cost overall at {at} events: max / min {spread:.3f}; "
              "flat within 15 %: "
              f"{'yes' if spread <= 1.15 else 'no'}")
    for m in marks:
        span = max(1, m["events"] - last["events"])
        cpu = "" if workers > 1 else (
            f"; CPU {m['cpu'] * 1e6 / m['events']:,.1f} µs overall, "
            f"{(m['cpu'] - last['cpu']) * 1e6 / span:,.1f} µs since")
        print(f"  at {m['events']:>9,} events: wall {m['wall'] * 1e6 / m['events']:,.1f} µs "
              f"per event overall, {(m['wall'] - last['wall']) * 1e6 / span:,.1f} µs "
              f"since the last checkpoint{cpu}")
        last = m


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--history", help="reuse this history instead of generating one")
    parser.add_argument("--no-quarter", action="store_true",
                        help="skip the quarter-size history (a quarter of the events and of "
                        "the members over the same dates, one worker)")
    parser.add_argument("--child", nargs=2, metavar=("HISTORY", "WORKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _run_one(args.child[0], int(args.child[1]))
        return
    from engine.simulation.generate import DEFAULT_END, DEFAULT_START, generate

    machine.report("start")
    with tempfile.TemporaryDirectory() as tmp:
        history = args.history or str(Path(tmp) / "history.jsonl")
        if not args.history:
            start = time.perf_counter()
            with open(history, "w", encoding="utf-8") as out:
                generate(out, members=args.members, events=args.events, seed=args.seed,
                         start=DEFAULT_START, end=DEFAULT_END)
            took = time.perf_counter() - start
            print(f"generate: {args.events:,} events, {args.members:,} members in {took:.1f} s "
                  f"({args.events / took:,.0f} events/s)")
        runs = {}
        for workers in args.workers:
            runs[workers] = _child(history, workers)
            _print_run(workers, runs[workers])
        if len(runs) > 1:
            first, *others = args.workers
            for workers in others:
                print(f"ratio wall {workers} workers / {first}: "
                      f"{runs[workers]['wall'] / runs[first]['wall']:.2f}")
            print("reports identical across worker counts:",
                  len({r["digest"] for r in runs.values()}) == 1)
        if not args.history and not args.no_quarter and 1 in runs:
            _quarter(args, Path(tmp), runs[1])
    machine.report("end")


def _child(history: str, workers: int) -> dict[str, Any]:
    """One simulation in a process of its own (`_run_one`): what it printed last."""
    child = subprocess.run([sys.executable, __file__, "--child", history, str(workers)],
                           capture_output=True, text=True, check=True)
    return json.loads(child.stdout.strip().splitlines()[-1])


def _quarter(args: argparse.Namespace, tmp: Path, full: dict[str, Any]) -> None:
    """Whether an event costs more in a longer history: the same dates with a quarter of the
    events and of the members, replayed by one worker, against the full history's CPU per
    event. The checkpoints within one run mix that with what the history holds as its
    year goes on (later months hold more work per event: campaigns, expiries, tiers)."""
    from engine.simulation.generate import DEFAULT_END, DEFAULT_START, generate

    events, members = args.events // 4, max(1, args.members // 4)
    history = str(tmp / "quarter.jsonl")
    with open(history, "w", encoding="utf-8") as out:
        generate(out, members=members, events=events, seed=args.seed, start=DEFAULT_START,
                 end=DEFAULT_END)
    small = _child(history, 1)
    small_us = small["cpu"] * 1e6 / small["events"]
    full_us = full["cpu"] * 1e6 / full["events"]
    print(f"quarter-size history ({small['events']:,} events, {members:,} members, same "
          f"dates), 1 worker: {small_us:,.1f} µs CPU per event against {full_us:,.1f} µs for "
          f"the full history: ratio {full_us / small_us:.3f}; flat within 15 %: "
          f"{'yes' if max(full_us, small_us) / min(full_us, small_us) <= 1.15 else 'no'}")


if __name__ == "__main__":
    main()
