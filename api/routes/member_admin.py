"""Member administration (admin scope): manual point adjustments, tier overrides, the
member's status, erasure on request; and the program's cashback books and payout."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import Field

import store.checkout.member_admin as admin
import store.ledger.cashback as cashback
import store.registry.versions as registry
from api.deps import AdminKey, StoreDep
from api.ids import Id, ProseCheck
from api.instants import Instant, refuse_future
from api.render import Json, created_or_replayed
from api.routes.checkout import ProgramPath
from api.routes.members import MemberPath
from api.schemas import Strict
from engine.evaluation.contract import POINTS_LIMIT

router = APIRouter(tags=["member administration"])  # under /v1/programs/{program}

Reason = Annotated[str, ProseCheck, Field(min_length=1, max_length=2000,
                                          description="why (kept in the audit log)")]


At = Field(None, description="when it takes effect (default: now; at most "
           "LOYALTY_MAX_FUTURE_SKEW_SECONDS ahead of the server clock)")


class AdjustmentIn(Strict):
    points: int = Field(ge=-POINTS_LIMIT, le=POINTS_LIMIT,
                        description="points to credit (> 0) or debit (< 0); never 0")
    reason: Reason
    adjustment_id: Id | None = Field(None, description="the caller's id: a retry with it is "
                                     "answered again, never applied twice")
    at: Instant | None = At


class StatusIn(Strict):
    status: Literal["active", "suspended", "closed"]
    reason: Reason
    at: Instant | None = At


class TierOverrideIn(Strict):
    tier: Annotated[str, ProseCheck, Field(max_length=64)] | None = Field(
        description="the tier to hold; null lifts the override")
    until: Instant | None = Field(None, description="when the override ends (null: never)")
    reason: Reason


class ErasureIn(Strict):
    reason: Reason


@router.post("/members/{member_id}/adjustments", status_code=201,
             summary="Credit or debit points by hand (an `adjust` ledger entry, audited)")
def adjust(program: ProgramPath, member_id: MemberPath, body: AdjustmentIn,
           services: StoreDep, key: AdminKey) -> Json:
    refuse_future(body, services.settings.max_future_skew_seconds)
    answer = admin.adjustment(services.db, services.cache, program, member_id, body.points,
                              body.reason, key.actor, body.at, body.adjustment_id)
    return created_or_replayed(answer, not answer.pop("replayed"))


@router.post("/members/{member_id}/status",
             summary="Set the member's status: active, suspended or closed (closing forfeits "
             "the balance)")
def status(program: ProgramPath, member_id: MemberPath, body: StatusIn, services: StoreDep,
           key: AdminKey) -> Json:
    refuse_future(body, services.settings.max_future_skew_seconds)
    return Json(admin.status(services.db, services.cache, program, member_id, body.status,
                             body.reason, key.actor, body.at))


@router.post("/members/{member_id}/tier-override",
             summary="Hold a tier until an instant whatever qualification says (null lifts it)")
def tier_override(program: ProgramPath, member_id: MemberPath, body: TierOverrideIn,
                  services: StoreDep, key: AdminKey) -> Json:
    return Json(admin.tier_override(services.db, services.cache, program, member_id,
                                    body.tier, body.until, body.reason, key.actor))


@router.post("/members/{member_id}/erasure",
             summary="Erase the member's personal attributes (ledger and books stay intact)")
def erase(program: ProgramPath, member_id: MemberPath, body: ErasureIn, services: StoreDep,
          key: AdminKey) -> Json:
    return Json(admin.erase(services.db, program, member_id, body.reason, key.actor))


@router.get("/admin/cashback", summary="The program's cashback books: issued, reversed, "
            "paid out, still owed")
def cashback_books(program: ProgramPath, services: StoreDep, key: AdminKey) -> Json:
    with services.db.reading() as session:
        registry.require_program(session, program)
        totals = cashback.program_totals(session, program)
    return Json({"program": program, **totals.to_json()})


@router.post("/admin/cashback/payout", summary="Run the cashback payout now for this program: "
             "every member's unpaid cashback above zero is marked paid")
def cashback_payout(program: ProgramPath, services: StoreDep, key: AdminKey) -> Json:
    with services.db.reading() as session:
        registry.require_program(session, program)
    return Json({"program": program, **cashback.payout(services.db, [program])})
