"""The account manager's routes (credentials: a personal key or a JWT, api/b2b/principal.py):
their company with its balance, the catalog open to its tier, its managers — and, for a
`company_admin`, managing those managers and revoking their keys; every manager issues
and revokes their own keys (api/b2b/managing.py). Every
route is under `/companies/{company_id}` and answers 404 for any company but the
manager's own."""

from __future__ import annotations

from fastapi import APIRouter

import store.b2b.portal as portal
import store.clock as clock
from api.b2b import managing
from api.b2b.principal import CompanyAdminDep, ViewerDep
from api.b2b.schemas import CompanyPath
from api.deps import StoreDep
from api.render import Json
from api.routes.checkout import ProgramPath

router = APIRouter(prefix="/companies/{company_id}", tags=["b2b portal"])  # under /v1/programs/{program}


async def _company_admin(manager: CompanyAdminDep) -> managing.Acting:
    return managing.Acting(manager.actor, manager)


async def _any_manager(manager: ViewerDep) -> managing.Acting:
    return managing.Acting(manager.actor, manager)


@router.get("", summary="The manager's company, with its balance (read through a short cache)")
def company(program: ProgramPath, company_id: CompanyPath, services: StoreDep,
            manager: ViewerDep) -> Json:
    return Json(portal.company(services.db, services.cache, services.balances, program,
                               company_id, clock.now()))


@router.get("/catalog", summary="The rewards open to the company's tier, each marked "
            "affordable or not against its balance")
def catalog(program: ProgramPath, company_id: CompanyPath, services: StoreDep,
            manager: ViewerDep) -> Json:
    return Json(portal.catalog(services.db, services.cache, services.balances, program,
                               company_id, clock.now()))


@router.get("/managers", summary="The company's account managers")
def managers(program: ProgramPath, company_id: CompanyPath, services: StoreDep,
             manager: ViewerDep) -> Json:
    return managing.listing(services, program, company_id)


company_admin_router = APIRouter(tags=["b2b portal"])  # under /v1/programs/{program}
managing.add_routes(company_admin_router, _company_admin, _any_manager)
