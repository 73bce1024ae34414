"""Members: enrolment, and the member views (summary, ledger, catalog)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

import store.checkout.enrolments as enrolments
import store.clock as clock
import store.ledger.accounts as accounts
from api.deps import ApiKeyDep, CatalogKey, CommitKey, StoreDep
from api.ids import Id, RowId
from api.instants import Instant, refuse_future
from api.render import Json, created_or_replayed
from api.routes.checkout import ProgramPath
from api.schemas import EnrolmentIn

router = APIRouter(prefix="/v1/programs/{program}", tags=["members"])
MemberPath = Annotated[Id, Path(description="member id")]
AsOf = Annotated[Instant | None, Query(description="instant to answer for (default: now); "
                                       "may be in the future: reads write nothing")]


def _as_of(value: datetime | None) -> datetime:
    return clock.now() if value is None else value


@router.post("/members", status_code=201,
             summary="Enrol a member (attributes, starting tier, referrer); idempotent on event_id")
def enrol(program: ProgramPath, body: EnrolmentIn, services: StoreDep, key: CommitKey) -> Json:
    refuse_future(body, services.settings.max_future_skew_seconds)
    services.limiter.check_member(program, body.member_id, "write")
    outcome = enrolments.enrol_member(services.db, services.cache, program,
                                      body.model_dump(mode="json", exclude_none=True))
    return created_or_replayed(outcome.result, outcome.created)


@router.get("/members/{member_id}", summary="Tier, balance, expiring points, tier progress")
def member(program: ProgramPath, member_id: MemberPath, services: StoreDep, key: ApiKeyDep,
           as_of: AsOf = None) -> Json:
    services.limiter.check_member(program, member_id, "read")
    return Json(accounts.summary(services.db, services.cache, program, member_id, _as_of(as_of)))


@router.get("/members/{member_id}/ledger", summary="Ledger entries, newest first")
def member_ledger(program: ProgramPath, member_id: MemberPath, services: StoreDep,
                  key: ApiKeyDep,
                  cursor: Annotated[RowId | None, Query()] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Json:
    services.limiter.check_member(program, member_id, "read")
    after = int(cursor) if cursor else None
    return Json(accounts.ledger_page(services.db, program, member_id, after, limit))


@router.get("/catalog", summary="Reward catalog; only what the member may redeem with member_id")
def catalog(program: ProgramPath, services: StoreDep, key: CatalogKey,
            member_id: Annotated[Id | None, Query()] = None,
            as_of: AsOf = None) -> Json:
    if member_id is not None:
        services.limiter.check_member(program, member_id, "read")
    return Json(accounts.catalog(services.db, services.cache, program, _as_of(as_of), member_id))
