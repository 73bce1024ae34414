"""Managing a company's account managers and their personal keys: the same routes for
the program's administrators (admin key, under `/admin/companies/{company_id}`) and for
the company's own managers (under `/companies/{company_id}`: a `company_admin` manages
the managers; each manager issues their own keys), who reach only their own company
(api/b2b/principal.py). Every action is audited with who did it.

(No `from __future__ import annotations` here: the routes are defined inside a function,
and FastAPI must resolve their annotations, which name a local alias.)"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends

import store.b2b.keys as manager_keys
import store.b2b.managers as managers
from api.b2b.schemas import CompanyPath, KeyIn, KeyPrefix, ManagerIn, ManagerPatch, ManagerPath
from api.deps import StoreDep
from api.problems import ApiProblem
from api.render import Json
from api.routes.checkout import ProgramPath
from store.b2b.principals import Manager


@dataclass(frozen=True)
class Acting:
    """Who acts: a program administrator (`manager` None) or an account manager."""

    actor: str
    manager: Manager | None = None

    def may_handle_keys(self, manager_id: str, issue: bool) -> None:
        """A manager issues keys for themselves only — a key for someone else would let
        its holder act as them (and, say, approve their own order) — and a company_admin
        also lists and revokes the others' keys. Administrators may do all of it."""
        if self.manager is None or self.manager.manager_id == manager_id:
            return
        if issue or not self.manager.may("company_admin"):
            raise ApiProblem(403, "forbidden_role", "a manager issues personal keys for "
                             "themselves only; a company_admin lists and revokes the "
                             "others' keys")


Authorize = Callable[..., Awaitable[Acting]]


def add_routes(router: APIRouter, manages: Authorize, holds_keys: Authorize) -> None:
    """Add the manager routes to `router`: `manages` authorizes managing managers,
    `holds_keys` the key routes (then `Acting.may_handle_keys` decides), and both name
    who acts."""
    ActorDep = Annotated[str, Depends(_actor_of(manages))]
    KeysDep = Annotated[Acting, Depends(holds_keys)]
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
                  services: StoreDep, acting: KeysDep, body: KeyIn | None = None) -> Json:
        acting.may_handle_keys(manager_id, issue=True)
        with services.db.writing() as session:
            key, info = manager_keys.issue(session, program, company_id, manager_id,
                                           (body or KeyIn()).name, actor=acting.actor)
        return Json({**info.to_json(), "key": key}, status_code=201)

    @router.get(base + "/{manager_id}/keys", summary="A manager's personal keys")
    def list_keys(program: ProgramPath, company_id: CompanyPath, manager_id: ManagerPath,
                  services: StoreDep, acting: KeysDep) -> Json:
        acting.may_handle_keys(manager_id, issue=False)
        with services.db.reading() as session:
            found = manager_keys.listing(session, program, company_id, manager_id)
        return Json({"keys": [k.to_json() for k in found]})

    @router.post(base + "/{manager_id}/keys/{prefix}/revoke",
                 summary="Revoke a personal key")
    def revoke_key(program: ProgramPath, company_id: CompanyPath, manager_id: ManagerPath,
                   prefix: KeyPrefix, services: StoreDep, acting: KeysDep) -> Json:
        acting.may_handle_keys(manager_id, issue=False)
        with services.db.writing() as session:
            done = manager_keys.revoke(session, program, company_id, manager_id, prefix,
                                       actor=acting.actor)
        services.manager_keys.clear()
        return Json(done.to_json())


def _actor_of(authorize: Authorize) -> Callable[..., Awaitable[str]]:
    async def actor(acting: Annotated[Acting, Depends(authorize)]) -> str:
        return acting.actor

    return actor


def listing(services: Any, program: str, company_id: str) -> Json:
    with services.db.reading() as session:
        found = managers.listing(session, program, company_id)
    return Json({"company_id": company_id, "managers": [m.to_json() for m in found]})
