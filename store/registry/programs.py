"""Per-process cache of compiled ruleset versions and activation timelines.

Versions are immutable, so a compiled version never goes stale. Timelines change with
activations: a request compares the registry generation (one indexed read) with the
one the cache was built at and reloads the timelines when it moved — a read (a quote)
at most every `check_seconds`, a write (a commit, refund, redemption… in `db.writing()`)
every time, in its own transaction, so nothing is recorded under a version that another
process has already replaced. A request in flight keeps the Program object it resolved,
so an activation never breaks it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

import store.registry.versions as registry
from engine import load_program
from store.db.database import Database
from store.errors import NotFound, Unprocessable


class ProgramCache:
    def __init__(self, check_seconds: float = 0.0) -> None:
        self._compiled: dict[tuple[str, int], Any] = {}
        self._timelines: dict[str, list[registry.Activation]] = {}
        self._generation: int | None = None
        self._checked_at = 0.0
        self._check_seconds = check_seconds
        self._lock = threading.Lock()

    def refresh(self, session: Session | Connection, force: bool = False,
                generation: int | None = None) -> None:
        """Reload the timelines when the registry's generation moved. `generation`: the
        generation as the caller's transaction already read it (a commit reads it with
        its locking read), instead of reading it again."""
        now = time.monotonic()
        writing = isinstance(session, Session) and session.info.get("writing", False)
        if not force and not writing and self._generation is not None \
                and now - self._checked_at < self._check_seconds:
            return
        current = registry.generation(session) if generation is None else generation
        self._checked_at = now
        if current == self._generation and not force:
            return
        timelines: dict[str, list[registry.Activation]] = {}
        for act in registry.activations(session):
            timelines.setdefault(act.program, []).append(act)
        self._timelines, self._generation = timelines, current

    def invalidate(self) -> None:
        """Re-read the timelines on next use (after this process published or activated)."""
        self._generation = None

    def get(self, session: Session | Connection, program: str, version: int,
            db: Database | None = None) -> Any:
        """A compiled version; on a miss the sources are read through an ORM session
        (`db`'s, when the caller holds a plain connection)."""
        key = (program, version)
        found = self._compiled.get(key)
        if found is not None:
            return found
        if isinstance(session, Session):
            sources = registry.sources_of(session, program, version)
        else:
            assert db is not None, "a plain connection needs the database for cache misses"
            with db.reading() as orm_session:
                sources = registry.sources_of(orm_session, program, version)
        with self._lock:  # compile once; the rule engine's names are global per process
            found = self._compiled.get(key)
            if found is None:
                found = load_program(sources)
                self._compiled[key] = found
        return found

    def live_version(self, session: Session | Connection, program: str, at: datetime,
                     generation: int | None = None) -> int:
        self.refresh(session, generation=generation)
        timeline = self._timelines.get(program)
        if not timeline:
            registry.require_program(session, program)
            raise NotFound("no_active_version", f"{program} has no activated version")
        version = registry.live_version(timeline, at)
        if version is None:
            first = min(a.effective_from for a in timeline)
            raise Unprocessable(
                "no_effective_version",
                f"no {program} version is in effect at {at.isoformat()}; "
                f"the first activation takes effect at {first.isoformat()}",
                pointer="/order/placed_at",
            )
        return version

    def resolve(self, session: Session | Connection, program: str, at: datetime,
                pinned: int | None = None, db: Database | None = None,
                generation: int | None = None) -> Any:
        """The compiled version a request runs against: the pinned one, or the live one
        (`generation`: the registry's, when the caller's transaction has read it)."""
        if pinned is not None:
            return self.get(session, program, pinned, db)
        return self.get(session, program, self.live_version(session, program, at, generation),
                        db)

    def warm(self, session: Session) -> list[str]:
        """Compile every version live now; returns their names (for /readyz)."""
        self.refresh(session, force=True)
        now = datetime.now(UTC)
        names = []
        for program, timeline in self._timelines.items():
            version = registry.live_version(timeline, now)
            if version is not None:
                names.append(self.get(session, program, version).name)
        return names
