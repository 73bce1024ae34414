"""Managing a company's account managers and their personal keys: the same routes for
the program's administrators (admin key, under `/admin/companies/{company_id}`) and for
the company's own `company_admin` (under `/companies/{company_id}`), who can reach only
their own company (api/b2b/principal.py). Every action is audited with who did it.

(No `from __future__ import annotations` here: the routes are defined inside a function,
and FastAPI must resolve their annotations, which name a local alias.)"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends

import store.b2b.keys as manager_keys
import store.b2b.managers as managers
from api.b2b.schemas import CompanyPath, KeyIn, KeyPrefix, ManagerIn, ManagerPatch, ManagerPath
from api.deps import StoreDep
from api.render import Json
from api.routes.checkout import ProgramPath

Actor = Callable[..., Awaitable[str]]


def add_routes(router: APIRouter, actor_of: Actor) -> None:
    """Add the manager routes to `router`; `actor_of` authorizes the request and names
    who acts."""
    ActorDep = Annotated[str, Depends(actor_of)]
    base = "/companies/{company_id}/managers"

    @router.post(base, status_code=201, summary="Add an account manager")
    def create(program: ProgramPath, company_id: CompanyPath, body: ManagerIn,
               services: StoreDep, actor: ActorDep) -> Json:
        with services.db.writing() as session:
            made = managers.create(session, program, company_id, body.manager_id, body.name,
                                   body.email, body.role, actor=actor)
        return Json(made.to_json(), status_code=201)

    @router.patch(base + "/{manager_id}",
                  summary="Change a manager's role, name, e-mail or active flag")
    def update(program: ProgramPath, company_id: CompanyPath, manager_id: ManagerPath,
               body: ManagerPatch, services: StoreDep, actor: ActorDep) -> Json:
        with services.db.writing() as session:
            changed = managers.update(session, program, company_id, manager_id,
                                      role=body.role, name=body.name, email=body.email,
                                      active=body.active, actor=actor)
        services.manager_keys.clear()  # a new role or a deactivation applies at once here
        return Json(changed.to_json())

    @router.post(base + "/{manager_id}/deactivate",
                 summary="Deactivate a manager: their keys and tokens stop working")
    def deactivate(program: ProgramPath, company_id: CompanyPath, manager_id: ManagerPath,
                   services: StoreDep, actor: ActorDep) -> Json:
        with services.db.writing() as session:
            done = managers.deactivate(session, program, company_id, manager_id, actor=actor)
        services.manager_keys.clear()
        return Json(done.to_json())

    @router.post(base + "/{manager_id}/keys", status_code=201,
                 summary="Issue a personal API key (shown once)")
    def issue_key(program: ProgramPath, company_id: CompanyPath, manager_id: ManagerPath,
                  services: StoreDep, actor: ActorDep, body: KeyIn | None = None) -> Json:
        with services.db.writing() as session:
            key, info = manager_keys.issue(session, program, company_id, manager_id,
                                           (body or KeyIn()).name, actor=actor)
        return Json({**info.to_json(), "key": key}, status_code=201)

    @router.get(base + "/{manager_id}/keys", summary="A manager's personal keys")
    def list_keys(program: ProgramPath, company_id: CompanyPath, manager_id: ManagerPath,
                  services: StoreDep, actor: ActorDep) -> Json:
        with services.db.reading() as session:
            found = manager_keys.listing(session, program, company_id, manager_id)
        return Json({"keys": [k.to_json() for k in found]})

    @router.post(base + "/{manager_id}/keys/{prefix}/revoke",
                 summary="Revoke a personal key")
    def revoke_key(program: ProgramPath, company_id: CompanyPath, manager_id: ManagerPath,
                   prefix: KeyPrefix, services: StoreDep, actor: ActorDep) -> Json:
        with services.db.writing() as session:
            done = manager_keys.revoke(session, program, company_id, manager_id, prefix,
                                       actor=actor)
        services.manager_keys.clear()
        return Json(done.to_json())


def listing(services: Any, program: str, company_id: str) -> Json:
    with services.db.reading() as session:
        found = managers.listing(session, program, company_id)
    return Json({"company_id": company_id, "managers": [m.to_json() for m in found]})
