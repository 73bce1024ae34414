"""The web console for the people who run a program: server-rendered pages under `/console`.

`install(app)` mounts the console's routers and its static files (hand-written CSS; no CDN,
so it works offline). Each page module holds an `APIRouter(route_class=ConsoleRoute)`
listed in `PAGES`; its handlers take a `Viewer` or `Admin` principal (forms: `ViewerForm`,
`AdminForm`, which also check the CSRF token), call the same store functions as the API
routes, and render a template with `page()`. See docs/console.md, "Adding a page".
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import Response

import api.console.activation as activation
import api.console.audit as audit
import api.console.auth as auth
import api.console.members as members
import api.console.programs as programs
import api.console.publish as publish
import api.console.simulations as simulations
from api.console.render import PREFIX, STATIC, ConsoleRoute, ConsoleState, error_page, redirect

home = APIRouter(route_class=ConsoleRoute)


@home.get("", include_in_schema=False)
def console_home() -> Response:
    return redirect(f"{PREFIX}/programs")


# Matched after every page: an unknown console address is an HTML page too.
fallback = APIRouter(route_class=ConsoleRoute)


@fallback.get("/{rest:path}", include_in_schema=False)
def unknown_page(request: Request, rest: str) -> Response:
    return error_page(request, 404, f"The console has no page {request.url.path}.")


# Page modules, in the order their routes are matched.
PAGES: tuple[APIRouter, ...] = (
    home,
    auth.router,
    programs.router,
    publish.router,
    activation.router,
    audit.router,
    simulations.router,
    members.router,
)


def install(app: FastAPI) -> None:
    app.state.console = ConsoleState(app.state.services)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
    for router in (*PAGES, fallback):
        app.include_router(router, prefix=PREFIX, include_in_schema=False)
