"""For tests only: the app `loyalty serve` runs (api.app:app_from_env), plus routes that
put this worker's rule engine into its fatal state for real.

`POST /test/exhaust-engine` opens durable-rules sessions of every ruleset registered for
the retail program and never deletes them, until the native engine refuses one more
(MemoryError at 1,024 live sessions), then forgets the cached decisions: the next quote
asks the engine and meets MemoryError in `rules_engine.fire`. `GET /test/pid` says which
worker answers."""

from __future__ import annotations

import itertools
import os
from typing import Any

from fastapi import FastAPI

from api.app import app_from_env
from engine.rules import adapter as rules_engine


def create() -> FastAPI:
    app = app_from_env()

    @app.get("/test/pid")
    def pid() -> dict[str, Any]:
        return {"pid": os.getpid()}

    @app.post("/test/exhaust-engine")
    def exhaust() -> dict[str, Any]:
        leaked = 0
        with rules_engine._LOCK:
            for name in sorted(n for n in rules_engine._REGISTERED if n.startswith("retail@")):
                for i in itertools.count():
                    try:
                        rules_engine._HOST.assert_fact(name, {"kind": "fact",
                                                              "sid": f"leak-{i}"})
                    except MemoryError:
                        break
                    leaked += 1
        for program in app.state.services.cache._compiled.values():
            program.compiled.order.cache.clear()
            program.compiled.line.cache.clear()
        return {"pid": os.getpid(), "leaked": leaked}

    return app
