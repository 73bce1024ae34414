"""Companies of a program: the B2B portal's customers. Each has a public id, a name, the
external points account its points live in (`loyalty_account_id`, unique in the
program), a tier of the program's ruleset, an optional approval threshold and an active
flag. Every change is audited (`company.create`, `company.update`, `company.deactivate`)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import store.clock as clock
import store.ids as ids
import store.registry.audit as audit
from engine.program import Program
from store.errors import Conflict, NotFound, Unprocessable
from store.registry.versions import require_program
from store.tables.b2b import CompanyRow


@dataclass(frozen=True)
class Company:
    pk: int
    program: str
    company_id: str
    name: str
    loyalty_account_id: str
    tier: str
    approval_threshold: int | None
    active: bool
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"company_id": self.company_id, "program": self.program, "name": self.name,
                "loyalty_account_id": self.loyalty_account_id, "tier": self.tier,
                "approval_threshold": self.approval_threshold, "active": self.active,
                "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}


@dataclass(frozen=True)
class CompanyChange:
    """What an update sets; None leaves a field as it is (`clear_threshold` sets the
    approval threshold to none: orders never wait for approval)."""

    name: str | None = None
    loyalty_account_id: str | None = None
    tier: str | None = None
    approval_threshold: int | None = None
    clear_threshold: bool = False
    active: bool | None = None


def tiers_of(program: Program) -> frozenset[str]:
    """The tier ids a company of `program` may have (its ruleset's `tiers.levels`)."""
    levels = program.model.tiers.levels if program.model.tiers is not None else ()
    return frozenset(level.id for level in levels)


def _info(row: CompanyRow) -> Company:
    return Company(row.id, row.program, row.company_id, row.name, row.loyalty_account_id,
                   row.tier, row.approval_threshold, row.active, row.created_at,
                   row.updated_at)


def _check(company_id: str | None, name: str | None, account: str | None, tier: str | None,
           threshold: int | None, tiers: Collection[str]) -> None:
    if company_id is not None and not ids.storable(company_id):
        raise Unprocessable("invalid_id", f"company_id must be 1 to {ids.MAX_LENGTH} "
                            "characters without control characters", pointer="/company_id")
    if name is not None and not (0 < len(name.strip()) <= 200 and ids.storable(name)):
        raise Unprocessable("invalid_name", "name must be 1 to 200 characters without "
                            "control characters", pointer="/name")
    if account is not None and not ids.storable(account):
        raise Unprocessable("invalid_id", f"loyalty_account_id must be 1 to {ids.MAX_LENGTH} "
                            "characters without control characters",
                            pointer="/loyalty_account_id")
    if tier is not None and tier not in tiers:
        known = ", ".join(sorted(tiers)) or "none: the ruleset declares no tiers"
        raise Unprocessable("unknown_tier", f"tier {tier!r} is not a tier of the program "
                            f"(known: {known})", pointer="/tier")
    if threshold is not None and not 0 <= threshold <= 2**31 - 1:
        raise Unprocessable("invalid_threshold", "approval_threshold must be a whole number "
                            "of points from 0 to 2147483647", pointer="/approval_threshold")


def _account_taken(program: str, account: str) -> Conflict:
    return Conflict("account_taken", f"another company of {program} already has the points "
                    f"account {account!r}", pointer="/loyalty_account_id")


def create(session: Session, program: str, company_id: str, name: str,
           loyalty_account_id: str, tier: str, tiers: Collection[str],
           approval_threshold: int | None = None, actor: str = "cli") -> Company:
    """A new active company; `tiers` are the tier ids the program's ruleset declares."""
    require_program(session, program)
    _check(company_id, name, loyalty_account_id, tier, approval_threshold, tiers)
    if find_row(session, program, company_id) is not None:
        raise Conflict("company_exists", f"{program} already has a company {company_id!r}",
                       pointer="/company_id")
    if session.scalar(select(CompanyRow.id).where(
            CompanyRow.program == program,
            CompanyRow.loyalty_account_id == loyalty_account_id)) is not None:
        raise _account_taken(program, loyalty_account_id)
    now = clock.now()
    row = CompanyRow(program=program, company_id=company_id, name=name.strip(),
                     loyalty_account_id=loyalty_account_id, tier=tier,
                     approval_threshold=approval_threshold, active=True, created_at=now,
                     updated_at=now)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:  # a concurrent create took the id or the account
        raise Conflict("company_exists", f"{program} already has a company {company_id!r} "
                       f"or one with the account {loyalty_account_id!r}") from exc
    audit.record(session, actor, "company.create", program, company_id=company_id,
                 loyalty_account_id=loyalty_account_id, tier=tier,
                 approval_threshold=approval_threshold)
    return _info(row)


def update(session: Session, program: str, company_id: str, change: CompanyChange,
           tiers: Collection[str], actor: str = "cli") -> Company:
    row = _row(session, program, company_id, lock=True)
    _check(None, change.name, change.loyalty_account_id, change.tier,
           change.approval_threshold, tiers)
    if change.loyalty_account_id not in (None, row.loyalty_account_id) and session.scalar(
            select(CompanyRow.id).where(
                CompanyRow.program == program,
                CompanyRow.loyalty_account_id == change.loyalty_account_id)) is not None:
        raise _account_taken(program, str(change.loyalty_account_id))
    changed: dict[str, Any] = {}
    for field in ("name", "loyalty_account_id", "tier", "active"):
        value = getattr(change, field)
        if field == "name" and value is not None:
            value = value.strip()
        if value is not None and value != getattr(row, field):
            changed[field] = value
    if change.clear_threshold and row.approval_threshold is not None:
        changed["approval_threshold"] = None
    elif change.approval_threshold is not None and \
            change.approval_threshold != row.approval_threshold:
        changed["approval_threshold"] = change.approval_threshold
    if changed:
        for field, value in changed.items():
            setattr(row, field, value)
        row.updated_at = clock.now()
        session.flush()
        action = "company.deactivate" if changed.get("active") is False else "company.update"
        audit.record(session, actor, action, program, company_id=company_id, changed=changed)
    return _info(row)


def deactivate(session: Session, program: str, company_id: str, actor: str = "cli") -> Company:
    """Its managers can no longer act; its records stay."""
    return update(session, program, company_id, CompanyChange(active=False), (), actor)


def find_row(session: Session, program: str, company_id: str) -> CompanyRow | None:
    return session.scalar(select(CompanyRow).where(CompanyRow.program == program,
                                                   CompanyRow.company_id == company_id))


def _row(session: Session, program: str, company_id: str, lock: bool = False) -> CompanyRow:
    query = select(CompanyRow).where(CompanyRow.program == program,
                                     CompanyRow.company_id == company_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound("unknown_company", f"{program} has no company {company_id!r}")
    return row


def get(session: Session, program: str, company_id: str) -> Company:
    return _info(_row(session, program, company_id))


def by_pk(session: Session, pk: int) -> Company:
    row = session.get(CompanyRow, pk)
    if row is None:
        raise NotFound("unknown_company", f"no company #{pk}")
    return _info(row)


def listing(session: Session, program: str, active: bool | None = None) -> list[Company]:
    require_program(session, program)
    query = select(CompanyRow).where(CompanyRow.program == program)
    if active is not None:
        query = query.where(CompanyRow.active == active)
    return [_info(r) for r in session.scalars(query.order_by(CompanyRow.company_id))]
