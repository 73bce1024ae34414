"""Usage counters: seasonal cap spend per member and period, campaign uses per member,
tier-challenge spend, activity counts per limit period, campaign budgets, reward stock."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

import engine.calendar as calendar
from store.models import CampaignBudgetRow, RewardStockRow, UsageCounterRow
from store.upsert import increment, insert_ignore

ZERO = Decimal(0)


def cap_period(program: Any, rotation: Any, at: datetime) -> str:
    """Same period naming as the engine's result: the rotation id, or a calendar period."""
    if rotation.cap_period == "rotation":
        return rotation.id
    return calendar.period_key(program, rotation.cap_period, at)


def activity_period(program: Any, name: str, at: datetime) -> str:
    activity = program.model.earning.activities.get(name)
    per = activity.limit.per if activity is not None and activity.limit else "lifetime"
    return calendar.period_key(program, per, at)


_COUNTERS = UsageCounterRow.__table__
_MEMBER_COUNTERS = select(_COUNTERS).where(_COUNTERS.c.member_pk == bindparam("member_pk"))


def _counters(session: Session | Connection, member_pk: int) -> list[Any]:
    """Read-only rows of every counter of a member."""
    return list(session.execute(_MEMBER_COUNTERS, {"member_pk": member_pk}))


def member_usage(session: Session | Connection, program: Any, member_pk: int | None, at: datetime) -> dict[str, Any]:
    """Everything MemberState needs from the counters, for an order placed at `at`."""
    out: dict[str, Any] = {"cap_usage": {}, "campaign_usage": {}, "challenge_spend": {},
                           "activity_counts": {}, "awarded_upgrades": set()}
    if member_pk is None:
        return out
    model = program.model
    wanted_caps = {r.rule_id: cap_period(program, r, at) for r in model.rotations}
    wanted_acts = {name: activity_period(program, name, at) for name in model.earning.activities}
    windows = {c.id: c.window_days for c in model.campaigns if c.type == "tier_challenge"}
    for row in _counters(session, member_pk):
        if row.kind == "cap" and wanted_caps.get(row.key) == row.period:
            out["cap_usage"][row.key] = row.amount
        elif row.kind == "campaign":
            out["campaign_usage"][row.key] = row.count
        elif row.kind == "activity" and wanted_acts.get(row.key) == row.period:
            out["activity_counts"][row.key] = row.count
        elif row.kind == "challenge" and row.key in windows:
            if challenge_open(row.started_at, windows[row.key], at):
                out["challenge_spend"][row.key] = row.amount
        elif row.kind == "upgrade":
            out["awarded_upgrades"].add(row.key)
    return out


def challenge_open(started_at: datetime | None, window_days: int | None, at: datetime) -> bool:
    if started_at is None:
        return False
    return window_days is None or started_at <= at < started_at + timedelta(days=window_days)


def budgets_used(session: Session | Connection, program: Any, lock: bool) -> dict[str, int]:
    """Points used per budgeted campaign; with `lock`, the rows stay locked (PostgreSQL)."""
    ids = sorted(c.id for c in program.model.campaigns if c.budget_points is not None)
    if not ids:
        return {}
    if lock:
        assert isinstance(session, Session), "locking needs the write transaction's session"
        for cid in ids:
            insert_ignore(session, CampaignBudgetRow.__table__,
                          {"program": program.program, "campaign_id": cid, "points_used": 0},
                          ["program", "campaign_id"])
    query = select(CampaignBudgetRow.campaign_id, CampaignBudgetRow.points_used).where(
        CampaignBudgetRow.program == program.program, CampaignBudgetRow.campaign_id.in_(ids))
    if lock:
        query = query.order_by(CampaignBudgetRow.campaign_id).with_for_update()
    return dict(session.execute(query).tuples().all())


def reward_stock(session: Session | Connection, program: Any) -> dict[str, int]:
    """Remaining stock of the catalog items that declare one."""
    redemption = program.model.redemption
    stocked = {r.id: r.stock for r in (redemption.catalog if redemption else ()) if r.stock is not None}
    if not stocked:
        return {}
    issued = dict(session.execute(select(RewardStockRow.reward_id, RewardStockRow.issued).where(
        RewardStockRow.program == program.program)).all())
    return {rid: max(0, stock - issued.get(rid, 0)) for rid, stock in stocked.items()}


def _bump(session: Session, member_pk: int, kind: str, key: str, period: str = "",
          amount: Decimal = ZERO, count: int = 0, points: int = 0) -> None:
    increment(session, UsageCounterRow.__table__,
              {"member_pk": member_pk, "kind": kind, "key": key, "period": period},
              {"amount": amount, "count": count, "points": points})


