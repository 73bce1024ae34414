"""Putting a published version in shadow for a program, and taking it out.

A program has at most one version in shadow at a time: starting one stops the run before
(its report stays readable), and both are recorded in the audit log (`shadow.start`,
`shadow.stop`) like activations. Each start opens a new run with fresh aggregates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

import store.clock as clock
import store.registry.audit as audit
import store.registry.versions as registry
from store.db.database import Database
from store.errors import NotFound
from store.tables.core import ProgramRow
from store.tables.shadow import ShadowRunRow


@dataclass(frozen=True)
class Run:
    id: int
    program: str
    version: int
    started_by: str
    started_at: datetime
    stopped_by: str | None
    stopped_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "program": self.program, "version": self.version,
                "active": self.stopped_at is None, "started_by": self.started_by,
                "started_at": self.started_at.isoformat(), "stopped_by": self.stopped_by,
                "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None}


def _run(row: Any) -> Run:
    return Run(row.id, row.program, row.version, row.started_by, row.started_at,
               row.stopped_by, row.stopped_at)


_ACTIVE = select(ShadowRunRow.id, ShadowRunRow.program, ShadowRunRow.version,
                 ShadowRunRow.started_by, ShadowRunRow.started_at, ShadowRunRow.stopped_by,
                 ShadowRunRow.stopped_at).where(ShadowRunRow.stopped_at.is_(None))


def active(conn: Session | Connection) -> dict[str, Run]:
    """The run in shadow of each program that has one."""
    return {row.program: _run(row) for row in conn.execute(_ACTIVE)}


def latest(session: Session, program: str, run_id: int | None = None) -> Run:
    """The program's latest run (running or stopped), or run `run_id` of it."""
    registry.require_program(session, program)
    query = select(ShadowRunRow).where(ShadowRunRow.program == program)
    if run_id is not None:
        query = query.where(ShadowRunRow.id == run_id)
    row = session.scalar(query.order_by(ShadowRunRow.id.desc()).limit(1))
    if row is None:
        raise NotFound("no_shadow", f"{program} has no shadow run"
                       + (f" {run_id}" if run_id is not None else ""))
    return _run(row)


def _stop(session: Session, program: str, actor: str) -> Run | None:
    # The program's row is the lock: two starts (or a start and a stop) of one program at
    # once take turns, so it never has two runs in shadow.
    session.execute(select(ProgramRow.id).where(ProgramRow.id == program).with_for_update())
    row = session.scalar(select(ShadowRunRow).where(
        ShadowRunRow.program == program, ShadowRunRow.stopped_at.is_(None)).with_for_update())
    if row is None:
        return None
    row.stopped_at, row.stopped_by = clock.now(), actor
    audit.record(session, actor, "shadow.stop", program, version=row.version, run=row.id)
    return _run(row)


def start(db: Database, program: str, version: int, actor: str) -> Run:
    """Put `version` (published) in shadow for `program`, replacing the one in shadow."""
    with db.writing() as session:
        registry.get_version(session, program, version)  # NotFound unless published
        _stop(session, program, actor)
        row = ShadowRunRow(program=program, version=version, started_by=actor,
                           started_at=clock.now())
        session.add(row)
        session.flush()
        audit.record(session, actor, "shadow.start", program, version=version, run=row.id)
        return _run(row)


def stop(db: Database, program: str, actor: str) -> Run:
    """Take the program's version out of shadow (its report stays readable)."""
    with db.writing() as session:
        registry.require_program(session, program)
        run = _stop(session, program, actor)
        if run is None:
            raise NotFound("no_shadow", f"{program} has no version in shadow")
        return run
