"""One shadow evaluation: a live request evaluated again against the version in shadow,
compared, and counted in a `Tally` (written to the database by `flush`).

A quote is evaluated through `store.checkout.orders.quote` pinned to the version in
shadow, a commit through `store.checkout.orders.rehearse` — the lifecycle step of a
commit on a copy of the member's book as the live commit found it — so the shadow runs
the same code as the live answer and writes nothing but the shadow aggregates. An
evaluation that raises is counted (`failed`) and sampled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import store.checkout.orders as orders
import store.shadow.runs as runs
from engine.simulation.shadow import differences, side_of
from store.db.database import Database
from store.registry.programs import ProgramCache
from store.shadow.tally import Sample, Tally

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    run: runs.Run
    operation: str  # quote | commit
    request: dict[str, Any]
    live: dict[str, Any]
    before: orders.BookBefore | None = None


class Evaluator:
    def __init__(self, db: Database, cache: ProgramCache) -> None:
        self.db, self.cache = db, cache
        self.tally = Tally()

    def flush(self) -> None:
        if not self.tally:
            return
        try:
            self.tally.flush(self.db)
        except Exception:
            log.exception("shadow: cannot write the aggregates; %d requests' figures lost",
                          self.tally.requests)
            self.tally = Tally(full=self.tally.full)

    def evaluate(self, job: Job) -> None:
        run, request, live = job.run, job.request, job.live
        member_id = str((request.get("member") or {}).get("id"))
        try:
            shadow = self._shadow(job, run.version, request)
            with self.db.read_connection() as conn:
                live_program = self.cache.get(conn, run.program, live["ruleset_version"], self.db)
                shadow_program = self.cache.get(conn, run.program, run.version, self.db)
            a, b = side_of(live_program, request, live), side_of(shadow_program, request, shadow)
            kinds = differences(a, b)
        except Exception as exc:  # noqa: BLE001  # counted and sampled; the live answer is gone
            self.tally.failed(run.id, job.operation, Sample(
                job.operation, member_id, request, live, None, f"{type(exc).__name__}: {exc}"))
            return
        self.tally.add(run.id, job.operation, member_id, live["ruleset_version"], a, b, kinds)
        sample = None
        for kind in kinds:
            if self.tally.wants_sample(run.id, kind):
                if sample is None:
                    try:
                        sample = self._traced(job, member_id)
                    except Exception:  # noqa: BLE001  # the answers without their traces
                        sample = Sample(job.operation, member_id, request, live, shadow)
                self.tally.sample(run.id, kind, sample)

    def _shadow(self, job: Job, version: int, request: dict[str, Any]) -> dict[str, Any]:
        if job.operation == "quote":
            return orders.quote(self.db, self.cache, job.run.program, request, version,
                                may_call_out=False)
        assert job.before is not None
        with self.db.read_connection() as conn:
            program = self.cache.get(conn, job.run.program, version, self.db)
        return orders.rehearse(self.db, program, request, job.before)

    def _traced(self, job: Job, member_id: str) -> Sample:
        """A sample of a difference: both versions' answers with their explain traces
        (evaluated again with `explain`, from the same book)."""
        request = {**job.request, "explain": True}
        live = self._shadow(job, job.live["ruleset_version"], request)
        shadow = self._shadow(job, job.run.version, request)
        if job.operation == "commit":  # what the live commit answered, with the trace
            live = {**job.live, "trace": live.get("trace")}
        return Sample(job.operation, member_id, job.request, live, shadow)
