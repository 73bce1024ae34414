"""The audit log: who published, approved, activated or rolled back what, and key changes;
newest first, filtered, in pages. Admins only, as in the API (GET /v1/audit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

import store.registry.audit as audit
import store.registry.rulesets as rulesets
from api.console.auth import Admin
from api.console.render import BlankIsNone, ConsoleRoute, page, query_of, state
from api.ids import Id, RowId
from api.instants import Instant
from api.schemas import ProgramId

router = APIRouter(route_class=ConsoleRoute)
PAGE_SIZE = 50


@router.get("/audit")
def audit_log(request: Request, principal: Admin,
              program: Annotated[ProgramId | None, BlankIsNone, Query()] = None,
              actor: Annotated[Id | None, BlankIsNone, Query()] = None,
              action: Annotated[Id | None, BlankIsNone, Query()] = None,
              from_: Annotated[Instant | None, BlankIsNone, Query(alias="from")] = None,
              to: Annotated[Instant | None, BlankIsNone, Query()] = None,
              cursor: Annotated[RowId | None, BlankIsNone, Query()] = None) -> Response:
    if program is not None:
        principal.require_program(program)
    services = state(request).services
    where = audit.AuditFilter(program or principal.key.program, actor, action, from_, to)
    found = audit.read(services.db, where, int(cursor) if cursor else None, PAGE_SIZE)
    next_cursor = found["next_cursor"]
    programs = [p["program"] for p in rulesets.listing(services.db, services.cache,
                                                       principal.key.program)["programs"]]
    return page(request, "audit.html", principal, entries=found["entries"],
                programs=programs, filters=request.query_params, paged=cursor is not None,
                next_query=query_of(request, cursor=next_cursor) if next_cursor else "",
                first_query=query_of(request, cursor=None))
