"""What every benchmark prints about the machine, in the same run as its figures.

Absolute timings on a shared machine move by a third or more from one minute to the
next. So each benchmark prints, at its start and at its end, the load average and a
machine baseline that no code of this project takes part in: the CPU time of
`sum(range(1000))`, the smallest over many repeats (what the machine can do when the
benchmark is not interrupted). Compare runs by their ratios to a baseline measured in
the same run, never by absolute figures from different runs.
"""

from __future__ import annotations

import os
import time

_WORK = range(1000)


def load() -> str:
    """The load average over 1, 5 and 15 minutes ("n/a" where the system has none)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "n/a"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def baseline_us(repeats: int = 300, inner: int = 20) -> float:
    """CPU µs of one `sum(range(1000))`: the smallest mean over `repeats` blocks of
    `inner` calls (about 0.1 s in all)."""
    best = float("inf")
    clock = time.process_time_ns
    for _ in range(repeats):
        start = clock()
        for _ in range(inner):
            sum(_WORK)
        best = min(best, (clock() - start) / inner)
    return best / 1000


def engine_mode() -> str:
    """Whether this process runs the engine compiled (mypyc) or as Python (engine/native.py)."""
    from engine import native

    return "compiled (mypyc)" if native.compiled() else "Python"


def report(when: str) -> float:
    """Print the load average and the baseline (`when`: "start", "end"), and at the start
    how the engine runs; return the baseline in µs."""
    base = baseline_us()
    print(f"machine at {when}: load average (1 / 5 / 15 min) {load()}; "
          f"baseline sum(range(1000)) {base:.2f} µs CPU"
          + (f"; engine {engine_mode()}" if when == "start" else ""))
    return base
