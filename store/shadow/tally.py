"""The aggregates of shadow runs, added up in a process and written in batches.

Every figure is a sum, so each server process adds its batch to the database with
upserts that increment (`store.db.upsert.increment`): the figures of several workers add
up, whatever the interleaving. Rows are written in key order, so two processes flushing
at once never wait on each other in a circle (PostgreSQL). Samples take numbered slots
1…SAMPLE_LIMIT of their kind; a slot taken by another process is skipped, so a sample
never grows past the limit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from engine.simulation.shadow import Side, counters
from store.db.database import Database
from store.db.upsert import increment, insert_ignore
from store.tables.shadow import ShadowCountRow, ShadowMemberRow, ShadowSampleRow

SAMPLE_LIMIT = 20  # requests kept per kind of difference (and of failure) per run


@dataclass
class Sample:
    operation: str
    member_id: str
    request: dict[str, Any]
    live: dict[str, Any]
    shadow: dict[str, Any] | None
    error: str | None = None


@dataclass
class Tally:
    """What this process counted since its last flush."""

    counts: Counter[tuple[int, str, str, str]] = field(default_factory=Counter)
    # (run, member) → [requests, live points, shadow points, tier differences, live tier,
    # shadow tier]
    members: dict[tuple[int, str], list[Any]] = field(default_factory=dict)
    samples: dict[tuple[int, str], list[Sample]] = field(default_factory=dict)
    full: set[tuple[int, str]] = field(default_factory=set)  # kinds whose sample is full
    requests: int = 0

    def __bool__(self) -> bool:
        return bool(self.counts or self.members or self.samples)

    def run_count(self, run: int, kind: str, key: str, amount: int = 1) -> None:
        self.counts[(run, "run", kind, key)] += amount

    def wants_sample(self, run: int, kind: str) -> bool:
        return ((run, kind) not in self.full
                and len(self.samples.get((run, kind), ())) < SAMPLE_LIMIT)

    def sample(self, run: int, kind: str, sample: Sample) -> None:
        if self.wants_sample(run, kind):
            self.samples.setdefault((run, kind), []).append(sample)

    def add(self, run: int, operation: str, member_id: str, live_version: int, live: Side,
            shadow: Side, kinds: list[str]) -> None:
        self.requests += 1
        self.run_count(run, "requests", operation)
        self.run_count(run, "health", "evaluated")
        self.run_count(run, "live_versions", str(live_version))
        for kind in kinds:
            self.run_count(run, "differences", kind)
        for name, side in (("live", live), ("shadow", shadow)):
            for kind, key, amount in counters(side):
                self.counts[(run, name, kind, key)] += amount
        figures = self.members.setdefault((run, member_id), [0, 0, 0, 0, None, None])
        figures[0] += 1
        figures[3] += "tier" in kinds
        if operation == "commit":  # a quote changes nobody's tier
            figures[1] += live.points
            figures[2] += shadow.points
            figures[4], figures[5] = live.tier, shadow.tier

    def failed(self, run: int, operation: str, sample: Sample) -> None:
        self.requests += 1
        self.run_count(run, "requests", operation)
        self.run_count(run, "health", "failed")
        self.sample(run, "failed", sample)

    def flush(self, db: Database) -> None:
        """Add everything counted to the database, then start afresh."""
        with db.writing() as session:
            for (run, side, kind, key), value in sorted(self.counts.items()):
                if value:
                    increment(session, ShadowCountRow.__table__,
                              {"run_id": run, "side": side, "kind": kind, "key": key[:200]},
                              {"value": value})
            for (run, member), (n, live, shadow, differ, live_tier, shadow_tier) in sorted(
                    self.members.items()):
                tiers = {"live_tier": live_tier, "shadow_tier": shadow_tier}
                increment(session, ShadowMemberRow.__table__,
                          {"run_id": run, "member_id": member},
                          {"requests": n, "live_points": live, "shadow_points": shadow,
                           "tier_differences": differ},
                          tiers, latest=tuple(tiers) if live_tier or shadow_tier else ())
            for (run, kind), samples in sorted(self.samples.items()):
                taken = session.scalar(select(func.count()).select_from(ShadowSampleRow).where(
                    ShadowSampleRow.run_id == run, ShadowSampleRow.kind == kind)) or 0
                for slot, s in enumerate(samples[:SAMPLE_LIMIT - taken], start=taken + 1):
                    insert_ignore(session, ShadowSampleRow.__table__, {
                        "run_id": run, "kind": kind, "slot": slot, "operation": s.operation,
                        "member_id": s.member_id, "request": s.request, "live": s.live,
                        "shadow": s.shadow, "error": s.error,
                        "created_at": datetime.now(UTC)}, ["run_id", "kind", "slot"])
                if taken + len(samples) >= SAMPLE_LIMIT:
                    self.full.add((run, kind))
        self.counts.clear()
        self.members.clear()
        self.samples.clear()
        self.requests = 0
