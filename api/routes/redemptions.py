"""Redemptions: pay with points, catalog rewards, checkout holds, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Path
from pydantic import Field, model_validator

import store.redemptions.fulfilment as fulfilment
import store.redemptions.redeem as redemptions
import store.registry.keys as keys
from api.deps import StoreDep, require
from api.ids import Id, RowId, Text
from api.instants import Instant, refuse_future
from api.render import Json, created_or_replayed
from api.routes.checkout import ProgramPath
from api.schemas import Money, Strict

router = APIRouter(prefix="/v1/programs/{program}", tags=["redemptions"])
RedeemKey = Annotated[keys.ApiKey, Depends(require("redeem", "commit"))]
RedemptionPath = Annotated[RowId, Path(description="redemption id")]


class RedemptionIn(Strict):
    member_id: Id
    points: int | None = Field(None, ge=1, le=10**12, description="pay with points")
    order_id: Id | None = Field(None, description="makes it a checkout hold until the order commits")
    order_total: Money | None = Field(None, description="for max_order_fraction and min_order")
    reward_id: Id | None = Field(None, description="a catalog reward instead of points")
    quantity: int = Field(1, ge=1, le=1000)
    as_of: Instant | None = Field(None, description="instant of the redemption (default: now)")
    hold_minutes: int | None = Field(None, ge=1, le=7 * 24 * 60,
                                     description="lifetime of a checkout hold (default 30)")
    idempotency_key: Id | None = Field(None, description="a retry with the same key and body "
                                       "returns the first result")

    @model_validator(mode="after")
    def _one_kind(self) -> RedemptionIn:
        if (self.points is None) == (self.reward_id is None):
            raise ValueError("give either points or reward_id")
        return self


class CancelIn(Strict):
    cancelled_at: Instant | None = None
    reason: Text | None = Field(None, max_length=500)


@router.post("/redemptions", status_code=201,
             summary="Redeem points against an order or for a catalog reward (atomic)")
def redeem(program: ProgramPath, body: RedemptionIn, services: StoreDep, key: RedeemKey,
           tasks: BackgroundTasks) -> Json:
    refuse_future(body, services.settings.max_future_skew_seconds)
    services.limiter.check_member(program, body.member_id, "write")
    outcome = redemptions.redeem(services.db, services.cache, program,
                                 body.model_dump(mode="json", exclude_none=True))
    if outcome.created and (outcome.result.get("fulfilment") or {}).get("route") == "webhook":
        # After the response: the delivery is already recorded (pending), so a crash here
        # only delays it until the next dispatch.
        tasks.add_task(fulfilment.dispatch, services.db, program, int(outcome.result["id"]))
    return created_or_replayed(outcome.result, outcome.created)


@router.get("/redemptions/{redemption_id}", summary="A redemption with its lots and history")
def redemption(program: ProgramPath, redemption_id: RedemptionPath, services: StoreDep,
               key: RedeemKey) -> Json:
    return Json(redemptions.get(services.db, program, redemption_id))


@router.post("/redemptions/{redemption_id}/cancel", status_code=201,
             summary="Cancel a redemption or release a hold: points back to their lots, stock back")
def cancel(program: ProgramPath, redemption_id: RedemptionPath, services: StoreDep,
           key: RedeemKey, body: CancelIn | None = None) -> Json:
    refuse_future(body, services.settings.max_future_skew_seconds)
    outcome = redemptions.cancel(services.db, services.cache, program, redemption_id,
                                 body.model_dump(mode="json", exclude_none=True) if body else {})
    return created_or_replayed(outcome.result, outcome.created)
