"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from api import problems
from api.deps import KeyCache, Services
from api.metrics import ObserveMiddleware
from api.routes import checkout, health, members, redemptions, rulesets
from store.db import Database, open_database
from store.programs import ProgramCache
from store.settings import Settings, get_settings


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = db or open_database(settings.database_url, settings.pool_size)
    app = FastAPI(
        title="Loyalty rules API",
        version="1",
        description="Quote and commit orders against versioned loyalty rulesets. "
        "Errors are application/problem+json; authenticate with `Authorization: Bearer <key>`.",
    )
    app.state.services = Services(settings=settings, db=db,
                                  cache=ProgramCache(settings.activation_check_seconds),
                                  key_cache=KeyCache(settings.api_key_cache_seconds))
    problems.install(app)
    for module in (checkout, members, redemptions, rulesets, health):
        app.include_router(module.router)
    app.add_middleware(ObserveMiddleware, max_body_bytes=settings.max_body_bytes,
                       large_paths={"/v1/rulesets": settings.max_ruleset_bytes})
    return app


def app_from_env() -> FastAPI:
    """Entry point for uvicorn workers (`api.app:app_from_env`, factory mode)."""
    return create_app()
