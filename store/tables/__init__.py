"""The tables, as SQLAlchemy models on one metadata (`Base.metadata`): importing this
package registers them all (`core`: programs, versions, members, the ledger, orders;
`redemptions`; `operations`: automatic redemption, fulfilment, external transfers,
referrals; `shadow`: shadow evaluation; `money`: cashback; `codes`: coupon and referral
codes; `events`: the domain event outbox and webhook subscriptions; `notify`: members'
notification preferences and the messages planned for them)."""

from store.tables import codes, core, events, money, notify, operations, redemptions, shadow
from store.tables.core import Base

__all__ = ["Base", "codes", "core", "events", "money", "notify", "operations", "redemptions",
           "shadow"]
