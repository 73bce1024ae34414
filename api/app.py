"""The FastAPI application factory."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

import api.b2b.admin as b2b_admin
import api.b2b.portal as b2b_portal
import api.console as console
import api.docs_ui as docs_ui
import api.problems as problems
import api.routes.admin as admin
import api.routes.audit as audit
import api.routes.auto_redemption as auto_redemption
import api.routes.b2b_fulfilment as b2b_fulfilment
import api.routes.b2b_orders as b2b_orders
import api.routes.campaigns as campaigns
import api.routes.checkout as checkout
import api.routes.fulfilment as fulfilment
import api.routes.health as health
import api.routes.inventory as inventory
import api.routes.member_admin as member_admin
import api.routes.members as members
import api.routes.redemptions as redemptions
import api.routes.reports as reports
import api.routes.rulesets as rulesets
import api.routes.shadow as shadow
import engine.rules.adapter as rules_engine
import store.b2b.balances as balances
import store.jobs.scheduler as jobs
from api.deps import SECURITY_SCHEME, KeyCache, ManagerKeyCache, Services
from api.metrics import ObserveMiddleware
from api.ratelimit import RateLimiter
from store.b2b.tokens import TokenVerifier
from store.db.database import Database, open_database
from store.registry.programs import ProgramCache
from store.settings import Settings, get_settings
from store.shadow.tap import ShadowTap


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = db or open_database(settings.database_url, settings.pool_size)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Handlers run in threads; as many as pooled connections (see Settings.pool_size).
        to_thread.current_default_thread_limiter().total_tokens = settings.pool_size
        # Every worker runs the background jobs (safe side by side: see store/jobs/scheduler.py),
        # unless they run apart under `loyalty jobs run`.
        scheduler = None
        if settings.jobs_enabled:
            scheduler = jobs.Scheduler(app.state.services.db, jobs.default_jobs(settings))
            scheduler.start()
        app.state.scheduler = scheduler
        tap = app.state.services.shadow
        tap.start()  # evaluates live traffic against versions in shadow, off the response path
        try:
            yield
        finally:
            await to_thread.run_sync(tap.stop)
            if scheduler is not None:
                await to_thread.run_sync(scheduler.stop)

    app = FastAPI(
        lifespan=lifespan, docs_url=None, redoc_url=None,  # /docs from local assets: docs_ui
        title="Loyalty rules API",
        version="1",
        description="Quote and commit orders against versioned loyalty rulesets. "
        "Errors are application/problem+json; authenticate with `Authorization: Bearer <key>`.",
    )
    cache = ProgramCache(settings.activation_check_seconds)
    app.state.services = Services(settings=settings, db=db, cache=cache,
                                  key_cache=KeyCache(settings.api_key_cache_seconds),
                                  limiter=RateLimiter(settings),
                                  manager_keys=ManagerKeyCache(settings.api_key_cache_seconds),
                                  tokens=TokenVerifier(settings.b2b_jwt_issuers),
                                  balances=balances.cache_of(settings.b2b_balance_cache_url,
                                                             settings.b2b_balance_cache_seconds),
                                  shadow=ShadowTap(db, cache, settings.shadow_queue_size,
                                                   settings.shadow_check_seconds))
    problems.install(app)
    for module in (checkout, members, campaigns, reports, redemptions, rulesets, audit, health,
                   b2b_orders, b2b_fulfilment):
        app.include_router(module.router)
    app.include_router(b2b_fulfilment.callbacks_router)
    for module in (admin, auto_redemption, fulfilment, member_admin, shadow,  # a program's
                   inventory):  # lifecycle operations
        app.include_router(module.router, prefix="/v1/programs/{program}")
    for b2b_router in (b2b_admin.router, b2b_portal.router, b2b_portal.company_admin_router):
        app.include_router(b2b_router, prefix="/v1/programs/{program}")  # the B2B portal
    app.add_middleware(ObserveMiddleware, max_body_bytes=settings.max_body_bytes,
                       large_paths={"/v1/rulesets": settings.max_ruleset_bytes,
                                    "/console/publish": settings.max_ruleset_bytes})
    app.state.scheduler = None  # the background jobs' Scheduler while the app runs
    docs_ui.install(app)
    console.install(app)  # the web console at /console
    _document_security(app)
    return app


UNKEYED = frozenset({"/v1/fulfilment/callbacks"})


def _document_security(app: FastAPI) -> None:
    """Bearer auth in the OpenAPI document: every /v1 operation needs a key."""
    build = app.openapi

    def openapi() -> dict:  # type: ignore[type-arg]
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEME
            for path, operations in schema["paths"].items():
                for operation in operations.values():
                    signed = path in UNKEYED  # authenticated otherwise (a signature)
                    operation["security"] = [{"bearer": []}] if path.startswith("/v1") \
                        and not signed else []
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


GRACE_SECONDS = 30.0  # how long an ending worker may take to finish its requests
log = logging.getLogger("loyalty.api")


def end_this_worker(reason: str) -> None:
    """The rule engine of this process is unusable: shut the worker down gracefully (the
    requests in flight, the one that met the failure included, get their answers — a 503
    where they need the engine) so that the supervisor of `loyalty serve` starts a fresh
    one; if the shutdown hangs, exit anyway."""
    log.critical("%s; ending worker %d so that a fresh one replaces it", reason, os.getpid())
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful shutdown
    deadline = threading.Timer(GRACE_SECONDS, os._exit, (70,))  # 70: EX_SOFTWARE
    deadline.daemon = True
    deadline.start()


def app_from_env() -> FastAPI:
    """Entry point for uvicorn workers (`api.app:app_from_env`, factory mode)."""
    rules_engine.on_fatal(end_this_worker)
    return create_app()
