"""The tables, as SQLAlchemy models on one metadata (`Base.metadata`): importing this
package registers them all (`core`: programs, versions, members, the ledger, orders;
`redemptions`; `operations`: automatic redemption, fulfilment, external transfers,
referrals; `shadow`: shadow evaluation)."""

from store.tables import core, operations, redemptions, shadow
from store.tables.core import Base

__all__ = ["Base", "core", "operations", "redemptions", "shadow"]
