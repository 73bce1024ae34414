"""The report of a shadow run, from the aggregates every process wrote: the document of
`simulate --compare` (engine/simulation/shadow.py `document`) with the live version as
the simulated one and the version in shadow as the compared one, and a `shadow` block."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import store.shadow.runs as runs
from engine.simulation.shadow import KINDS, MemberFigures, document
from store.db.database import Database
from store.registry.programs import ProgramCache
from store.tables.shadow import ShadowCountRow, ShadowMemberRow, ShadowSampleRow


def _samples(session: Session, run_id: int) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for s in session.scalars(select(ShadowSampleRow).where(ShadowSampleRow.run_id == run_id)
                             .order_by(ShadowSampleRow.kind, ShadowSampleRow.slot)):
        out.setdefault(s.kind, []).append({
            "operation": s.operation, "member_id": s.member_id, "request": s.request,
            "live": s.live, "shadow": s.shadow, "error": s.error,
            "at": s.created_at.isoformat()})
    return out


def report(db: Database, cache: ProgramCache, program: str,
           run_id: int | None = None) -> dict[str, Any]:
    """The report of the program's latest shadow run (or of run `run_id`)."""
    with db.reading() as session:
        run = runs.latest(session, program, run_id)
        sides: dict[str, Counter[tuple[str, str]]] = {"live": Counter(), "shadow": Counter(),
                                                      "run": Counter()}
        for row in session.execute(select(ShadowCountRow).where(
                ShadowCountRow.run_id == run.id)).scalars():
            sides[row.side][(row.kind, row.key)] += row.value
        members = [MemberFigures(m.member_id, m.live_points, m.shadow_points, m.live_tier,
                                 m.shadow_tier, m.tier_differences)
                   for m in session.scalars(select(ShadowMemberRow).where(
                       ShadowMemberRow.run_id == run.id).order_by(ShadowMemberRow.member_id))]
        own = sides["run"]
        seen = {int(key): n for (kind, key), n in own.items() if kind == "live_versions"}
        live_version = (max(seen, key=lambda v: (seen[v], v)) if seen
                        else cache.live_version(session, program, run.started_at))
        live = cache.get(session, program, live_version)
        shadow = cache.get(session, program, run.version)
        samples = _samples(session, run.id)
    block = {
        "run": run.to_json(),
        "requests": {op: own.get(("requests", op), 0) for op in ("quote", "commit")},
        "evaluated": own.get(("health", "evaluated"), 0),
        "failed": own.get(("health", "failed"), 0),
        "dropped": own.get(("health", "dropped"), 0),
        "differences": {kind: own.get(("differences", kind), 0) for kind in KINDS},
        "live_versions": {str(v): n for v, n in sorted(seen.items())},
        "samples": {kind: samples.get(kind, []) for kind in (*KINDS, "failed")},
    }
    return document(live, shadow, sides["live"], sides["shadow"], members, block)
