"""Who an account manager's request comes from: `manager_principal` turns the request's
credentials — a personal key (`Authorization: Bearer lmk_…`) or a JWT from a configured
issuer — into a `Manager`, and `require(role…)` admits the managers whose role grants one
of the roles.

Isolation: a manager acting on a program or a company other than their own gets 404
`unknown_company`, the same answer as for a company that does not exist, so the ids of
other companies do not leak."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

import store.b2b.keys as manager_keys
import store.b2b.managers as managers
from api.deps import BEARER, Services
from api.problems import ApiProblem
from api.ratelimit import budget_of
from store.b2b.principals import ROLES, Manager
from store.b2b.tokens import TokenRefused
from store.registry.keys import hash_key


def _token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    if not token:
        raise ApiProblem(401, "unauthenticated", "send a personal key or a token as "
                         "`Authorization: Bearer <credential>`", headers=BEARER)
    return token


def _from_token(services: Services, token: str) -> Manager:
    """The manager a JWT names (401 with the reason when it is refused)."""
    try:
        claims = services.tokens.verify(token)
    except TokenRefused as refused:
        raise ApiProblem(401, refused.code, refused.message, headers=BEARER) from refused
    with services.db.reading() as session:
        manager = managers.principal(session, claims.program, claims.manager_id)
    if manager is None:
        raise ApiProblem(401, "unknown_manager", f"the token's manager {claims.manager_id!r} "
                         f"of {claims.program} is unknown or deactivated, or so is their "
                         "company", headers=BEARER)
    return manager


def unknown_company(program: str, company_id: str) -> ApiProblem:
    """The answer for a company that does not exist — or is not the manager's."""
    return ApiProblem(404, "unknown_company", f"{program} has no company {company_id!r}")


async def manager_principal(request: Request) -> Manager:
    """The manager the request's credentials resolve to, acting on their own company:
    401 without valid credentials, 404 for another program's or company's ids."""
    services: Services = request.app.state.services
    token = _token(request)
    if token.startswith(manager_keys.KEY_PREFIX):
        digest = hash_key(token)
        cache = services.manager_keys
        hit, manager = cache.cached(digest)
        if not hit:
            manager = await run_in_threadpool(cache.verify, services.db, digest)
        if manager is None:
            raise ApiProblem(401, "invalid_key", "the personal key is unknown or revoked, or "
                             "its manager or company is deactivated", headers=BEARER)
    else:
        manager = await run_in_threadpool(_from_token, services, token)
    program = request.path_params.get("program")
    company_id = request.path_params.get("company_id")
    if program is not None and program != manager.program:
        raise unknown_company(program, company_id or "")
    if company_id is not None and company_id != manager.company_id:
        raise unknown_company(manager.program, company_id)
    return manager


def require(*roles: str) -> Callable[..., Awaitable[Manager]]:
    """A dependency admitting managers whose role grants any of `roles` (company_admin
    grants all); others get 403 `forbidden_role`. Then the manager's rate limit (the
    per-member budgets: `read` for GET, `write` otherwise)."""
    unknown = set(roles) - set(ROLES)
    assert not unknown, f"unknown roles {unknown}"

    async def check(request: Request,
                    manager: Annotated[Manager, Depends(manager_principal)]) -> Manager:
        if not manager.may(*roles):
            raise ApiProblem(403, "forbidden_role", f"this needs the {' or '.join(roles)} "
                             f"role; manager {manager.manager_id!r} is {manager.role}")
        services: Services = request.app.state.services
        services.limiter.check_manager(manager.program, manager.manager_id,
                                       budget_of(request.method, ("redeem",)))
        return manager

    return check


ViewerDep = Annotated[Manager, Depends(require("viewer"))]
RequesterDep = Annotated[Manager, Depends(require("requester"))]
ApproverDep = Annotated[Manager, Depends(require("approver"))]
CompanyAdminDep = Annotated[Manager, Depends(require("company_admin"))]
