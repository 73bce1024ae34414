"""Account managers' personal API keys (`lmk_…`): random secrets shown once, stored as
SHA-256 digests like program keys (store/registry/keys.py). A key resolves to its manager
while the key, the manager and the company are all live. Audited as
`manager_key.issue` and `manager_key.revoke`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import store.b2b.managers as managers
import store.clock as clock
import store.registry.audit as audit
from store.b2b.principals import Manager
from store.errors import NotFound, Unprocessable
from store.registry.keys import hash_key
from store.tables.b2b import AccountManagerRow, CompanyRow, ManagerKeyRow

KEY_PREFIX = "lmk_"
PREFIX_CHARS = len(KEY_PREFIX) + 8  # what identifies a key in listings and revocations


@dataclass(frozen=True)
class ManagerKey:
    prefix: str
    manager_id: str
    name: str
    created_at: datetime
    revoked: bool

    def to_json(self) -> dict[str, Any]:
        return {"prefix": self.prefix, "manager_id": self.manager_id, "name": self.name,
                "created_at": self.created_at.isoformat(), "revoked": self.revoked}


def _info(row: ManagerKeyRow, manager_id: str) -> ManagerKey:
    return ManagerKey(row.prefix, manager_id, row.name, row.created_at,
                      row.revoked_at is not None)


def issue(session: Session, program: str, company_id: str, manager_id: str, name: str = "",
          actor: str = "cli") -> tuple[str, ManagerKey]:
    """A new key for the manager: (the key, its record). The key is not recoverable."""
    if len(name) > 200:
        raise Unprocessable("invalid_name", "a key's name is at most 200 characters",
                            pointer="/name")
    manager = managers.get(session, program, company_id, manager_id)
    if not manager.active:
        raise Unprocessable("manager_inactive", f"manager {manager_id!r} is deactivated")
    plaintext = f"{KEY_PREFIX}{secrets.token_urlsafe(32)}"
    row = ManagerKeyRow(manager_pk=manager.pk, key_hash=hash_key(plaintext),
                        prefix=plaintext[:PREFIX_CHARS], name=name, created_at=clock.now())
    session.add(row)
    session.flush()
    audit.record(session, actor, "manager_key.issue", program, company_id=company_id,
                 manager_id=manager_id, key=row.prefix)
    return plaintext, _info(row, manager_id)


def listing(session: Session, program: str, company_id: str,
            manager_id: str) -> list[ManagerKey]:
    manager = managers.get(session, program, company_id, manager_id)
    rows = session.scalars(select(ManagerKeyRow).where(ManagerKeyRow.manager_pk == manager.pk)
                           .order_by(ManagerKeyRow.id))
    return [_info(r, manager_id) for r in rows]


def revoke(session: Session, program: str, company_id: str, manager_id: str, prefix: str,
           actor: str = "cli") -> ManagerKey:
    manager = managers.get(session, program, company_id, manager_id)
    row = session.scalar(select(ManagerKeyRow).where(ManagerKeyRow.manager_pk == manager.pk,
                                                     ManagerKeyRow.prefix == prefix))
    if row is None:
        raise NotFound("unknown_key", f"manager {manager_id!r} has no key {prefix!r}")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        audit.record(session, actor, "manager_key.revoke", program, company_id=company_id,
                     manager_id=manager_id, key=row.prefix)
    return _info(row, manager_id)


def verify_digest(session: Session, digest: str) -> Manager | None:
    """The manager whose live key has SHA-256 `digest`, when they and their company are
    active; else None."""
    found = session.execute(
        select(AccountManagerRow.program, AccountManagerRow.manager_id,
               AccountManagerRow.role, CompanyRow.company_id, CompanyRow.id)
        .select_from(ManagerKeyRow)
        .join(AccountManagerRow, AccountManagerRow.id == ManagerKeyRow.manager_pk)
        .join(CompanyRow, CompanyRow.id == AccountManagerRow.company_pk)
        .where(ManagerKeyRow.key_hash == digest, ManagerKeyRow.revoked_at.is_(None),
               AccountManagerRow.active.is_(True), CompanyRow.active.is_(True))).first()
    if found is None:
        return None
    program, manager_id, role, company_id, company_pk = found
    return Manager(program, company_id, company_pk, manager_id, role)


def verify(session: Session, plaintext: str) -> Manager | None:
    return verify_digest(session, hash_key(plaintext))
