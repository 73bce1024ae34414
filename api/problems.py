"""The one error shape of the HTTP API: RFC 9457 problem details.

Every error response — validation, auth, domain refusals, unknown routes, oversize
bodies, unexpected failures — is rendered by `problem()`, so clients parse one shape:
`type`, `title`, `status`, `detail`, `code` (stable, machine-readable), `instance`, and
where the problem is in the request, `pointer` (RFC 6901) and/or `errors[]`.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine import RequestInvalid
from engine.errors import RulesetInvalid, parse_path
from engine.lifecycle import MemberInactive
from engine.rules.adapter import EngineFatal
from store.errors import StoreError

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("loyalty.api")


class ProblemResponse(JSONResponse):
    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        # ASCII-escaped: a problem may quote a key holding a lone surrogate, which cannot
        # be encoded as UTF-8 (and would turn a 422 into a 500).
        return json.dumps(content, ensure_ascii=True, allow_nan=False,
                          separators=(",", ":")).encode("ascii")


class ApiProblem(Exception):
    """Raised by the API layer itself (auth, limits)."""

    def __init__(self, status: int, code: str, detail: str, pointer: str | None = None,
                 headers: dict[str, str] | None = None,
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.pointer = status, code, detail, pointer
        self.headers, self.errors = headers, errors


def problem(request: Request, status: int, code: str, detail: str, *, pointer: str | None = None,
            errors: list[dict[str, Any]] | None = None,
            headers: dict[str, str] | None = None) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.url.path,
    }
    if pointer is not None:
        body["pointer"] = pointer
    if errors:
        body["errors"] = errors
    return ProblemResponse(body, status_code=status, headers=headers)


def json_path_to_pointer(path: str) -> str:
    """`$.order.lines[2].unit_price` → `/order/lines/2/unit_price` (RFC 6901)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parse_path(path))


def _loc_error(err: dict[str, Any]) -> dict[str, Any]:
    loc = list(err.get("loc", ()))
    where = loc[0] if loc else "body"
    rest = [str(p) for p in loc[1:]]
    out: dict[str, Any] = {"message": err.get("msg", "invalid"), "type": err.get("type")}
    if where == "body":
        out["pointer"] = "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in rest)
    else:
        out["parameter"] = rest[0] if rest else str(where)
        out["in"] = where
    return out


async def _validation(request: Request, exc: RequestValidationError) -> ProblemResponse:
    raw = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in raw):
        return problem(request, 400, "malformed_json", "the request body is not valid JSON")
    errors = [_loc_error(e) for e in raw]
    first = errors[0] if errors else {}
    return problem(request, 422, "invalid_request",
                   f"{len(errors)} problem(s) in the request; see errors[]",
                   pointer=first.get("pointer"), errors=errors)


async def _engine_request(request: Request, exc: RequestInvalid) -> ProblemResponse:
    errors = [{"pointer": json_path_to_pointer(p), "path": p, "message": m} for p, m in exc.errors]
    return problem(request, 422, exc.code, str(exc),
                   pointer=errors[0]["pointer"] if errors else None, errors=errors)


async def _ruleset(request: Request, exc: RulesetInvalid) -> ProblemResponse:
    errors = [{**e.to_dict(), "text": str(e)} for e in exc.errors]
    return problem(request, 422, "invalid_ruleset",
                   f"{len(errors)} problem(s) in the ruleset; see errors[]",
                   pointer="/sources", errors=errors)


async def _store(request: Request, exc: StoreError) -> ProblemResponse:
    return problem(request, exc.status, exc.code, exc.message, pointer=exc.pointer,
                   errors=exc.errors)


async def _inactive(request: Request, exc: MemberInactive) -> ProblemResponse:
    # a suspended or closed member asked to earn or redeem (engine/lifecycle/status.py)
    return problem(request, 409, exc.code, exc.message, pointer="/member/id")


async def _api(request: Request, exc: ApiProblem) -> ProblemResponse:
    return problem(request, exc.status, exc.code, exc.detail, pointer=exc.pointer,
                   errors=exc.errors, headers=exc.headers)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large",
               400: "bad_request", 401: "unauthenticated", 403: "forbidden"}


async def _http(request: Request, exc: StarletteHTTPException) -> ProblemResponse:
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
    return problem(request, exc.status_code, code, detail, headers=getattr(exc, "headers", None))


async def _engine_fatal(request: Request, exc: EngineFatal) -> ProblemResponse:
    # The worker ends itself once this answer is on its way (api/app.py) and the
    # supervisor of `loyalty serve` starts a fresh one: the client retries.
    log.error("%s %s: %s", request.method, request.url.path, exc)
    return problem(request, 503, "engine_restarting",
                   "the rule engine of this worker failed and the worker is being replaced; "
                   "retry the request", headers={"Retry-After": "1", "Connection": "close"})


async def _unexpected(request: Request, exc: Exception) -> ProblemResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(request, 500, "internal_error", "the server failed to handle this request")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(RequestInvalid, _engine_request)  # type: ignore[arg-type]
    app.add_exception_handler(RulesetInvalid, _ruleset)  # type: ignore[arg-type]
    app.add_exception_handler(StoreError, _store)  # type: ignore[arg-type]
    app.add_exception_handler(ApiProblem, _api)  # type: ignore[arg-type]
    app.add_exception_handler(MemberInactive, _inactive)  # type: ignore[arg-type]
    app.add_exception_handler(EngineFatal, _engine_fatal)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
