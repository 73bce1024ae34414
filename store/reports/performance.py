"""A program's performance over a period, from what production recorded: the document a
simulation reports (engine/simulation/stats.py `report`, rendered by the same text, JSON
and HTML reports), built from SQL aggregates (store/reports/aggregates.py) instead of
a replay.

Its figures are those the simulator would count for the same entries: points issued,
reversed, redeemed and expired by month, the points outstanding and the liability at the
end of each month (counting everything recorded before the period too), breakage and
redemption rates, points by rule and by category, each campaign's points against its
budget, orders and spend (eligible spend at commit; `refunded` is the eligible spend
refunds took back). Campaigns count the points orders earned from them. Tiers: `end` is the members by the tier they hold now;
`by_month` the members who ordered in a month, by the tier their last order of the month
left them in (the store keeps no history of tiers between orders). Cashback: what orders
in the period earned and refunds in it took back (its entries' instants), as the
simulator counts it. What the store does not record as figures — upgrades and
downgrades, caps reached — reads 0.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select

import store.registry.versions as registry
import store.reports.aggregates as agg
from engine.program import Program
from engine.simulation.stats import Stats, report
from store.db.database import Database
from store.errors import NotFound
from store.registry.programs import ProgramCache
from store.reports.window import Window, window
from store.tables.core import CampaignBudgetRow, MemberRow
from store.tables.money import CashbackEntryRow

CAMPAIGN = "campaigns."


def performance(db: Database, cache: ProgramCache, program_id: str, start: datetime,
                end: datetime) -> dict[str, Any]:
    """The report of `program_id` over [start, end), with the version live at `end`'s
    instant as its program (its point value, tiers, campaigns and budgets)."""
    with db.reading() as session:
        registry.require_program(session, program_id)
        agg.roomy(session)
        version = registry.live_at(session, program_id, end) or registry.live_at(
            session, program_id, start)
        if version is None:
            raise NotFound("no_live_version", f"{program_id} has no version live in the "
                           "period", errors=[{"parameter": "to", "in": "query",
                                              "message": "no version is live then"}])
        program = cache.get(session, program_id, version)
        win = window(start, end, program.timezone)
        stats, recorded = _stats(session, program, win)
        owed, owing = agg.owing(session, program_id)
        used = {str(c): int(p) for c, p in session.execute(
            select(CampaignBudgetRow.campaign_id, CampaignBudgetRow.points_used)
            .where(CampaignBudgetRow.program == program_id))}
    model = program.model
    point_value = model.redemption.point_value if model.redemption else Decimal(0)
    tier_ids = tuple(t.id for t in model.tiers.levels) if model.tiers else ("none",)
    budgets = {c.id: c.budget_points for c in model.campaigns if c.budget_points is not None}
    doc = report(stats, point_value=point_value, tier_ids=tier_ids, budgets=budgets,
                 campaign_budget_used=used, opening=recorded.before,
                 program={"program": program_id, "version": version,
                          "digest": program.digest, "source": "recorded"},
                 campaigns=tuple(c.id for c in model.campaigns))
    doc["period"] = {"from": start.isoformat(), "to": end.isoformat(), "months": win.keys}
    doc["totals"]["points_outstanding_before"] = recorded.before
    # the ledger's own sum at the end: the books balance when the figures account for it
    at_end = recorded.before + recorded.moved
    doc["totals"]["sum_of_member_balances"] = at_end
    doc["totals"]["books_balance"] = at_end == doc["totals"]["points_outstanding"]
    doc["totals"]["points_owed"], doc["totals"]["members_owing"] = owed, owing  # now
    return doc


def _stats(session: Any, program: Program, win: Window) -> tuple[Stats, agg.Ledger]:
    """The figures of `report` from the aggregates, and the ledger's."""
    program_id = program.program
    stats = Stats()
    recorded = agg.ledger(session, program_id, win)
    for month, figures in recorded.by_month.items():
        stats.month(month).update(figures)
        stats.issued += figures["issued"]
        stats.reversed += figures["reversed"]
        stats.redeemed += figures["redeemed"]
        stats.expired += figures["expired"]
    for month, figures in agg.orders_by_month(session, program_id, win).items():
        stats.month(month)["orders"] += figures["orders"]
        stats.orders += figures["orders"]
        stats.spend += figures["spend"]
        stats.refunded += figures["refunded"]
    stats.processed = stats.orders
    stats.by_rule.update(recorded.by_rule)
    campaigns = {f"{CAMPAIGN}{c.id}": c.id for c in program.model.campaigns}
    for rule, (points, orders) in recorded.by_order_rule.items():
        if rule in campaigns:  # an order's points from a campaign: one entry per order
            stats.campaign_points[campaigns[rule]] += points
            stats.campaign_orders[campaigns[rule]] += orders
    for (category, _), figures in agg.by_category(session, program_id, win).items():
        stats.by_category[category] += figures["points"]
    stats.tiers_end.update(agg.tiers_now(session, program_id))
    stats.tiers_by_month = {m: Counter(t) for m, t in
                            agg.tiers_by_month(session, program_id, win).items()}
    stats.cashback_paid, stats.cashback_reversed = _cashback(session, program_id, win)
    stats.members = int(session.scalar(select(func.count()).select_from(MemberRow)
                                       .where(MemberRow.program == program_id)) or 0)
    return stats, recorded


def _cashback(session: Any, program_id: str, win: Window) -> tuple[Decimal, Decimal]:
    """Cashback issued and reversed (a positive amount) in the period."""
    amount = CashbackEntryRow.amount
    issued, reversed_ = session.execute(select(
        func.sum(case((amount > 0, amount), else_=0)),
        func.sum(case((amount < 0, -amount), else_=0)),
    ).where(CashbackEntryRow.program == program_id,
            CashbackEntryRow.occurred_at >= win.start,
            CashbackEntryRow.occurred_at < win.end)).one()
    return _decimal(issued), _decimal(reversed_)


def _decimal(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)
