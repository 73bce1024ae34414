"""The company's pages: its balance and tier, and the catalog open to its tier."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

import store.b2b.portal as portal
import store.clock as clock
from api.console.render import redirect
from api.portal.auth import User
from api.portal.render import PREFIX, PortalRoute, PortalUser, page, state

router = APIRouter(route_class=PortalRoute)


def company_of(request: Request, user: PortalUser) -> dict[str, Any]:
    """The manager's company with its balance (through the short balance cache)."""
    services = state(request).services
    return portal.company(services.db, services.cache, services.balances,
                          user.manager.program, user.manager.company_id, clock.now())


def catalog_of(request: Request, user: PortalUser) -> dict[str, Any]:
    services = state(request).services
    return portal.catalog(services.db, services.cache, services.balances,
                          user.manager.program, user.manager.company_id, clock.now())


@router.get("", include_in_schema=False)
def home() -> Response:
    return redirect(f"{PREFIX}/company")


@router.get("/company", summary="The company: tier, balance, approval threshold")
def company_page(request: Request, user: User) -> Response:
    found = company_of(request, user)
    return page(request, "company.html", user, company=found, balance=found["balance"],
                balance_error=found.get("balance_unavailable", ""))


@router.get("/catalog", summary="The rewards open to the company's tier")
def catalog_page(request: Request, user: User, notice: str = "") -> Response:
    found = catalog_of(request, user)
    return page(request, "catalog.html", user, rewards=found["items"], tier=found["tier"],
                balance=found["balance"], can_order=user.manager.may("requester"),
                notice=notice)
