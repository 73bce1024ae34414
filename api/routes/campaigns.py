"""Campaigns: which are running and who may take part, joining opt-in campaigns, a
member's progress, coupon codes and referral codes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

import store.campaigns.codes as codes
import store.campaigns.participants as participants
import store.clock as clock
from api.deps import AdminKey, ApiKeyDep, CommitKey, StoreDep
from api.ids import Id
from api.instants import Instant, refuse_future
from api.render import Json, created_or_replayed
from api.routes.checkout import ProgramPath
from api.schemas import Code, CodesIn, ParticipantIn

router = APIRouter(prefix="/v1/programs/{program}", tags=["campaigns"])
CampaignPath = Annotated[Id, Path(description="campaign id")]
MemberPath = Annotated[Id, Path(description="member id")]
AsOf = Annotated[Instant | None, Query(description="instant to answer for (default: now)")]


def _as_of(value: datetime | None) -> datetime:
    return clock.now() if value is None else value


@router.get("/campaigns", summary="Running campaigns; with member_id, whether the member is "
            "eligible and the reasons why not")
def campaigns(program: ProgramPath, services: StoreDep, key: ApiKeyDep,
              member_id: Annotated[Id | None, Query()] = None, as_of: AsOf = None) -> Json:
    if member_id is not None:
        services.limiter.check_member(program, member_id, "read")
    return Json(participants.eligibility(services.db, services.cache, program, member_id,
                                         _as_of(as_of)))


@router.post("/campaigns/{campaign_id}/participants", status_code=201,
             summary="Enrol a member in an opt-in campaign (idempotent: 200 when enrolled)")
def join(program: ProgramPath, campaign_id: CampaignPath, body: ParticipantIn,
         services: StoreDep, key: CommitKey) -> Json:
    refuse_future(body, services.settings.max_future_skew_seconds)
    services.limiter.check_member(program, body.member_id, "write")
    changed, result = participants.participate(
        services.db, services.cache, program, campaign_id, body.member_id,
        body.at or clock.now(), join=True)
    return created_or_replayed(result, changed)


@router.delete("/campaigns/{campaign_id}/participants/{member_id}",
               summary="Take a member out of an opt-in campaign (uses counted stay counted)")
def leave(program: ProgramPath, campaign_id: CampaignPath, member_id: MemberPath,
          services: StoreDep, key: CommitKey, at: AsOf = None) -> Json:
    services.limiter.check_member(program, member_id, "write")
    if at is not None:
        refuse_future(ParticipantIn.model_construct(member_id=member_id, at=at),
                      services.settings.max_future_skew_seconds)
    _, result = participants.participate(services.db, services.cache, program, campaign_id,
                                         member_id, at or clock.now(), join=False)
    return Json(result)


@router.get("/members/{member_id}/campaigns", summary="A member's progress in each campaign: "
            "uses and uses left, budget left, challenge spend and window, seasonal cap spend")
def member_campaigns(program: ProgramPath, member_id: MemberPath, services: StoreDep,
                     key: ApiKeyDep, as_of: AsOf = None) -> Json:
    services.limiter.check_member(program, member_id, "read")
    return Json(participants.member_progress(services.db, services.cache, program, member_id,
                                             _as_of(as_of)))


@router.get("/members/{member_id}/referral-code", summary="The member's referral code "
            "(made on first ask, the same ever after)")
def referral_code(program: ProgramPath, member_id: MemberPath, services: StoreDep,
                  key: CommitKey) -> Json:
    services.limiter.check_member(program, member_id, "read")
    participants.known_member(services.db, program, member_id)
    return Json({"program": program, "member_id": member_id,
                 "code": codes.referral_code(services.db, program, member_id)})


@router.post("/campaigns/{campaign_id}/codes", status_code=201,
             summary="Generate coupon codes for a campaign that requires one (admin)")
def generate_codes(program: ProgramPath, campaign_id: CampaignPath, body: CodesIn,
                   services: StoreDep, key: AdminKey) -> Json:
    return Json(codes.generate(services.db, services.cache, program, campaign_id, body.count,
                               body.uses, key.actor), status_code=201)


@router.get("/codes/{code}", summary="A coupon code's campaign and uses left (admin)")
def code_status(program: ProgramPath, code: Annotated[Code, Path(description="coupon code")],
                services: StoreDep, key: AdminKey) -> Json:
    return Json(codes.code_status(services.db, program, code))
