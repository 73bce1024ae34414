"""The order commit's route, lighter than FastAPI's generic handling of a request.

FastAPI's generic handler reads the body with the standard JSON decoder, resolves the
route's dependency chain (the path, the services, the key) and validates the body with
the API's models. `CommitRoute` does the same work more directly for a request that needs
nothing else: a body sent as `application/json` is decoded with orjson and validated once
with the same model (`CommitIn`); the program id in the path with the same type; the key
is checked by the same `require` as every route; and the same handler function is then
called, in the threadpool as FastAPI calls it. So the request hash of the order (taken
over the model's normal form, `CommitIn.engine_request`) is the same whichever way a
request arrives, and a retry through either route replays the first commit.

Anything else — another content type, malformed JSON, JSON orjson refuses (NaN, a lone
surrogate), a document the model refuses, a bad program id — goes to FastAPI's generic
handler of the same route, which answers it exactly as before (problem JSON from the
models' located errors). tests/api/test_commit_route.py sends documents both ways and
compares the answers.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from pydantic import ValidationError

from api.deps import require
from api.quote_route import json_object
from api.schemas import CommitIn


def _well_formed(request: Request, body: bytes) -> tuple[str, CommitIn] | None:
    """(program, validated body) when the request needs nothing but the model; None
    sends it to the generic handler."""
    found = json_object(request, body)
    if found is None:
        return None
    try:
        return found[0], CommitIn.model_validate(found[1])
    except ValidationError:
        return None


class CommitRoute(APIRoute):
    """`POST /v1/programs/{program}/orders` (see the module's docstring). The route's
    endpoint takes (program, body, services, key), as FastAPI passes them."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        generic = super().get_route_handler()
        authorize = require("commit")
        endpoint = self.endpoint

        async def handle(request: Request) -> Response:
            found = _well_formed(request, await request.body())
            if found is None:
                return await generic(request)
            program, body = found
            key = await authorize(request)
            response: Response = await run_in_threadpool(
                endpoint, program, body, request.app.state.services, key)
            return response

        return handle
