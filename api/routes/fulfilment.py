"""Fulfilment of reward redemptions (under /v1/programs/{program}): the manual queue
for physical goods, webhook deliveries for virtual ones."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field

import store.redemptions.fulfilment as fulfilment
from api.deps import AdminKey, StoreDep
from api.ids import RowId, Text
from api.render import Json, created_or_replayed
from api.routes.checkout import ProgramPath
from api.schemas import Strict

router = APIRouter(prefix="/fulfilment", tags=["fulfilment"])
RedemptionPath = Annotated[RowId, Path(description="redemption id")]


class AcknowledgeIn(Strict):
    by: Text | None = Field(None, max_length=200, description="who dispatched it")
    note: Text | None = Field(None, max_length=1000, description="carrier, tracking number, …")


@router.get("/queue", summary="Fulfilment items, oldest first (default: the manual queue)")
def fulfilment_queue(program: ProgramPath, services: StoreDep, key: AdminKey,
                     status: Annotated[Literal["queued", "acknowledged", "pending", "sending",
                                               "delivered", "failed", "cancelled"],
                                       Query()] = "queued",
                     route: Annotated[Literal["manual", "webhook"], Query()] = "manual",
                     cursor: Annotated[RowId | None, Query()] = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Json:
    return Json(fulfilment.queue(services.db, program, status, route,
                                 int(cursor) if cursor else None, limit))


@router.post("/{redemption_id}/acknowledge", status_code=201,
             summary="Mark a manual item dispatched (idempotent)")
def acknowledge(program: ProgramPath, redemption_id: RedemptionPath, services: StoreDep,
                key: AdminKey, body: AcknowledgeIn | None = None) -> Json:
    request = body.model_dump(exclude_none=True) if body else {}
    request.setdefault("by", key.actor)
    item, created = fulfilment.acknowledge(services.db, program, redemption_id, request)
    return created_or_replayed(item, created)


@router.post("/dispatch", summary="Send due webhook deliveries now (failed ones too with "
             "retry_failed)")
def dispatch(program: ProgramPath, services: StoreDep, key: AdminKey,
             retry_failed: Annotated[bool, Query()] = False) -> Json:
    requeued = fulfilment.retry_failed(services.db, program) if retry_failed else 0
    return Json({"program": program, "requeued": requeued,
                 "outcome": fulfilment.dispatch(services.db, program)})
