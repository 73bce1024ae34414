"""The versioned ruleset registry: immutable versions, activation history, generation.

Versions are never updated or deleted. An activation says "from `effective_from` on,
`version` is live"; the version live at an instant is the activation with the latest
`effective_from` not after it (ties: the later activation). Rollback is activating an
older version. Every publish and activation bumps one generation counter, which each
worker compares cheaply to know when to reload its activation timelines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import store.clock as clock
import store.registry.audit as audit
from engine.program import Program
from store.db.upsert import insert_ignore
from store.errors import Conflict, NotFound, Unprocessable
from store.tables.core import ActivationRow, ProgramRow, RegistryGenerationRow, RulesetVersionRow


@dataclass(frozen=True)
class VersionInfo:
    program: str
    version: int
    digest: str
    author: str
    message: str
    created_at: datetime
    effective_from: datetime | None


@dataclass(frozen=True)
class Activation:
    program: str
    version: int
    effective_from: datetime
    activated_at: datetime
    author: str
    seq: int


def _info(row: RulesetVersionRow) -> VersionInfo:
    return VersionInfo(row.program, row.version, row.digest, row.author, row.message,
                       row.created_at, row.effective_from)


def source_names(sources: dict[str, str]) -> dict[str, str]:
    """Store files under their base names, in load order, never under local paths."""
    return {Path(name).name: text for name, text in sorted(sources.items())}


# The registry's generation, read by every write: built once (building costs more than
# running it). Also a column of the commit's locking read (store/checkout/orders.py).
GENERATION = select(RegistryGenerationRow.generation).where(RegistryGenerationRow.id == 1)


def generation(session: Session | Connection) -> int:
    return session.scalar(GENERATION) or 0


def bump_generation(session: Session) -> None:
    session.execute(update(RegistryGenerationRow).where(RegistryGenerationRow.id == 1)
                    .values(generation=RegistryGenerationRow.generation + 1))


def publish(session: Session, program: Program, author: str, message: str = "") -> tuple[VersionInfo, bool]:
    """Store a loaded program as a new immutable version.

    Returns (version, created). Publishing identical content again is a no-op; the same
    version with other content, or a version below the program's latest, is refused."""
    existing = session.scalar(select(RulesetVersionRow).where(
        RulesetVersionRow.program == program.program, RulesetVersionRow.version == program.version))
    if existing is not None:
        if existing.digest == program.digest:
            return _info(existing), False
        raise Conflict("version_exists",
                       f"{program.program} version {program.version} is already published with "
                       f"other content ({existing.digest}); publish it as a new version",
                       pointer="/version")
    latest = session.scalar(select(func.max(RulesetVersionRow.version))
                            .where(RulesetVersionRow.program == program.program))
    if latest is not None and program.version < latest:
        raise Conflict("version_not_increasing",
                       f"{program.program} is at version {latest}; versions only increase",
                       pointer="/version")
    now = datetime.now(UTC)
    insert_ignore(session, ProgramRow.__table__, {"id": program.program, "created_at": now}, ["id"])
    row = RulesetVersionRow(program=program.program, version=program.version,
                            digest=program.digest, sources=source_names(dict(program.sources)),
                            author=author, message=message, created_at=now,
                            effective_from=program.effective_from,
                            approvals_required=program.model.approvals_required)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent publish of the same version won the race
        return publish(session, program, author, message)
    bump_generation(session)
    audit.record(session, author, "ruleset.publish", program.program,
                 version=program.version, digest=program.digest, message=message)
    return _info(row), True


def latest_before(session: Session, program: str, version: int) -> VersionInfo | None:
    """The latest published version of `program` below `version` (None: none)."""
    row = session.scalar(select(RulesetVersionRow).where(
        RulesetVersionRow.program == program, RulesetVersionRow.version < version)
        .order_by(RulesetVersionRow.version.desc()).limit(1))
    return _info(row) if row is not None else None


