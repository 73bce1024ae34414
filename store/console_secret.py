"""The web console's cookie-signing secret when none is configured.

Several worker processes serve the console and must accept each other's session cookies,
so a secret made up by each process would not do. The first worker that needs one stores a
random secret in the database (insert-if-absent, so concurrent workers agree on the one
that won) and every worker reads that row. Rotating it (deleting the row) ends every
console session.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import select

from store.db.database import Database
from store.db.upsert import insert_ignore
from store.tables.core import ConsoleSecretRow


def stored_secret(db: Database) -> str:
    """The database's console secret, made now if there is none yet."""
    with db.writing() as session:
        insert_ignore(session, ConsoleSecretRow.__table__,
                      {"id": 1, "secret": secrets.token_urlsafe(48),
                       "created_at": datetime.now(UTC)}, ["id"])
        found = session.scalar(select(ConsoleSecretRow.secret).where(ConsoleSecretRow.id == 1))
    assert found is not None
    return found
