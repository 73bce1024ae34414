"""The tables, as SQLAlchemy models on one metadata (`Base.metadata`): importing this
package registers them all (`core`: programs, versions, members, the ledger, orders;
`redemptions`; `operations`: automatic redemption, fulfilment, external transfers,
referrals; `shadow`: shadow evaluation; `money`: cashback; `codes`: coupon and referral
codes; `b2b`: the B2B portal's companies, account managers and their keys; `inventory`:
reward stock apart from versions; `b2b_orders`: companies' orders of several items;
`events`: the domain event outbox and webhook subscriptions; `notify`: members'
notification preferences and the messages planned for them)."""

from store.tables import (
    b2b,
    b2b_orders,
    codes,
    core,
    events,
    inventory,
    money,
    notify,
    operations,
    redemptions,
    shadow,
)
from store.tables.core import Base

__all__ = ["Base", "b2b", "b2b_orders", "codes", "core", "events", "inventory", "money",
           "notify", "operations", "redemptions", "shadow"]