def get_version(session: Session, program: str, version: int) -> RulesetVersionRow:
    row = session.scalar(select(RulesetVersionRow).where(
        RulesetVersionRow.program == program, RulesetVersionRow.version == version))
    if row is None:
        require_program(session, program)
        raise NotFound("unknown_version", f"{program} has no version {version}")
    return row


def version_info(session: Session, program: str, version: int) -> VersionInfo:
    return _info(get_version(session, program, version))


def sources_of(session: Session, program: str, version: int) -> dict[str, str]:
    return dict(get_version(session, program, version).sources)


def require_program(session: Session | Connection, program: str) -> None:
    found = session.execute(select(ProgramRow.id).where(ProgramRow.id == program)).first()
    if found is None:
        raise NotFound("unknown_program", f"no program {program!r} is published")


def versions(session: Session, program: str | None = None) -> list[VersionInfo]:
    query = select(RulesetVersionRow).order_by(RulesetVersionRow.program, RulesetVersionRow.version)
    if program is not None:
        require_program(session, program)
        query = query.where(RulesetVersionRow.program == program)
    return [_info(r) for r in session.scalars(query)]


def effective_instant(row: RulesetVersionRow, effective_from: datetime | None = None,
                      at_declared: bool = False) -> datetime:
    """When an activation of `row` takes effect: `effective_from`, else the version's own
    declared `effective_from` when `at_declared`, else now (the server clock)."""
    if effective_from is None and at_declared:
        if row.effective_from is None:
            raise Unprocessable("no_effective_from",
                                f"{row.program} version {row.version} declares no effective_from",
                                pointer="/effective_from")
        return row.effective_from
    return effective_from or clock.now()


def live_at(session: Session | Connection, program: str, at: datetime) -> int | None:
    """The version of `program` live at `at` (None: none activated by then)."""
    return live_version(activations(session, program), at)


def activate(session: Session, program: str, version: int, author: str,
             effective_from: datetime | None = None, at_declared: bool = False,
             **detail: Any) -> Activation:
    """Make `version` live from `effective_from` (default: now, or the version's own
    declared `effective_from` when `at_declared`). Audited as a rollback when `version` is
    older than the version it replaces at that instant; `detail` goes into the audit entry."""
    row = get_version(session, program, version)
    when = effective_instant(row, effective_from, at_declared)
    replaces = live_at(session, program, when)
    activation = ActivationRow(program=program, version=version, effective_from=when,
                               activated_at=clock.now(), author=author)
    session.add(activation)
    session.flush()
    bump_generation(session)
    action = "ruleset.rollback" if replaces is not None and version < replaces else \
        "ruleset.activate"
    audit.record(session, author, action, program, version=version, replaces=replaces,
                 effective_from=activation.effective_from.isoformat(), **detail)
    return _activation(activation)


def _activation(row: Any) -> Activation:
    return Activation(row.program, row.version, row.effective_from, row.activated_at,
                      row.author, row.id)


def activations(session: Session | Connection, program: str | None = None) -> list[Activation]:
    # Plain rows, so that a Core connection can read the timelines too.
    query = select(*ActivationRow.__table__.c).order_by(ActivationRow.id)
    if program is not None:
        query = query.where(ActivationRow.program == program)
    return [_activation(r) for r in session.execute(query)]


def live_version(timeline: list[Activation], at: datetime) -> int | None:
    """The version live at `at` according to an activation timeline (None: none yet)."""
    best = live_activation(timeline, at)
    return best.version if best else None


def live_activation(timeline: list[Activation], at: datetime) -> Activation | None:
    """The activation in force at `at`: the latest effective_from not after it (ties: the
    later activation)."""
    best: Activation | None = None
    for act in timeline:
        if act.effective_from <= at and (
            best is None or (act.effective_from, act.seq) > (best.effective_from, best.seq)
        ):
            best = act
    return best
