"""The B2B redemption portal for account managers: server-rendered pages under `/portal`.

An account manager logs in with their personal key, sees their company's balance and the
catalog open to its tier, builds a cart of several rewards, places it as one order,
follows its approval and fulfilment, and reads the order history; approvers work the
queue of orders waiting for them. Pages are built like the console's (api/console): no
script, nothing loaded from elsewhere. See docs/b2b-portal.md.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import Response

import api.portal.auth as auth
import api.portal.company as company
import api.portal.orders as orders
from api.portal.render import PREFIX, PortalRoute, PortalState, error_page

fallback = APIRouter(route_class=PortalRoute)


@fallback.get("/{rest:path}", include_in_schema=False)
def unknown_page(request: Request, rest: str) -> Response:
    return error_page(request, 404, f"The portal has no page {request.url.path}.")


PAGES: tuple[APIRouter, ...] = (auth.router, company.router, orders.router)


def install(app: FastAPI) -> None:
    app.state.portal = PortalState(app.state.services)
    for router in (*PAGES, fallback):
        app.include_router(router, prefix=PREFIX, include_in_schema=False)
