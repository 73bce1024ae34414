"""Reports from what production recorded: a member's insights and a program's
performance (the simulation report's document, built from SQL aggregates)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

import store.clock as clock
from api.deps import ApiKeyDep, StoreDep, require
from api.instants import Instant
from api.render import Json
from api.routes.checkout import ProgramPath
from api.routes.members import MemberPath
from store.registry import keys
from store.reports.insights import insights as member_insights
from store.reports.performance import performance as program_performance

router = APIRouter(prefix="/v1/programs/{program}", tags=["reports"])
From = Annotated[Instant | None, Query(alias="from", description="start of the period, "
                                       "inclusive (default: 12 months before `to`)")]
To = Annotated[Instant | None, Query(alias="to", description="end of the period, exclusive "
                                     "(default: now)")]
YEAR = timedelta(days=365)
ReportKey = Annotated[keys.ApiKey, Depends(require("admin", "viewer"))]


def period(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = end or clock.now()
    return start or end - YEAR, end


@router.get("/members/{member_id}/insights",
            summary="Spend and points by category and month, caps, trend, tier, expiry, rewards")
def insights(program: ProgramPath, member_id: MemberPath, services: StoreDep, key: ApiKeyDep,
             start: From = None, end: To = None) -> Json:
    services.limiter.check_member(program, member_id, "read")
    lo, hi = period(start, end)
    return Json(member_insights(services.db, services.cache, program, member_id, lo, hi,
                                min(hi, clock.now())))


@router.get("/reports/performance",
            summary="The simulation report's figures from what production recorded")
def performance(program: ProgramPath, services: StoreDep, key: ReportKey,
                start: From = None, end: To = None) -> Json:
    lo, hi = period(start, end)
    return Json(program_performance(services.db, services.cache, program, lo, hi))
