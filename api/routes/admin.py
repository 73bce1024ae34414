"""Program administration: the points expiry job."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import AwareDatetime, Field

from api.deps import AdminKey, StoreDep
from api.render import Json
from api.routes.checkout import ProgramPath
from api.schemas import Strict
from store import expiry

router = APIRouter(prefix="/admin", tags=["admin"])  # under /v1/programs/{program}


class ExpireIn(Strict):
    as_of: AwareDatetime | None = Field(None, description="expire what is due at this instant "
                                        "(default: now)")
    batch_size: int = Field(200, ge=1, le=100_000, description="members found per scan")


@router.post("/expire", summary="Expire points past their date and release timed-out holds "
             "(idempotent, resumable)")
def expire(program: ProgramPath, services: StoreDep, key: AdminKey,
           body: ExpireIn | None = None) -> Json:
    body = body or ExpireIn()
    at = body.as_of or datetime.now(UTC)
    reports = expiry.run(services.db, [program], at, body.batch_size, actor=key.actor)
    return Json({"program": program, **reports[program].to_json()})
