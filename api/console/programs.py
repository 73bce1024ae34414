"""Registry pages: programs and their versions, a version's YAML sources, the semantic diff
of two versions, a program's activation timeline and its shadow run with the run's HTML
report (all readable by viewers)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import HTMLResponse, Response

import store.registry.rulesets as rulesets
import store.shadow.report as shadow_report
from api.console.auth import Viewer
from api.console.render import ConsoleRoute, page, state
from api.console.simulations import REPORT_HEADERS
from api.schemas import ProgramId
from engine.simulation.report import render
from store.errors import NotFound
from store.registry.timeline import timeline

router = APIRouter(route_class=ConsoleRoute)
ProgramPath = Annotated[ProgramId, Path()]
VersionPath = Annotated[int, Path(ge=1, le=2**31 - 1)]
VersionQuery = Annotated[int | None, Query(ge=1, le=2**31 - 1)]
NOTICES = {
    "approved": "Your approval is recorded.",
    "activated": "The activation is recorded.",
    "unchanged": "That version was already live at that instant; nothing changed.",
}


@router.get("/programs")
def programs(request: Request, principal: Viewer) -> Response:
    services = state(request).services
    found = rulesets.listing(services.db, services.cache, principal.key.program)
    return page(request, "programs.html", principal, programs=found["programs"])


@router.get("/programs/{program}")
def program_page(request: Request, principal: Viewer, program: ProgramPath,
                 notice: str = "") -> Response:
    principal.require_program(program)
    services = state(request).services
    entry = rulesets.listing(services.db, services.cache, program)["programs"][0]
    return page(request, "program.html", principal, entry=entry,
                timeline=timeline(services.db, program), notice=NOTICES.get(notice, ""),
                shadow=_shadow(services, program))


def _shadow(services: Any, program: str) -> dict[str, Any] | None:
    """The `shadow` block of the program's latest shadow run's report (None without one)."""
    try:
        return shadow_report.report(services.db, services.cache, program)["shadow"]
    except NotFound:
        return None


@router.get("/programs/{program}/shadow/report")
def shadow_report_page(request: Request, principal: Viewer, program: ProgramPath) -> Response:
    """The HTML report of the program's latest shadow run, framed by the program's page."""
    principal.require_program(program)
    services = state(request).services
    try:
        doc = shadow_report.report(services.db, services.cache, program)
    except NotFound:
        return HTMLResponse("<!doctype html><title>No report</title><p>The program has no "
                            "shadow run.</p>", status_code=404, headers=REPORT_HEADERS)
    title = f"Shadow evaluation of {program} version {doc['shadow']['run']['version']}"
    return HTMLResponse(render(doc, title=title), headers=REPORT_HEADERS)


@router.get("/programs/{program}/versions/{version}")
def version_page(request: Request, principal: Viewer, program: ProgramPath,
                 version: VersionPath, notice: str = "") -> Response:
    principal.require_program(program)
    services = state(request).services
    shown = rulesets.show(services.db, program, version)
    entry = rulesets.listing(services.db, services.cache, program)["programs"][0]
    return page(request, "version.html", principal, version=shown,
                live_version=entry["live_version"], notice=NOTICES.get(notice, ""))


@router.get("/programs/{program}/diff")
def diff_page(request: Request, principal: Viewer, program: ProgramPath,
              from_: Annotated[VersionQuery, Query(alias="from")] = None,
              to: VersionQuery = None) -> Response:
    principal.require_program(program)
    services = state(request).services
    entry = rulesets.listing(services.db, services.cache, program)["programs"][0]
    numbers = [v["version"] for v in entry["versions"]]
    old = from_ or (numbers[-2] if len(numbers) > 1 else numbers[-1])
    new = to or numbers[-1]
    result = rulesets.compare(services.db, services.cache, program, old, new)
    return page(request, "diff.html", principal, entry=entry, numbers=numbers, old=old,
                new=new, diff=result.to_json())
