"""API keys: random secrets shown once, stored as SHA-256 digests, checked by scope."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

import store.registry.audit as audit
from store.errors import NotFound, Unprocessable
from store.registry.scopes import SCOPES
from store.tables.core import ApiKeyRow

KEY_PREFIX = "lrk_"


@dataclass(frozen=True)
class ApiKey:
    id: int
    prefix: str
    name: str
    scopes: frozenset[str]
    program: str | None
    created_at: datetime
    revoked: bool

    def serves(self, program: str | None) -> bool:
        """A program-bound key serves only its program (None: no program named)."""
        return program is None or self.program is None or program == self.program

    def allows(self, scope: str, program: str | None = None) -> bool:
        """`admin` implies every scope; a program-bound key serves only its program."""
        if self.revoked or not self.serves(program):
            return False
        return scope in self.scopes or "admin" in self.scopes

    @property
    def actor(self) -> str:
        return f"key:{self.prefix}"


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _info(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        prefix=row.prefix,
        name=row.name,
        scopes=frozenset(row.scopes),
        program=row.program,
        created_at=row.created_at,
        revoked=row.revoked_at is not None,
    )


def create(
    session: Session,
    scopes: list[str],
    program: str | None = None,
    name: str = "",
    actor: str = "cli",
) -> tuple[str, ApiKey]:
    """Create a key; returns (the key, its record). The key is not recoverable later."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise Unprocessable(
            "invalid_scope", f"scopes must be among {', '.join(SCOPES)}; got {scopes!r}"
        )
    secret = secrets.token_urlsafe(32)
    plaintext = f"{KEY_PREFIX}{secret}"
    row = ApiKeyRow(
        key_hash=hash_key(plaintext),
        prefix=plaintext[: len(KEY_PREFIX) + 6],
        name=name,
        scopes=sorted(set(scopes)),
        program=program,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "key.create", program, key=row.prefix, scopes=row.scopes)
    return plaintext, _info(row)


def verify(session: Session, plaintext: str) -> ApiKey | None:
    return verify_digest(session, hash_key(plaintext))


def verify_digest(session: Session, digest: str) -> ApiKey | None:
    """The live key whose SHA-256 is `digest` (a console session holds the digest, never
    the key), or None when unknown or revoked."""
    row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest))
    if row is None or row.revoked_at is not None:
        return None
    return _info(row)


def listing(session: Session) -> list[ApiKey]:
    return [_info(r) for r in session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id))]


def count(session: Session) -> int:
    return len(session.scalars(select(ApiKeyRow.id)).all())


def revoke(session: Session, prefix: str, actor: str = "cli") -> ApiKey:
    row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix))
    if row is None:
        raise NotFound("unknown_key", f"no API key starts with {prefix!r}")
    row.revoked_at = datetime.now(UTC)
    audit.record(session, actor, "key.revoke", row.program, key=row.prefix)
    return _info(row)
