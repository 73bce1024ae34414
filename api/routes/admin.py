"""Program administration: the points expiry job, transfers to an external points API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field

import store.clock as clock
import store.external.transfers as transfers
import store.jobs.expiry as expiry
from api.deps import AdminKey, StoreDep
from api.ids import Id, RowId
from api.instants import Instant, refuse_future
from api.problems import ApiProblem
from api.render import Json
from api.routes.checkout import ProgramPath
from api.schemas import Strict

router = APIRouter(prefix="/admin", tags=["admin"])  # under /v1/programs/{program}


class ExpireIn(Strict):
    as_of: Instant | None = Field(None, description="expire what is due at this instant "
                                  "(default: now; never ahead of the server clock)")
    batch_size: int = Field(200, ge=1, le=100_000, description="members found per scan")
    member_id: Id | None = Field(None, description="only this member: their book brought "
                                 "to `as_of` when something in it is due")


@router.post("/expire", summary="Expire points past their date and release timed-out holds "
             "(idempotent, resumable)")
def expire(program: ProgramPath, services: StoreDep, key: AdminKey,
           body: ExpireIn | None = None) -> Json:
    body = body or ExpireIn()
    refuse_future(body, services.settings.max_future_skew_seconds)
    at = body.as_of or clock.now()
    reports = expiry.run(services.db, [program], at, body.batch_size, actor=key.actor,
                         member_id=body.member_id)
    return Json({"program": program, **reports[program].to_json()})


@router.get("/external-transfers", summary="Credits and debits still owed to the external "
            "points API (pending, being sent, or rejected by it)")
def external_transfers(program: ProgramPath, services: StoreDep, key: AdminKey,
                       account: Annotated[Id | None, Query()] = None) -> Json:
    return Json({"program": program, **transfers.pending(services.db, program, account)})


@router.post("/external-transfers/{transfer_id}/retry", summary="Send a rejected transfer again")
def retry_transfer(program: ProgramPath, transfer_id: Annotated[RowId, Path()], services: StoreDep,
                   key: AdminKey) -> Json:
    return Json({"program": program,
                 **transfers.retry(services.db, program, transfer_id)})


@router.post("/external-points/run", summary="Run the external points job now: queue ledger "
             "entries, send due transfers, finish debits whose outcome stayed unknown")
def run_external_points(program: ProgramPath, services: StoreDep, key: AdminKey) -> Json:
    if key.program is not None:  # the job runs for every program, and reports on them all
        raise ApiProblem(403, "forbidden_program", "the external points job runs for every "
                         "program; run it with a key not bound to one")
    return Json({"program": program, **transfers.run_job(services.db)})
