"""Ruleset registry endpoints: list, show, publish, approve, activate, diff."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse, Response

import store.registry.rulesets as rulesets
from api.deps import AdminKey, ApiKeyDep, StoreDep
from api.render import Json
from api.schemas import ActivateIn, ApproveIn, ProgramId, PublishIn

router = APIRouter(prefix="/v1/rulesets", tags=["rulesets"])
ProgramPath = Annotated[ProgramId, Path()]
VersionPath = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("", summary="Programs, their versions, live and scheduled activations")
def list_rulesets(services: StoreDep, key: ApiKeyDep,
                  program: Annotated[ProgramId | None, Query()] = None) -> Json:
    # A key bound to a program lists that program only (another one is refused by require).
    return Json(rulesets.listing(services.db, services.cache, program or key.program))


@router.post("", status_code=201, summary="Validate and store a new immutable version")
def publish(body: PublishIn, services: StoreDep, key: AdminKey) -> Json:
    info, created = rulesets.publish(services.db, dict(body.sources), key.actor, body.message,
                                     body.activate, only_program=key.program)
    services.cache.invalidate()
    return Json(info, status_code=201 if created else 200)


@router.get("/{program}/diff", summary="Semantic diff between two versions, by rule id")
def diff(program: ProgramPath, services: StoreDep, key: ApiKeyDep,
         from_: Annotated[int, Query(alias="from", ge=1, le=2**31 - 1)],
         to: Annotated[int, Query(ge=1, le=2**31 - 1)],
         format: Annotated[Literal["json", "text"], Query()] = "json") -> Response:
    result = rulesets.compare(services.db, services.cache, program, from_, to)
    if format == "text":
        return PlainTextResponse(result.to_text())
    return Json(result.to_json())


@router.get("/{program}", summary="Versions and activation history of one program")
def program_versions(program: ProgramPath, services: StoreDep, key: ApiKeyDep) -> Json:
    return Json(rulesets.listing(services.db, services.cache, program)["programs"][0])


@router.get("/{program}/{version}", summary="One version with its YAML sources")
def show(program: ProgramPath, version: VersionPath, services: StoreDep, key: ApiKeyDep) -> Json:
    return Json(rulesets.show(services.db, program, version))


@router.post("/{program}/{version}/approve",
             summary="Approve a published version (four eyes: not by its publisher's key)")
def approve(program: ProgramPath, version: VersionPath, services: StoreDep, key: AdminKey,
            body: ApproveIn | None = None) -> Json:
    body = body or ApproveIn()
    return Json(rulesets.approve(services.db, program, version, key.actor, body.message))


@router.post("/{program}/{version}/activate",
             summary="Make a version live now, at a given instant, or at its effective_from "
             "(or with dry_run, show what that would do)")
def activate(program: ProgramPath, version: VersionPath, services: StoreDep, key: AdminKey,
             body: ActivateIn | None = None) -> Json:
    body = body or ActivateIn()
    result = rulesets.activate(services.db, services.cache, program, version, key.actor,
                               body.effective_from, body.at == "effective_from", body.dry_run)
    if not body.dry_run:
        services.cache.invalidate()
    return Json(result)
