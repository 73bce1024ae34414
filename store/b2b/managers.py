"""Account managers: people who act for one company of a program, each with a role
(store/b2b/principals.py). Every change is audited (`manager.create`, `manager.update`,
`manager.deactivate`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import store.b2b.companies as companies
import store.clock as clock
import store.ids as ids
import store.registry.audit as audit
from store.b2b.principals import ROLES, Manager
from store.errors import Conflict, NotFound, Unprocessable
from store.tables.b2b import AccountManagerRow, CompanyRow

EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]{1,255}$")


@dataclass(frozen=True)
class ManagerRecord:
    pk: int
    program: str
    company_id: str
    manager_id: str
    name: str
    email: str
    role: str
    active: bool
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"manager_id": self.manager_id, "company_id": self.company_id,
                "name": self.name, "email": self.email, "role": self.role,
                "active": self.active, "created_at": self.created_at.isoformat()}


def _info(row: AccountManagerRow, company_id: str) -> ManagerRecord:
    return ManagerRecord(row.id, row.program, company_id, row.manager_id, row.name,
                         row.email, row.role, row.active, row.created_at)


def _check(manager_id: str | None, name: str | None, email: str | None,
           role: str | None) -> None:
    if manager_id is not None and not ids.storable(manager_id):
        raise Unprocessable("invalid_id", f"manager_id must be 1 to {ids.MAX_LENGTH} "
                            "characters without control characters", pointer="/manager_id")
    if name is not None and not (0 < len(name.strip()) <= 200 and ids.storable(name)):
        raise Unprocessable("invalid_name", "name must be 1 to 200 characters without "
                            "control characters", pointer="/name")
    if email is not None and not EMAIL.match(email):
        raise Unprocessable("invalid_email", "email must look like name@domain",
                            pointer="/email")
    if role is not None and role not in ROLES:
        raise Unprocessable("invalid_role", f"role must be one of {', '.join(ROLES)}; got "
                            f"{role!r}", pointer="/role")


def create(session: Session, program: str, company_id: str, manager_id: str, name: str,
           email: str, role: str, actor: str = "cli") -> ManagerRecord:
    company = companies.get(session, program, company_id)
    _check(manager_id, name, email, role)
    if session.scalar(select(AccountManagerRow.id).where(
            AccountManagerRow.program == program,
            AccountManagerRow.manager_id == manager_id)) is not None:
        raise Conflict("manager_exists", f"{program} already has a manager {manager_id!r}",
                       pointer="/manager_id")
    row = AccountManagerRow(program=program, company_pk=company.pk, manager_id=manager_id,
                            name=name.strip(), email=email, role=role, active=True,
                            created_at=clock.now())
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:  # a concurrent create took the id
        raise Conflict("manager_exists", f"{program} already has a manager {manager_id!r}",
                       pointer="/manager_id") from exc
    audit.record(session, actor, "manager.create", program, company_id=company_id,
                 manager_id=manager_id, role=role)
    return _info(row, company_id)


def _row(session: Session, program: str, company_id: str, manager_id: str,
         lock: bool = False) -> AccountManagerRow:
    """The manager of that company (NotFound for a manager of another company)."""
    query = select(AccountManagerRow).join(
        CompanyRow, CompanyRow.id == AccountManagerRow.company_pk).where(
        AccountManagerRow.program == program, AccountManagerRow.manager_id == manager_id,
        CompanyRow.company_id == company_id)
    row = session.scalar(query.with_for_update(of=AccountManagerRow) if lock else query)
    if row is None:
        raise NotFound("unknown_manager", f"company {company_id!r} has no manager "
                       f"{manager_id!r}")
    return row


def get(session: Session, program: str, company_id: str, manager_id: str) -> ManagerRecord:
    return _info(_row(session, program, company_id, manager_id), company_id)


def update(session: Session, program: str, company_id: str, manager_id: str, *,
           role: str | None = None, name: str | None = None, email: str | None = None,
           active: bool | None = None, actor: str = "cli") -> ManagerRecord:
    row = _row(session, program, company_id, manager_id, lock=True)
    _check(None, name, email, role)
    changed = {field: value for field, value in
               (("role", role), ("name", name.strip() if name else None), ("email", email),
                ("active", active))
               if value is not None and value != getattr(row, field)}
    if changed:
        for field, value in changed.items():
            setattr(row, field, value)
        session.flush()
        action = "manager.deactivate" if changed.get("active") is False else "manager.update"
        audit.record(session, actor, action, program, company_id=company_id,
                     manager_id=manager_id, changed=changed)
    return _info(row, company_id)


def deactivate(session: Session, program: str, company_id: str, manager_id: str,
               actor: str = "cli") -> ManagerRecord:
    """The manager can no longer act (keys and tokens stop resolving); records stay."""
    return update(session, program, company_id, manager_id, active=False, actor=actor)


def listing(session: Session, program: str, company_id: str) -> list[ManagerRecord]:
    company = companies.get(session, program, company_id)
    rows = session.scalars(select(AccountManagerRow).where(
        AccountManagerRow.company_pk == company.pk).order_by(AccountManagerRow.manager_id))
    return [_info(r, company_id) for r in rows]


def principal(session: Session, program: str, manager_id: str) -> Manager | None:
    """The manager acting, when they and their company are active; else None."""
    found = session.execute(
        select(AccountManagerRow.role, CompanyRow.company_id, CompanyRow.id)
        .join(CompanyRow, CompanyRow.id == AccountManagerRow.company_pk)
        .where(AccountManagerRow.program == program, AccountManagerRow.manager_id == manager_id,
               AccountManagerRow.active.is_(True), CompanyRow.active.is_(True))).first()
    if found is None:
        return None
    role, company_id, company_pk = found
    return Manager(program, company_id, company_pk, manager_id, role)
