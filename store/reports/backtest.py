"""A backtest: production's recorded history (store/imports/export.py) replayed through
a draft ruleset by the simulator, compared with what production actually did over the
same period (store/reports/performance.py) — one simulation report whose `compare` is
production's.

The replay covers the recorded events in [from, to) and starts from empty books at
`from` (without --from: at the first recorded event, so nothing is left out); production's
figures are those recorded in the same period, its outstanding points counting what was
recorded before it.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import store.imports.export as exporter
from engine.program import Program
from engine.simulation.simulate import delta, simulate
from engine.simulation.versions import labels
from store.db.database import Database
from store.errors import Unprocessable
from store.registry.programs import ProgramCache
from store.reports.performance import performance


def _recorded(db: Database, cache: ProgramCache, program: str, start: datetime | None,
              end: datetime, out: Any) -> datetime | None:
    """Write the recorded events in [start, end) to `out`; returns the first one's instant."""
    first = None
    for line in exporter.export(db, program, cache):
        at = datetime.fromisoformat(json.loads(line)["at"])
        if at >= end or (start is not None and at < start):
            continue
        first = first or at
        out.write(line + "\n")
    return first


def backtest(db: Database, cache: ProgramCache, draft: Program, start: datetime | None,
             end: datetime, workers: int = 1) -> dict[str, Any]:
    """The simulation report of `draft` over the program's recorded history in
    [start, end), compared with production's recorded figures of that period."""
    with tempfile.TemporaryDirectory(prefix="backtest-") as folder:
        history = Path(folder) / "recorded.jsonl"
        with history.open("w", encoding="utf-8", newline="\n") as out:
            first = _recorded(db, cache, draft.program, start, end, out)
        if first is None:
            raise Unprocessable("no_recorded_history", f"{draft.program} has no recorded "
                                "events in the period", errors=[
                                    {"parameter": "from", "in": "query",
                                     "message": "no recorded events from here to `to`"}])
        doc = simulate(draft, history, workers=workers)
    production = performance(db, cache, draft.program, start or first, end)
    base, other = labels(doc["program"], production["program"])
    doc["period"] = production["period"]
    doc["compare"] = {**production, "delta": delta(doc, production),
                      "versions": {"labels": {"base": base, "compare": other}},
                      "members_changed": []}
    return doc
