"""A program's activation timeline: live, scheduled and past activations, what each
replaced, and rollbacks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import store.registry.versions as registry
from store.errors import NotFound
from store.registry.timeline import timeline
from tests.store.helpers import publish_retail


def test_statuses_replacements_and_rollbacks(db, server_clock) -> None:
    publish_retail(db, 1, activate=False)
    publish_retail(db, 2, activate=False)
    later = datetime(2030, 1, 1, tzinfo=UTC)
    with db.writing() as session:
        registry.activate(session, "retail", 1, "ana")  # now (the frozen server clock)
        registry.activate(session, "retail", 2, "ana")
        registry.activate(session, "retail", 1, "ben")  # back to 1: a rollback
        registry.activate(session, "retail", 2, "ben", effective_from=later)
    got = [(a["version"], a["status"], a["replaces"], a["rollback"], a["author"])
           for a in timeline(db, "retail")]
    assert got == [(2, "scheduled", 1, False, "ben"),
                   (1, "live", 2, True, "ben"),
                   (2, "past", 1, False, "ana"),
                   (1, "past", None, False, "ana")]
    server_clock.set("2030-01-01T00:00:00+00:00")  # the scheduled one takes effect
    assert [a["status"] for a in timeline(db, "retail")] == ["live", "past", "past", "past"]


def test_an_unknown_program(db) -> None:
    with pytest.raises(NotFound):
        timeline(db, "nope")
    publish_retail(db, 1, activate=False)
    assert timeline(db, "retail") == []