def record_order(session: Session, program: Any, member_pk: int, at: datetime,
                 result: dict[str, Any]) -> None:
    """Move the counters by what a committed order used (the result's `usage` block)."""
    rotations = {r.rule_id: r for r in program.model.rotations}
    usage = result.get("usage") or {}
    for cap in usage.get("caps", []):
        rotation = rotations[cap["rule"]]
        _bump(session, member_pk, "cap", cap["rule"], cap_period(program, rotation, at),
              amount=Decimal(cap["spend"]))
    for used in usage.get("campaigns", []):
        _bump(session, member_pk, "campaign", used["id"], count=used["uses"], points=used["points"])
        campaign = next((c for c in program.model.campaigns if c.id == used["id"]), None)
        if campaign is not None and campaign.budget_points is not None and used["points"]:
            session.execute(update(CampaignBudgetRow).where(
                CampaignBudgetRow.program == program.program,
                CampaignBudgetRow.campaign_id == used["id"])
                .values(points_used=CampaignBudgetRow.points_used + used["points"]))
    for challenge in usage.get("challenges", []):
        record_challenge(session, program, member_pk, challenge["id"], Decimal(challenge["spend"]), at)


def record_challenge(session: Session, program: Any, member_pk: int, campaign_id: str,
                     spend: Decimal, at: datetime) -> None:
    campaign = next(c for c in program.model.campaigns if c.id == campaign_id)
    row = session.scalar(select(UsageCounterRow).where(
        UsageCounterRow.member_pk == member_pk, UsageCounterRow.kind == "challenge",
        UsageCounterRow.key == campaign_id, UsageCounterRow.period == ""))
    if row is None:
        session.add(UsageCounterRow(member_pk=member_pk, kind="challenge", key=campaign_id,
                                    period="", amount=spend, count=1, points=0, started_at=at))
    elif challenge_open(row.started_at, campaign.window_days, at):
        row.amount = row.amount + spend
        row.count += 1
    else:  # the window ran out: this order starts a new one
        row.amount, row.count, row.started_at = spend, 1, at


def record_activity(session: Session, program: Any, member_pk: int, name: str, at: datetime) -> None:
    _bump(session, member_pk, "activity", name, activity_period(program, name, at), count=1)


def record_upgrade(session: Session, member_pk: int, tier: str) -> None:
    _bump(session, member_pk, "upgrade", tier, count=1)


def _share_of(amount: Decimal, share: Decimal) -> Decimal:
    return (amount * share).quantize(Decimal("0.0001"), rounding=ROUND_FLOOR)


def release_order(session: Session, program: Any, member_pk: int, placed_at: datetime,
                  result: dict[str, Any], spend_before: Decimal, spend_after: Decimal,
                  points_before: Decimal, points_after: Decimal) -> None:
    """A refund gives back what the order used, for the part refunded now (shares of the
    order, before and after this refund): seasonal-cap spend in the order's own period and
    tier-challenge spend while that challenge window runs (by spend), campaign points and
    budgets (by points), and, once the whole order is refunded, its campaign uses (so a
    per-member limit counts it no more)."""
    rotations = {r.rule_id: r for r in program.model.rotations}
    usage = result.get("usage") or {}
    for cap in usage.get("caps", []):
        rotation = rotations.get(cap["rule"])
        spend = Decimal(cap["spend"])
        back = _share_of(spend, spend_after) - _share_of(spend, spend_before)
        if rotation is not None and back > 0:
            _bump(session, member_pk, "cap", cap["rule"],
                  cap_period(program, rotation, placed_at), amount=-back)
    windows = {c.id: c.window_days for c in program.model.campaigns if c.type == "tier_challenge"}
    for challenge in usage.get("challenges", []):
        spend = Decimal(challenge["spend"])
        back = _share_of(spend, spend_after) - _share_of(spend, spend_before)
        row = session.scalar(select(UsageCounterRow).where(
            UsageCounterRow.member_pk == member_pk, UsageCounterRow.kind == "challenge",
            UsageCounterRow.key == challenge["id"], UsageCounterRow.period == ""))
        # Only while the challenge window the order fed is still the running one.
        if back > 0 and row is not None and row.started_at is not None \
                and row.started_at <= placed_at \
                and challenge_open(row.started_at, windows.get(challenge["id"]), placed_at):
            row.amount = max(ZERO, row.amount - back)
    whole = spend_after >= 1 > spend_before
    budgeted = {c.id for c in program.model.campaigns if c.budget_points is not None}
    for used in usage.get("campaigns", []):
        points = Decimal(int(used["points"]))
        back_points = int(_share_of(points, points_after) - _share_of(points, points_before))
        if whole or back_points:
            _bump(session, member_pk, "campaign", used["id"],
                  count=-int(used["uses"]) if whole else 0, points=-back_points)
        if used["id"] in budgeted and back_points:
            session.execute(update(CampaignBudgetRow).where(
                CampaignBudgetRow.program == program.program,
                CampaignBudgetRow.campaign_id == used["id"])
                .values(points_used=CampaignBudgetRow.points_used - back_points))
