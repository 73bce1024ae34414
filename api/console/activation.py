"""Approve, activate and roll back a version, each through a confirmation page: the GET shows
what the action would change (for an activation, the store's dry-run plan: the diff against
the live version, the instant, the schedule around it, approvals, a refusal), the POST does
it. Rolling back is activating an older version; the audit log records it as a rollback."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import Response

import store.registry.rulesets as rulesets
from api.console.auth import Admin, AdminForm
from api.console.principal import Principal
from api.console.programs import ProgramPath, VersionPath
from api.console.render import BlankIsNone, ConsoleRoute, page, redirect, state
from api.instants import Instant
from store.errors import StoreError

router = APIRouter(route_class=ConsoleRoute)
At = Literal["now", "effective_from", "instant"]
OptionalInstant = Annotated[Instant | None, BlankIsNone]


@router.get("/programs/{program}/versions/{version}/approve")
def approve_confirm(request: Request, principal: Admin, program: ProgramPath,
                    version: VersionPath) -> Response:
    principal.require_program(program)
    return _approve_page(request, principal, program, version)


@router.post("/programs/{program}/versions/{version}/approve")
def approve(request: Request, principal: AdminForm, program: ProgramPath, version: VersionPath,
            message: Annotated[str, Form(max_length=2000)] = "") -> Response:
    principal.require_program(program)
    try:
        rulesets.approve(state(request).services.db, program, version, principal.actor, message)
    except StoreError as exc:
        return _approve_page(request, principal, program, version, status=exc.status,
                             refusal=exc.message, message=message)
    return redirect(f"/console/programs/{program}/versions/{version}", notice="approved")


def _approve_page(request: Request, principal: Principal, program: str, version: int, *,
                  status: int = 200, refusal: str = "", message: str = "") -> Response:
    shown = rulesets.show(state(request).services.db, program, version)
    return page(request, "approve.html", principal, status=status, version=shown,
                refusal=refusal, message=message)


@router.get("/programs/{program}/versions/{version}/activate")
def activate_confirm(request: Request, principal: Admin, program: ProgramPath,
                     version: VersionPath, at: Annotated[At, Query()] = "now",
                     effective_from: Annotated[OptionalInstant, Query()] = None) -> Response:
    principal.require_program(program)
    return _activate_page(request, principal, program, version, at, effective_from)


@router.post("/programs/{program}/versions/{version}/activate")
def activate(request: Request, principal: AdminForm, program: ProgramPath, version: VersionPath,
             at: Annotated[At, Form()] = "now",
             effective_from: Annotated[OptionalInstant, Form()] = None) -> Response:
    principal.require_program(program)
    services = state(request).services
    try:
        result = rulesets.activate(services.db, services.cache, program, version,
                                   principal.actor, *_when(at, effective_from))
    except StoreError as exc:
        return _activate_page(request, principal, program, version, at, effective_from,
                              status=exc.status, refusal=exc.message)
    services.cache.invalidate()
    return redirect(f"/console/programs/{program}",
                    notice="unchanged" if result.get("already_live") else "activated")


def _when(at: At, effective_from: Any) -> tuple[Any, bool]:
    """(effective_from, at_declared) for the store, as the API's ActivateIn gives them."""
    return (effective_from if at == "instant" else None), at == "effective_from"


def _activate_page(request: Request, principal: Principal, program: str, version: int, at: At,
                   effective_from: Any, *, status: int = 200, refusal: str = "") -> Response:
    services = state(request).services
    try:
        plan = rulesets.activate(services.db, services.cache, program, version, principal.actor,
                                 *_when(at, effective_from), dry_run=True)
    except StoreError as exc:  # e.g. no declared effective_from: the form says so
        plan, refusal, status = None, exc.message, exc.status
    return page(request, "activate.html", principal, status=status, program=program,
                version=version, plan=plan, at=at, refusal=refusal,
                effective_from=effective_from.isoformat() if effective_from else "")
