"""Simulation pages: start a dry run of a published version over a generated history or
the store's recorded one, follow its progress (the page reloads itself with a `Refresh`
header, no script), and read its HTML report inside the console.

Viewers may start runs as well as admins: a simulation changes nothing of the program or
its members (it writes only its own run), and the runs are bounded
(store/console/simulations.py)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from starlette.responses import HTMLResponse, Response

import store.registry.rulesets as rulesets
from api.console.auth import Viewer, ViewerForm
from api.console.render import PREFIX, ConsoleRoute, page, redirect, state
from store.console.simulations import Run, Runs
from store.errors import Conflict, NotFound, Unprocessable

router = APIRouter(route_class=ConsoleRoute)
RunPath = Annotated[str, Path(pattern=r"^[0-9]{1,18}$")]
REFRESH_SECONDS = 2
# The report is a document of its own (inline styles and SVG, no script), shown in a frame
# of the run's page: it may load nothing and run nothing, and be framed by the console only.
REPORT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "img-src data:; frame-ancestors 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
_made = threading.Lock()


def runs_of(request: Request) -> Runs:
    """This process's runner (made on first use)."""
    app = request.app
    with _made:
        if getattr(app.state, "simulation_runs", None) is None:
            services = state(request).services
            app.state.simulation_runs = Runs(services.db, services.cache)
    return app.state.simulation_runs  # type: ignore[no-any-return]


def _targets(request: Request, principal: Viewer) -> list[dict[str, object]]:
    """Every published version the principal may see, newest first, the live one marked."""
    services = state(request).services
    found = rulesets.listing(services.db, services.cache, principal.key.program)["programs"]
    return [{"value": f"{p['program']}:{v['version']}", "program": p["program"],
             "version": v["version"], "live": v["version"] == p["live_version"]}
            for p in found for v in reversed(p["versions"])]


def _form(request: Request, principal: Viewer, status: int = 200, error: str = "",
          chosen: Mapping[str, object] | None = None) -> HTMLResponse:
    runs = [r for r in runs_of(request).list() if principal.key.serves(r.program)]
    targets = _targets(request, principal)
    default = next((t["value"] for t in targets if t["live"]), targets[0]["value"]
                   if targets else "")
    values = {"target": default, "source": "generated", "members": 200, "events": 5000,
              "seed": 1, **(chosen or {})}
    return page(request, "simulations.html", principal, status=status, runs=runs,
                targets=targets, values=values, error=error)


@router.get("/simulations")
def simulations(request: Request, principal: Viewer) -> Response:
    return _form(request, principal)


@router.post("/simulations")
def start(request: Request, principal: ViewerForm,
          target: Annotated[str, Form()] = "", source: Annotated[str, Form()] = "generated",
          members: Annotated[int | None, Form()] = None,
          events: Annotated[int | None, Form()] = None,
          seed: Annotated[int | None, Form()] = None) -> Response:
    chosen = {"target": target, "source": source, "members": members, "events": events,
              "seed": seed}
    program, _, version = target.partition(":")
    if not version.isdigit():
        return _form(request, principal, 422, "Choose a program version.", chosen)
    principal.require_program(program)
    try:
        run = runs_of(request).start(program, int(version), source, principal.actor,
                                     members, events, seed)
    except (Unprocessable, NotFound, Conflict) as exc:
        return _form(request, principal, exc.status, exc.message, chosen)
    return redirect(f"{PREFIX}/simulations/{run.id}")


def _run(request: Request, principal: Viewer, run_id: str, report: bool = False) -> Run:
    run = runs_of(request).get(run_id, report=report)
    principal.require_program(run.program)
    return run


@router.get("/simulations/{run_id}")
def run_page(request: Request, principal: Viewer, run_id: RunPath) -> Response:
    run = _run(request, principal, run_id)
    response = page(request, "simulation.html", principal, run=run,
                    refresh=REFRESH_SECONDS if not run.finished else None)
    if not run.finished:  # reload until it ends: no script needed
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


@router.get("/simulations/{run_id}/report")
def report(request: Request, principal: Viewer, run_id: RunPath) -> Response:
    run = _run(request, principal, run_id, report=True)
    if run.report_html is None:
        return HTMLResponse("<!doctype html><title>No report</title><p>The run has no "
                            "report (yet).</p>", status_code=404, headers=REPORT_HEADERS)
    return HTMLResponse(run.report_html, headers=REPORT_HEADERS)
