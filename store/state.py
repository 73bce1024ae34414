"""Build the engine's MemberState for one member at one instant from the store."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row
from sqlalchemy.orm import Session

import store.members as members
import store.tiering as tiering
import store.usage as usage
from engine import MemberState
from store.models import MemberRow


def request_hash(request: dict[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def member_state(session: Session | Connection, program: Any,
                 member: MemberRow | Row[Any] | None, at: datetime,
                 lock_budgets: bool = False, needs_stock: bool = False) -> MemberState:
    """`needs_stock`: the request redeems a catalog item (only then is stock read)."""
    member_pk = member.id if member is not None else None
    seen: dict[tuple[datetime | None, datetime], Any] = {}

    def stats(start: datetime | None, end: datetime) -> Any:
        if (start, end) not in seen:
            seen[(start, end)] = members.window_stats(session, member_pk, start, end)
        return seen[(start, end)]

    tier = tiering.effective_tier(program, member.tier if member else None,
                                  member.tier_since if member else None, at, stats)
    import engine.evaluation.tiers as engine_tiers
    spend, orders = stats(engine_tiers.window_start(program, at), at)
    counters = usage.member_usage(session, program, member_pk, at)
    return MemberState(
        tier=tier,
        balance=member.balance if member else 0,
        orders_count=member.orders_count if member else 0,
        qualifying_spend=spend,
        qualifying_orders=orders,
        cap_usage=counters["cap_usage"],
        campaign_usage=counters["campaign_usage"],
        campaign_budget_used=usage.budgets_used(session, program, lock=lock_budgets),
        challenge_spend=counters["challenge_spend"],
        reward_stock=usage.reward_stock(session, program) if needs_stock else {},
        activity_counts=counters["activity_counts"],
        awarded_upgrades=frozenset(counters["awarded_upgrades"]),
        tier_since=member.tier_since if member else None,
    )


def with_attributes(request: dict[str, Any],
                    member: MemberRow | Row[Any] | None) -> dict[str, Any]:
    """The request as the engine sees it in server mode: stored attributes fill gaps."""
    if member is None or not member.attributes:
        return request
    sent = request.get("member") or {}
    merged = {**member.attributes, **(sent.get("attributes") or {})}
    return {**request, "member": {**sent, "attributes": merged}}
