"""A member's automatic redemption settings (under /v1/programs/{program})."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from pydantic import Field

import store.redemptions.automatic as auto_redemption
import store.registry.keys as keys
from api.deps import ApiKeyDep, StoreDep, require
from api.instants import Instant, refuse_future
from api.render import Json
from api.routes.checkout import ProgramPath
from api.routes.members import MemberPath
from api.schemas import Strict

router = APIRouter(tags=["redemptions"])
RedeemKey = Annotated[keys.ApiKey, Depends(require("redeem", "commit"))]


class FrequencyIn(Strict):
    count: int = Field(ge=1, le=1000, description="at most this many automatic redemptions")
    per: Literal["day", "week", "month", "quarter", "year", "lifetime"] = Field(
        description="calendar period in the program's timezone")


class AutoRedemptionIn(Strict):
    threshold: int | None = Field(None, ge=1, le=10**12, description="balance at or above "
                                  "which a commit triggers (default and minimum: the ruleset's)")
    unit: int | None = Field(None, ge=1, le=10**12, description="points redeemed per step: a "
                             "multiple of the ruleset's unit, at most the threshold")
    method: Literal["cashback", "statement_credit"] | None = Field(
        None, description="how the value is paid out (one of the ruleset's methods)")
    frequency: FrequencyIn | None = Field(None, description="limit (default and maximum: the "
                                          "ruleset's)")
    enabled: bool = Field(True, description="false pauses it")
    as_of: Instant | None = Field(None, description="when the settings are made (default: "
                                  "now); a member new to the program starts then")


@router.put("/members/{member_id}/auto-redemption",
            summary="Opt in to (or change) automatic redemption")
def put_auto_redemption(program: ProgramPath, member_id: MemberPath, body: AutoRedemptionIn,
                        services: StoreDep, key: RedeemKey) -> Json:
    refuse_future(body, services.settings.max_future_skew_seconds)
    services.limiter.check_member(program, member_id, "write")
    return Json(auto_redemption.configure(services.db, services.cache, program, member_id,
                                          body.model_dump(mode="json", exclude_none=True)))


@router.get("/members/{member_id}/auto-redemption",
            summary="A member's automatic redemption settings")
def get_auto_redemption(program: ProgramPath, member_id: MemberPath, services: StoreDep,
                        key: ApiKeyDep) -> Json:
    services.limiter.check_member(program, member_id, "read")
    return Json(auto_redemption.get(services.db, program, member_id))
