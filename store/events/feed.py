"""The event feed of a program: pages of its domain events in commit order, after a
cursor (the position of the last event the reader has)."""

from __future__ import annotations

from typing import Any

from store.db.database import Database
from store.events.outbox import read_after
from store.registry.versions import require_program


def page(db: Database, program: str, after: int, limit: int) -> dict[str, Any]:
    """Up to `limit` events after cursor `after`; `next_cursor` is the cursor to ask with
    next (the same one when nothing new was there: ask again later)."""
    with db.reading() as session:
        require_program(session, program)
        published = read_after(session, program, after, limit)
    return {"program": program,
            "events": [p.event.to_json() for p in published],
            "next_cursor": str(published[-1].position if published else after)}
