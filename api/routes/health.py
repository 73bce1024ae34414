"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

import engine.rules.adapter as rules_engine
from api.deps import StoreDep
from api.metrics import exposition
from api.problems import ApiProblem
from api.render import Json

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
def healthz() -> Json:
    return Json({"status": "ok"})


@router.get("/readyz", summary="Database reachable and live rulesets compiled")
def readyz(services: StoreDep) -> Json:
    if rules_engine.is_fatal():
        raise ApiProblem(503, "engine_restarting", "the rule engine of this worker failed; "
                         "the worker is being replaced")
    try:
        with services.db.reading() as session:
            compiled = services.cache.warm(session)
    except Exception as exc:
        raise ApiProblem(503, "not_ready", f"not ready: {type(exc).__name__}") from exc
    return Json({"status": "ready", "programs": compiled})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics() -> Response:
    body, media_type = exposition()
    return Response(body, media_type=media_type)
