"""Reward inventory of a program (under /v1/programs/{program}, admin keys): stock per
reward apart from ruleset versions — restock, adjust, the low-stock threshold, and the
audit trail of every change."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import Field

import store.clock as clock
import store.inventory.stock as inventory
from api.deps import AdminKey, StoreDep
from api.ids import Id, RowId, Text
from api.render import Json
from api.routes.checkout import ProgramPath
from api.schemas import Strict
from engine.program import Program
from store.db.database import Database
from store.registry.programs import ProgramCache

router = APIRouter(prefix="/inventory", tags=["inventory"])
RewardPath = Annotated[Id, Path(description="a reward of the live version's catalog")]
MOST = inventory.MAX_QUANTITY


class RestockIn(Strict):
    quantity: int = Field(ge=1, le=MOST, strict=True, description="units received")
    reason: Text | None = Field(None, max_length=500)


class AdjustIn(Strict):
    delta: int = Field(ge=-MOST, le=MOST, strict=True, description="units to add (positive) or remove "
                       "(negative) from what is available; not 0")
    reason: Text = Field(min_length=1, max_length=500, description="why (a count, breakage)")


class ThresholdIn(Strict):
    low_stock: int | None = Field(ge=0, le=MOST, strict=True, description="raise `low_stock` when "
                                  "available falls to this or below (null: never)")


def _live(db: Database, cache: ProgramCache, program: str) -> Program:
    with db.reading() as session:
        return cache.resolve(session, program, clock.now())


@router.get("", summary="Every catalog reward's stock: available, reserved, threshold")
def listing(program: ProgramPath, services: StoreDep, key: AdminKey) -> Json:
    return Json(inventory.listing(services.db, _live(services.db, services.cache, program)))


@router.get("/changes", summary="Stock changes, newest first: who, why, the quantities after")
def changes(program: ProgramPath, services: StoreDep, key: AdminKey,
            reward_id: Annotated[Id | None, Query()] = None,
            cursor: Annotated[RowId | None, Query()] = None,
            limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Json:
    return Json(inventory.changes(services.db, program, reward_id,
                                  int(cursor) if cursor else None, limit))


@router.post("/{reward_id}/restock", summary="Add units received (audited)")
def restock(program: ProgramPath, reward_id: RewardPath, body: RestockIn, services: StoreDep,
            key: AdminKey) -> Json:
    return Json(inventory.restock(services.db, _live(services.db, services.cache, program),
                                  reward_id, body.quantity, key.actor, body.reason))


@router.post("/{reward_id}/adjust", summary="Correct the available units (audited; never "
             "below zero)")
def adjust(program: ProgramPath, reward_id: RewardPath, body: AdjustIn, services: StoreDep,
           key: AdminKey) -> Json:
    return Json(inventory.adjust(services.db, _live(services.db, services.cache, program),
                                 reward_id, body.delta, key.actor, body.reason))


@router.put("/{reward_id}/low-stock", summary="Set the low-stock threshold (audited)")
def threshold(program: ProgramPath, reward_id: RewardPath, body: ThresholdIn,
              services: StoreDep, key: AdminKey) -> Json:
    return Json(inventory.set_low_stock(services.db, _live(services.db, services.cache,
                                                           program),
                                        reward_id, body.low_stock, key.actor))
