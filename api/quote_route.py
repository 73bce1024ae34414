"""The quote's route, lighter than FastAPI's generic handling of a request.

A quote is the API's most frequent request, and most of its cost used to be around the
evaluation: FastAPI's generic handler resolves the dependency chain and validates the
body with the API's models (api/schemas.py), the handler dumps the model back to a dict,
walks it for instants, and the engine's parser then checks the same document again.

`QuoteRoute` checks a well-formed request once, with the engine's parser
(engine/evaluation/request.py `parse`, which calls the same contract functions as the
models; tests/engine/test_contract.py holds the two to the same verdict on generated
documents), then authenticates and rate-limits with the same `require` check as every
route, and answers through the same handler code (`answer_quote`). Anything else — a
body that is not `application/json`, malformed JSON, a document the parser refuses, a
bad path — goes to FastAPI's generic handler of the same route, which answers it exactly
as before (problem JSON from the models' located errors). The route's declared
signature still documents the body in OpenAPI, and the metrics middleware sees both
paths alike.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError

import engine.evaluation.contract as contract
import store.checkout.orders as orders
from api.deps import Services, require
from api.instants import refuse_future_instants
from api.metrics import record_evaluation
from api.render import Json
from api.schemas import EvaluationIn, ProgramId
from engine.evaluation.request import Request as EngineRequest
from engine.evaluation.request import RequestInvalid, parse

_PROGRAM: TypeAdapter[str] = TypeAdapter(ProgramId)


async def answer_quote(services: Services, program: str, request: dict[str, Any],
                       parsed: EngineRequest, pinned: int | None,
                       shadow_request: Callable[[], dict[str, Any]]) -> Json:
    """The quote after its request is read: the server-clock bound, the member's rate
    limit, the evaluation, metrics, and the request offered to a version in shadow
    (`shadow_request` gives it in the API's normal form, only when one is watching)."""
    instants = [("/order/placed_at", parsed.order.placed_at)] if parsed.order else []
    if parsed.as_of is not None:
        instants.append(("/as_of", parsed.as_of))
    refuse_future_instants(instants, services.settings.max_future_skew_seconds)
    services.limiter.check_member(program, str(parsed.member["id"]), "quote")
    # Runs on the event loop, not in a thread: a quote is one indexed read and the engine
    # (one evaluation at a time per process anyway); workers scale it. A program whose
    # balances live in an external points API is quoted in a thread instead, so that
    # API's latency never blocks the loop.
    try:
        result = orders.quote(services.db, services.cache, program, request, pinned,
                              may_call_out=False, parsed=parsed)
    except orders.CallsOut:
        result = await run_in_threadpool(orders.quote, services.db, services.cache, program,
                                         request, pinned, True, parsed)
    record_evaluation(result, "quote")
    response = Json(result)  # rendered now: what follows cannot change the answer
    run = services.shadow.watching(program)
    if run is not None:  # queued (never waited for) for the version in shadow
        services.shadow.offer(run, "quote", shadow_request(), result)
    return response


def json_object(request: Request, body: bytes) -> tuple[str, dict[str, Any]] | None:
    """(program, document) of a request under /v1/programs/{program} whose body is sent
    as `application/json` and decodes (with orjson) to a JSON object; None otherwise
    (a light route then hands the request to its generic handler)."""
    if request.headers.get("content-type") != "application/json":
        return None
    try:
        program = _PROGRAM.validate_python(request.path_params.get("program"))
        data = orjson.loads(body)
    except (ValidationError, orjson.JSONDecodeError):
        return None
    return (program, data) if type(data) is dict else None


def _well_formed(request: Request, body: bytes) -> tuple[str, dict[str, Any],
                                                          EngineRequest] | None:
    """(program, document, parsed request) when the request needs nothing but the
    engine's parser; None sends it to the generic handler."""
    found = json_object(request, body)
    if found is None:
        return None
    try:
        return found[0], found[1], parse(found[1])
    except RequestInvalid:
        return None


class QuoteRoute(APIRoute):
    """`POST /v1/programs/{program}/evaluate` (see the module's docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        generic = super().get_route_handler()
        authorize = require("evaluate")

        async def handle(request: Request) -> Response:
            found = _well_formed(request, await request.body())
            if found is None:
                return await generic(request)
            program, data, parsed = found
            await authorize(request)
            pinned = data.get("ruleset_version")
            if pinned is not None:
                pinned = contract.whole(pinned, 1, contract.VERSION_LIMIT)
            return await answer_quote(
                request.app.state.services, program, data, parsed, pinned,
                lambda: EvaluationIn.model_validate(data).engine_request())

        return handle
