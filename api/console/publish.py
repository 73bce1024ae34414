"""Publish a draft by upload: several YAML files of one program, or one archive of its
folder. Located errors and warnings are shown next to the offending line of the upload."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import Response

import store.registry.rulesets as rulesets
from api.console.auth import Admin, AdminForm
from api.console.principal import Principal
from api.console.render import ConsoleRoute, page, state
from engine.errors import RulesetInvalid
from engine.language.uploads import upload_sources
from store.errors import StoreError

router = APIRouter(route_class=ConsoleRoute)
Notes = dict[str, dict[int, list[tuple[str, str]]]]


@router.get("/publish")
def publish_form(request: Request, principal: Admin) -> Response:
    return _page(request, principal)


@router.post("/publish")
def publish_upload(request: Request, principal: AdminForm,
                   files: Annotated[list[UploadFile], File()],
                   message: Annotated[str, Form(max_length=2000)] = "") -> Response:
    services = state(request).services
    limit = services.settings.max_ruleset_bytes
    uploaded = [(f.filename or "", f.file.read(limit + 1)) for f in files if f.filename]
    sources: dict[str, str] = {}
    try:
        sources = upload_sources(uploaded)
        result, created = rulesets.publish(services.db, sources, principal.actor, message,
                                           only_program=principal.key.program)
    except RulesetInvalid as exc:
        notes: Notes = {}
        for err in exc.errors:
            notes.setdefault(err.file, {}).setdefault(err.line, []).append(("error", str(err)))
        errors = [(str(e), f"{e.file}-L{e.line}" if e.file in sources else "")
                  for e in exc.errors]
        return _page(request, principal, status=422, message=message, sources=sources,
                     notes=notes, errors=errors)
    except StoreError as exc:
        return _page(request, principal, status=exc.status, message=message, sources=sources,
                     refusal=exc.message)
    services.cache.invalidate()
    warnings = result.get("warnings", [])
    return _page(request, principal, result=result, created=created, sources=sources,
                 notes=_warning_notes(warnings), warnings=[_located(w) for w in warnings])


def _located(warning: dict[str, Any]) -> str:
    if warning.get("file"):
        return (f"{warning['file']}:{warning.get('line', 1)}:{warning.get('col', 1)}: "
                f"{warning.get('path', '$')}: {warning['message']}")
    return str(warning["message"])


def _warning_notes(warnings: list[dict[str, Any]]) -> Notes:
    notes: Notes = {}
    for w in warnings:
        if w.get("file"):
            notes.setdefault(w["file"], {}).setdefault(int(w.get("line", 1)), []).append(
                ("warning", "warning: " + _located(w)))
    return notes


def _page(request: Request, principal: Principal, *, status: int = 200, **context: Any) -> Response:
    defaults: dict[str, Any] = {"message": "", "sources": {}, "notes": {}, "errors": [],
                                "warnings": [], "refusal": "", "result": None, "created": False}
    return page(request, "publish.html", principal, status=status, **{**defaults, **context})
