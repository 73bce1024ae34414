"""Memory follows members, not the length of the history."""

from __future__ import annotations

import tracemalloc
from datetime import date
from pathlib import Path

from engine.program import Program
from engine.simulation.simulate import simulate
from tests.simulate.conftest import write_history


def _peak(program: Program, path: Path) -> int:
    tracemalloc.start()
    try:
        simulate(program, path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_four_times_the_events_not_four_times_the_memory(retail: Program, tmp_path: Path) -> None:
    # The same members at the same rate of events, for three years and for twelve: a
    # member's book holds what their recent events left (lots live 24 months, the 20
    # latest orders stay refundable), so only what grows with the history's length shows.
    span = {"members": 25, "seed": 3, "start": date(2026, 1, 1)}
    small = write_history(tmp_path / "small.jsonl", events=700, end=date(2028, 12, 31),
                          **span)
    large = write_history(tmp_path / "large.jsonl", events=2800, end=date(2037, 12, 31),
                          **span)
    # Warm the engine's caches with both histories outside the measurement: what they
    # keep is shared by every later replay, not a replay's own memory.
    simulate(retail, small)
    simulate(retail, large)
    small_peak, large_peak = _peak(retail, small), _peak(retail, large)
    assert large.stat().st_size > 3.5 * small.stat().st_size
    assert large_peak < 2.2 * small_peak, (small_peak, large_peak)
