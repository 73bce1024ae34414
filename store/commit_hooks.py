"""What an order commit does on the redemption side, inside the commit's transaction and
under the member's row lock: settle the member's checkout holds (capture the ones for
this order and route the goods of captured rewards; release the ones whose time ran
out), then automatic redemption when the member opted in and the balance reached the
threshold.

Returns what to add to the result's `commit` block (nothing when nothing happened, so
plain commits keep their shape)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

import store.auto_redemption as auto_redemption
from store.models import MemberRow


def after_commit(session: Session, program: Any, member: MemberRow, order_id: str,
                 at: datetime) -> dict[str, Any]:
    from store import redemptions  # redemptions imports store.orders, which imports us

    extra: dict[str, Any] = {}
    captured = redemptions.settle_holds(session, member, order_id, at)
    if captured:
        extra["captured_redemptions"] = captured
        _fulfil_captured(session, program, captured)
    automatic = auto_redemption.trigger(session, program, member, order_id, at)
    if automatic:
        extra["auto_redemptions"] = automatic
    return extra


def _fulfil_captured(session: Session, program: Any, captured: list[str]) -> None:
    """A captured reward hold is now a completed sale: route its goods."""
    import store.fulfilment as fulfilment
    from store.redemption_models import RedemptionRow

    config = program.model.redemption
    for redemption_id in captured:
        row = session.get(RedemptionRow, int(redemption_id))
        reward = config.reward(row.reward_id) if row and row.reward_id and config else None
        if row is not None and reward is not None:
            fulfilment.enqueue(session, row, reward)
