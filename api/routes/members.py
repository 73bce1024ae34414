"""Members: enrolment, and the member views (summary, ledger, cashback, redemptions,
catalog)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

import store.checkout.enrolments as enrolments
import store.clock as clock
import store.ledger.accounts as accounts
import store.redemptions.history as redemption_history
from api.deps import ApiKeyDep, CatalogKey, CommitKey, StoreDep
from api.ids import Id, RowId
from api.instants import Instant, refuse_future
from api.problems import ApiProblem
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


Since = Annotated[Instant | None, Query(alias="from", description="from this instant "
                                         "(inclusive)")]
Until = Annotated[Instant | None, Query(alias="to", description="until this instant "
                                        "(exclusive)")]
Cursor = Annotated[RowId | None, Query(description="`next_cursor` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=500)]


def _range(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and until <= since:
        raise ApiProblem(422, "invalid_range", "`to` must be later than `from`", errors=[
            {"parameter": "to", "in": "query", "message": "must be later than `from`"}])


@router.get("/members/{member_id}/ledger", summary="Ledger entries, newest first; filtered "
            "by date range and kind")
def member_ledger(program: ProgramPath, member_id: MemberPath, services: StoreDep,
                  key: ApiKeyDep, cursor: Cursor = None, limit: Limit = 50,
                  since: Since = None, until: Until = None,
                  kind: Annotated[Literal["earn", "bonus", "redeem", "expire", "reverse",
                                          "adjust"] | None, Query()] = None) -> Json:
    services.limiter.check_member(program, member_id, "read")
    _range(since, until)
    after = int(cursor) if cursor else None
    return Json(accounts.ledger_page(services.db, program, member_id, after, limit, since,
                                     until, kind))


@router.get("/members/{member_id}/cashback", summary="Cashback entries (issued, reversed, "
            "paid), newest first, and the totals")
def member_cashback(program: ProgramPath, member_id: MemberPath, services: StoreDep,
                    key: ApiKeyDep, cursor: Cursor = None, limit: Limit = 50,
                    since: Since = None, until: Until = None,
                    kind: Annotated[Literal["issue", "reverse"] | None, Query()] = None
                    ) -> Json:
    services.limiter.check_member(program, member_id, "read")
    _range(since, until)
    after = int(cursor) if cursor else None
    return Json(accounts.cashback_page(services.db, program, member_id, after, limit, since,
                                       until, kind))


@router.get("/members/{member_id}/redemptions", summary="The member's redemptions, newest "
            "first; filtered by date range, kind and status")
def member_redemptions(program: ProgramPath, member_id: MemberPath, services: StoreDep,
                       key: ApiKeyDep, cursor: Cursor = None, limit: Limit = 50,
                       since: Since = None, until: Until = None,
                       kind: Annotated[Literal["points", "reward", "automatic", "gift"] | None,
                                       Query()] = None,
                       status: Annotated[Literal["completed", "held", "captured", "released",
                                                 "cancelled"] | None, Query()] = None
                       ) -> Json:
    services.limiter.check_member(program, member_id, "read")
    _range(since, until)
    after = int(cursor) if cursor else None
    return Json(redemption_history.member_page(services.db, program, member_id, after, limit,
                                               since, until, kind, status))


@router.get("/catalog", summary="Reward catalog; only what the member may redeem with member_id")
def catalog(program: ProgramPath, services: StoreDep, key: CatalogKey,
            member_id: Annotated[Id | None, Query()] = None,
            as_of: AsOf = None) -> Json:
    if member_id is not None:
        services.limiter.check_member(program, member_id, "read")
    return Json(accounts.catalog(services.db, services.cache, program, _as_of(as_of), member_id))
