"""A member looked up by an operator (the console's member page): their recorded orders
and redemptions, and the explain trace of any of their orders. The balance, tier,
progress, lots and ledger are the API's member views (store/ledger/accounts.py).

A commit stores its request and answer; the trace is the answer's own when the request
asked for one, and otherwise the order evaluated again with `explain` after the member's
recorded history up to it, replayed through the lifecycle core
(engine/simulation/explain_order.py). The replay cannot know what other members used of
shared limits (campaign budgets, reward stock): `matches` says whether it gave the points
the order was recorded with."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

import store.imports.export as export
import store.ledger.members as members
import store.redemptions.rows as redemption_rows
from engine.simulation.explain_order import explain_order
from store.db.database import Database
from store.db.types import money_text
from store.errors import NotFound
from store.registry.programs import ProgramCache
from store.tables.core import OrderRow
from store.tables.redemptions import RedemptionRow

PAGE = 50


def orders(db: Database, program_id: str, member_id: str, limit: int = PAGE
           ) -> list[dict[str, Any]]:
    """The member's recorded orders, newest first."""
    with db.reading() as session:
        member = members.get(session, program_id, member_id)
        rows = session.scalars(select(OrderRow).where(OrderRow.member_pk == member.id)
                               .order_by(OrderRow.placed_at.desc(), OrderRow.id.desc())
                               .limit(limit))
        return [{"order_id": row.order_id, "placed_at": row.placed_at.isoformat(),
                 "points": (row.result.get("commit") or {}).get("points_awarded"),
                 "spend": money_text(row.original_spend),
                 "refunded_fraction": money_text(row.refunded_fraction),
                 "ruleset_version": row.ruleset_version} for row in rows]


def redemptions(db: Database, program_id: str, member_id: str, limit: int = PAGE
                ) -> list[dict[str, Any]]:
    """The member's redemptions (the API's redemption view), newest first."""
    with db.reading() as session:
        member = members.get(session, program_id, member_id)
        rows = session.scalars(select(RedemptionRow).where(
            RedemptionRow.member_pk == member.id, RedemptionRow.status != "pending")
            .order_by(RedemptionRow.id.desc()).limit(limit))
        return [redemption_rows.view(session, row) for row in rows]


def order_trace(db: Database, cache: ProgramCache, program_id: str, member_id: str,
                order_id: str) -> dict[str, Any]:
    """The explain trace of the member's recorded order: {order_id, member_id,
    ruleset_version, source (recorded | replayed), trace, points, recorded_points,
    matches}. NotFound for an unknown member or an order that is not theirs."""
    with db.reading() as session:
        member = members.get(session, program_id, member_id)
        row = session.scalar(select(OrderRow).where(
            OrderRow.program == program_id, OrderRow.order_id == order_id,
            OrderRow.member_pk == member.id))
        if row is None:
            raise NotFound("unknown_order", f"member {member_id!r} has no recorded order "
                           f"{order_id!r} in {program_id}")
        program = cache.get(session, program_id, row.ruleset_version)
    recorded = row.result
    out = {"order_id": order_id, "member_id": member_id,
           "ruleset_version": row.ruleset_version,
           "recorded_points": recorded["earn"]["points"]}
    if recorded.get("trace") is not None:
        return {**out, "source": "recorded", "trace": recorded["trace"],
                "points": recorded["earn"]["points"], "matches": True}
    lines = export.export(db, program_id, cache, member_id)
    try:
        replayed = explain_order(program, lines, member_id, order_id)
    finally:
        lines.close()  # its reading session ends with it
    if replayed is None:
        return {**out, "source": "replayed", "trace": None, "points": None, "matches": False}
    return {**out, "source": "replayed", "trace": replayed.get("trace") or [],
            "points": replayed["earn"]["points"],
            "matches": replayed["earn"]["by_rule"] == recorded["earn"]["by_rule"]}
