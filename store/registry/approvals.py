"""Four-eyes approvals: a version a program declares `approvals: {required: N}` for needs N
approvals, by actors other than its publisher and each other, before it can be activated.

The requirement that counts is the strictest of the version's own declaration, that of
the version live now and that of the version it replaces at the instant it takes effect
(a version scheduled to go live before it), so a new version cannot drop the rule to
approve itself, now or by being scheduled after the version that brings it. An actor
is an API key (`key:<prefix>`): two keys count as two people.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import store.clock as clock
import store.registry.audit as audit
import store.registry.versions as registry
from store.errors import Conflict, Forbidden
from store.tables.core import ApprovalRow


def required(session: Session, program: str, version: int, now: datetime,
             when: datetime | None = None) -> int:
    """Approvals `version` needs (activated at `when`, default now): the strictest of its
    declaration, the live version's and that of the version live at `when`."""
    need = registry.get_version(session, program, version).approvals_required
    for instant in {now, when or now}:
        live = registry.live_at(session, program, instant)
        if live is not None and live != version:
            need = max(need, registry.get_version(session, program, live).approvals_required)
    return need


def state(session: Session, program: str, version: int, now: datetime,
          when: datetime | None = None) -> dict[str, Any]:
    """Who published the version, how many approvals it needs (activated at `when`, default
    now), who gave them, what is missing."""
    row = registry.get_version(session, program, version)
    rows = session.scalars(select(ApprovalRow).where(
        ApprovalRow.program == program, ApprovalRow.version == version).order_by(ApprovalRow.id))
    given = [{"actor": r.actor, "at": r.at.isoformat(), "message": r.message} for r in rows]
    need = required(session, program, version, now, when)
    return {"required": need, "publisher": row.author, "approved_by": given,
            "missing": max(0, need - len(given))}


def approve(session: Session, program: str, version: int, actor: str, message: str = "",
            now: datetime | None = None) -> dict[str, Any]:
    """Record `actor`'s approval of a published version; returns the approval state."""
    now = now or clock.now()
    row = registry.get_version(session, program, version)
    if actor == row.author:
        raise Forbidden("self_approval", f"{actor} published {program} version {version} and "
                        "cannot approve it; another person (another key) must")
    try:
        with session.begin_nested():
            session.add(ApprovalRow(program=program, version=version, actor=actor,
                                    message=message, at=now))
    except IntegrityError:
        raise Conflict("already_approved",
                       f"{actor} has already approved {program} version {version}") from None
    audit.record(session, actor, "ruleset.approve", program, version=version, message=message)
    return state(session, program, version, now)


def check(session: Session, program: str, version: int, now: datetime,
          when: datetime | None = None) -> None:
    """Refuse (409 approvals_required) to activate a version (at `when`, default now) still
    missing approvals."""
    found = state(session, program, version, now, when)
    if found["missing"]:
        have = len(found["approved_by"])
        raise Conflict("approvals_required",
                       f"{program} version {version} needs {found['required']} approval(s) by "
                       f"keys other than its publisher's ({found['publisher']}) and has {have}; "
                       f"approve it with `loyalty approve {program} {version}` or "
                       f"POST /v1/rulesets/{program}/{version}/approve")
