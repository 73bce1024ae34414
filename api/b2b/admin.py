"""The B2B portal's administration (admin key): a program's companies — create, update,
deactivate, list — and their account managers and personal keys (api/b2b/managing.py).
Every change is audited with the key that made it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

import store.b2b.companies as companies
import store.b2b.portal as portal
import store.clock as clock
from api.b2b import managing
from api.b2b.schemas import CompanyIn, CompanyPatch, CompanyPath
from api.deps import AdminKey, Services, StoreDep
from api.render import Json
from api.routes.checkout import ProgramPath
from store.b2b.companies import CompanyChange

router = APIRouter(prefix="/admin", tags=["b2b administration"])  # under /v1/programs/{program}


async def _admin(key: AdminKey) -> managing.Acting:
    return managing.Acting(key.actor)


def _tiers(services: Services, program: str) -> frozenset[str]:
    return portal.tiers(services.db, services.cache, program, clock.now())


@router.post("/companies", status_code=201, summary="Add a company to the program")
def create_company(program: ProgramPath, body: CompanyIn, services: StoreDep,
                   key: AdminKey) -> Json:
    tiers = _tiers(services, program)
    with services.db.writing() as session:
        made = companies.create(session, program, body.company_id, body.name,
                                body.loyalty_account_id, body.tier, tiers,
                                body.approval_threshold, actor=key.actor)
    return Json(made.to_json(), status_code=201)


@router.get("/companies", summary="The program's companies")
def list_companies(program: ProgramPath, services: StoreDep, key: AdminKey,
                   active: Annotated[bool | None, Query()] = None) -> Json:
    found = portal.listing(services.db, program, active)
    return Json({"program": program, "companies": [c.to_json() for c in found]})


@router.get("/companies/{company_id}", summary="A company, with its balance")
def get_company(program: ProgramPath, company_id: CompanyPath, services: StoreDep,
                key: AdminKey) -> Json:
    return Json(portal.company(services.db, services.cache, services.balances, program,
                               company_id, clock.now()))


@router.patch("/companies/{company_id}", summary="Change a company's name, account, tier, "
              "approval threshold or active flag")
def update_company(program: ProgramPath, company_id: CompanyPath, body: CompanyPatch,
                   services: StoreDep, key: AdminKey) -> Json:
    given = body.model_fields_set
    change = CompanyChange(name=body.name, loyalty_account_id=body.loyalty_account_id,
                           tier=body.tier, approval_threshold=body.approval_threshold,
                           clear_threshold="approval_threshold" in given
                           and body.approval_threshold is None, active=body.active)
    tiers = _tiers(services, program) if body.tier is not None else frozenset()
    with services.db.writing() as session:
        changed = companies.update(session, program, company_id, change, tiers,
                                   actor=key.actor)
    services.manager_keys.clear()
    return Json(changed.to_json())


@router.post("/companies/{company_id}/deactivate",
             summary="Deactivate a company: its managers can no longer act")
def deactivate_company(program: ProgramPath, company_id: CompanyPath, services: StoreDep,
                       key: AdminKey) -> Json:
    with services.db.writing() as session:
        done = companies.deactivate(session, program, company_id, actor=key.actor)
    services.manager_keys.clear()
    return Json(done.to_json())


@router.get("/companies/{company_id}/managers", summary="A company's account managers")
def list_managers(program: ProgramPath, company_id: CompanyPath, services: StoreDep,
                  key: AdminKey) -> Json:
    return managing.listing(services, program, company_id)


managing.add_routes(router, _admin, _admin)
