"""Simulation on a local Dask cluster against `--workers 2`, on the same history.

    python bench/cluster_bench.py                        # 1,000,000 events, 50,000 members
    python bench/cluster_bench.py --events 200000 --members 10000 --format parquet

Generates a history (JSON Lines or Parquet; `--history` to reuse one), then replays it
with `--workers 2` (two processes sharing memory) and on a `distributed.LocalCluster` of
two worker processes with one thread each (`--cluster`), each run in a fresh child
process, and prints events per second of both, their ratio, whether the reports are
identical, the CPU time per event of every process each run used, in all and per
process (on a loaded machine the steadier figure), and the machine's load and baseline
(bench/machine.py) at the start and end.
The cluster's time includes connecting to it and loading the program on the workers,
not starting it. On a shared machine compare the ratio, not the absolute figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import machine  # noqa: E402


def _cpu_seconds() -> float:
    """CPU seconds of this process and every process under it, living (a cluster's
    scheduler, nannies and workers) or finished and waited for (`--workers` processes)."""
    import resource

    import psutil

    me = psutil.Process()
    total = sum(sum(p.cpu_times()[:2]) for p in [me, *me.children(recursive=True)]
                if p.is_running())
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    return total + done.ru_utime + done.ru_stime


def _cpu_by_process() -> dict[int, tuple[str, float]]:
    """CPU seconds of this process and each living process under it, by pid, with its
    role: this process (with a `LocalCluster`, the client, the scheduler and the
    nannies), a Dask worker process, or multiprocessing's resource tracker."""
    import psutil

    me = psutil.Process()
    out = {me.pid: ("this process", sum(me.cpu_times()[:2]))}
    for p in me.children(recursive=True):
        try:
            tracker = any("resource_tracker" in part for part in p.cmdline())
            out[p.pid] = ("resource tracker" if tracker else "Dask worker process",
                          sum(p.cpu_times()[:2]))
        except psutil.NoSuchProcess:
            pass
    return out


def _per_process(before: dict[int, tuple[str, float]],
                 after: dict[int, tuple[str, float]]) -> list[tuple[str, float]]:
    """CPU seconds each process used between the two readings (those that used any)."""
    used = [(role, cpu - before.get(pid, (role, 0.0))[1]) for pid, (role, cpu) in after.items()]
    return sorted(item for item in used if item[1] >= 0.005)


def _run_one(history: str, mode: str) -> None:
    """Child process: one simulation (`workers2` or `cluster`); prints JSON."""
    from engine.simulation.simulate import simulate

    ruleset = str(ROOT / "rulesets" / "retail")
    if mode == "cluster":
        from distributed import LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=":0") as local:
            each = _cpu_by_process()
            cpu, start = _cpu_seconds(), time.perf_counter()
            doc = simulate(ruleset, history, cluster=local.scheduler_address)
            wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
            processes = _per_process(each, _cpu_by_process())
    else:
        import resource

        each, done = _cpu_by_process(), resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu, start = _cpu_seconds(), time.perf_counter()
        doc = simulate(ruleset, history, workers=2)
        wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
        finished = resource.getrusage(resource.RUSAGE_CHILDREN)
        processes = [*_per_process(each, _cpu_by_process()),
                     ("the 2 --workers processes (finished), together",
                      finished.ru_utime + finished.ru_stime - done.ru_utime - done.ru_stime)]
    events = doc["events"]["processed"] + doc["events"]["rejected"]
    print(json.dumps({"wall": wall, "cpu": cpu, "events": events, "processes": processes,
                      "digest": hashlib.sha256(json.dumps(doc, sort_keys=True).encode())
                      .hexdigest()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--format", choices=["jsonl", "parquet"], default="jsonl")
    parser.add_argument("--history", help="reuse this history instead of generating one")
    parser.add_argument("--child", nargs=2, metavar=("HISTORY", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _run_one(*args.child)
        return
    from engine.simulation.generate import DEFAULT_END, DEFAULT_START, generate
    from engine.simulation.sources import ParquetSink

    machine.report("start")
    with tempfile.TemporaryDirectory() as tmp:
        history = args.history
        if history is None:
            history = str(Path(tmp) / f"history.{args.format}")
            sink = ParquetSink(history) if args.format == "parquet" else \
                open(history, "w", encoding="utf-8")  # noqa: SIM115 - closed just below
            with sink:
                generate(sink, members=args.members, events=args.events,  # type: ignore[arg-type]
                         seed=args.seed, start=DEFAULT_START, end=DEFAULT_END)
            print(f"history: {args.events:,} events, {args.members:,} members ({args.format})")
        runs = {}
        for mode in ("workers2", "cluster"):
            child = subprocess.run([sys.executable, __file__, "--child", history, mode],
                                   capture_output=True, text=True, check=True)
            runs[mode] = json.loads(child.stdout.strip().splitlines()[-1])
            r = runs[mode]
            label = "--workers 2" if mode == "workers2" else "--cluster (LocalCluster, 2 workers)"
            print(f"simulate {label}: {r['wall']:.1f} s, {r['events'] / r['wall']:,.0f} events/s, "
                  f"{r['cpu'] * 1e6 / r['events']:,.1f} µs CPU per event (all processes)")
            for role, cpu in r["processes"]:
                print(f"  {role}: {cpu:.2f} s CPU, {cpu * 1e6 / r['events']:,.1f} µs per event")
        print(f"ratio events/s cluster / --workers 2: "
              f"{runs['workers2']['wall'] / runs['cluster']['wall']:.2f}; CPU per event "
              f"cluster / --workers 2: {runs['cluster']['cpu'] / runs['workers2']['cpu']:.2f}")
        print("reports identical:", runs["workers2"]["digest"] == runs["cluster"]["digest"])
    machine.report("end")


if __name__ == "__main__":
    main()
