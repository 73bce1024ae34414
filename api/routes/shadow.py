"""Shadow evaluation of a program: put a published version in shadow, take it out, read
the run and its report (store/shadow/)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRouter
from pydantic import Field

import store.registry.keys as keys
import store.shadow.report as shadow_report
import store.shadow.runs as runs
from api.deps import AdminKey, StoreDep, require
from api.render import Json
from api.routes.checkout import ProgramPath
from api.schemas import Strict
from engine.simulation.report import render

# the report holds members' requests: viewer and admin keys read it (admin holds every scope)
ViewerKey = Annotated[keys.ApiKey, Depends(require("viewer"))]
router = APIRouter(prefix="/shadow", tags=["shadow"])  # under /v1/programs/{program}
RunQuery = Annotated[int | None, Query(ge=1, le=2**62, description="a run of the program "
                                                                   "(default: its latest)")]


class ShadowIn(Strict):
    version: int = Field(strict=True, ge=1, le=2**31 - 1, description="a published version of the program")


@router.put("", summary="Put a published version in shadow: every live quote and commit is "
            "also evaluated against it, off the response path, and compared")
def start(program: ProgramPath, body: ShadowIn, services: StoreDep, key: AdminKey) -> Json:
    run = runs.start(services.db, program, body.version, key.actor)
    services.shadow.refresh()
    return Json(run.to_json())


@router.delete("", summary="Take the version in shadow out (its report stays readable)")
def stop(program: ProgramPath, services: StoreDep, key: AdminKey) -> Json:
    run = runs.stop(services.db, program, key.actor)
    services.shadow.refresh()
    return Json(run.to_json())


@router.get("", summary="The program's latest shadow run (or `run`): version, who, when")
def show(program: ProgramPath, services: StoreDep, key: ViewerKey, run: RunQuery = None) -> Json:
    with services.db.reading() as session:
        return Json(runs.latest(session, program, run).to_json())


@router.get("/report", summary="The report of a shadow run, in the format of `simulate "
            "--compare` (live version against the version in shadow), JSON or HTML")
def report(program: ProgramPath, services: StoreDep, key: ViewerKey, run: RunQuery = None,
           format: Annotated[Literal["json", "html"], Query()] = "json") -> Response:
    doc = shadow_report.report(services.db, services.cache, program, run)
    if format == "html":
        return HTMLResponse(render(doc, title=f"Shadow evaluation of {program} version "
                                   f"{doc['shadow']['run']['version']} on live traffic"))
    return Json(doc)
