"""Member lookup: find a member by id, and their page — balance, tier and progress, lots
and their expiry, the ledger (paged), orders, redemptions — and the explain trace of any
of their recorded orders. Viewers may read all of it."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

import store.clock as clock
import store.console.members as lookup
import store.ledger.accounts as accounts
import store.registry.rulesets as rulesets
from api.console.auth import Viewer
from api.console.render import PREFIX, ConsoleRoute, page, query_of, redirect, state
from api.ids import Id, RowId
from api.schemas import ProgramId

router = APIRouter(route_class=ConsoleRoute)
ProgramPath = Annotated[ProgramId, Path()]
MemberPath = Annotated[Id, Path()]
LEDGER_PAGE = 25


def member_path(program: str, member_id: str) -> str:
    """The member page's path, each id one path segment."""
    return f"{PREFIX}/members/{quote(program, safe='')}/{quote(member_id, safe='')}"


@router.get("/members")
def lookup_form(request: Request, principal: Viewer,
                program: Annotated[str, Query()] = "",
                member_id: Annotated[str, Query()] = "") -> Response:
    if program and member_id.strip():
        principal.require_program(program)
        return redirect(member_path(program, member_id.strip()))
    services = state(request).services
    programs = [p["program"] for p in rulesets.listing(
        services.db, services.cache, principal.key.program)["programs"]]
    return page(request, "members.html", principal, programs=programs,
                program=program or (programs[0] if programs else ""), member_id=member_id)


@router.get("/members/{program}/{member_id}")
def member_page(request: Request, principal: Viewer, program: ProgramPath,
                member_id: MemberPath,
                cursor: Annotated[RowId | None, Query()] = None) -> Response:
    principal.require_program(program)
    services = state(request).services
    summary = accounts.summary(services.db, services.cache, program, member_id, clock.now())
    ledger = accounts.ledger_page(services.db, program, member_id,
                                  int(cursor) if cursor else None, LEDGER_PAGE)
    base = member_path(program, member_id)
    orders = [{**o, "href": f"{base}/orders/{quote(o['order_id'], safe='')}"}
              for o in lookup.orders(services.db, program, member_id)]
    return page(request, "member.html", principal, program=program, member=summary,
                ledger=ledger, cursor=cursor, base=base, orders=orders,
                redemptions=lookup.redemptions(services.db, program, member_id),
                next_page=query_of(request, cursor=ledger["next_cursor"])
                if ledger["next_cursor"] else None)


@router.get("/members/{program}/{member_id}/orders/{order_id}")
def order_trace(request: Request, principal: Viewer, program: ProgramPath,
                member_id: MemberPath, order_id: Annotated[Id, Path()]) -> Response:
    principal.require_program(program)
    services = state(request).services
    traced = lookup.order_trace(services.db, services.cache, program, member_id, order_id)
    return page(request, "order_trace.html", principal, program=program, traced=traced,
                base=member_path(program, member_id))
