"""The domain events of a redemption's status changes, published where the store records
them in the redemption's history (store/redemptions/rows.py `event`, and the fulfilment
steps in store/redemptions/fulfilment.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from engine.lifecycle.events import redemption_event
from store.events.outbox import publish
from store.tables.core import MemberRow
from store.tables.redemptions import RedemptionRow

# history status → event: a redemption made (completed, or held at checkout), captured,
# released, cancelled; a reward delivered (webhook) or acknowledged (by hand).
EVENT_OF_STATUS = {
    "completed": "created", "held": "created", "captured": "captured",
    "released": "released", "cancelled": "cancelled",
    "delivered": "fulfilled", "acknowledged": "fulfilled",
}


def publish_status(session: Session, row: RedemptionRow, status: str, at: datetime) -> None:
    """Publish the event of `row` reaching history status `status`, if it has one."""
    kind = EVENT_OF_STATUS.get(status)
    if kind is None:
        return
    member = session.get(MemberRow, row.member_pk)
    assert member is not None, "a redemption belongs to a member"
    publish(session, [redemption_event(
        status, row.program, row.ruleset_version, member.member_id, at,
        redemption_id=row.id, reward_id=row.reward_id, quantity=row.quantity,
        points=row.points, event=kind)])
