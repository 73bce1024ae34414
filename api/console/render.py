"""Rendering console pages: the templates, the layout's navigation, the error pages, and the
route class that turns refusals and store errors into HTML instead of problem+json.

Pages render with `page(request, "name.html", principal, **context)`; templates extend
`base.html`. Everything is autoescaped. Responses carry a Content-Security-Policy that
allows this origin only: the console loads nothing from elsewhere and runs no inline script.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from markupsafe import Markup
from pydantic import BeforeValidator
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from api.console.principal import Principal, Refused
from api.console.session import Session, Sessions
from api.deps import Services
from store.console_secret import stored_secret
from store.errors import StoreError

PREFIX = "/console"
# On an optional query or form field: an empty field means "not given".
BlankIsNone = BeforeValidator(lambda value: value or None)
STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    admin_only: bool = False


# The layout's navigation, in order. A page module adds nothing here but its link.
NAV = (
    NavItem("Programs", f"{PREFIX}/programs"),
    NavItem("Publish", f"{PREFIX}/publish", admin_only=True),
    NavItem("Simulations", f"{PREFIX}/simulations"),
    NavItem("Members", f"{PREFIX}/members"),
    NavItem("Audit log", f"{PREFIX}/audit", admin_only=True),
    NavItem("API docs", "/docs"),
)


def _instant(value: Any) -> str:
    """An instant as `2026-11-30 18:05:02 UTC` (ISO strings or datetimes; None: —)."""
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        return str(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + (moment.tzname() or "")


def _setting(value: Any) -> str:
    """A setting's value in a diff: text as is, numbers exactly, the rest as JSON."""
    if value is None:
        return "—"
    if isinstance(value, str | Decimal | int | float | bool):
        return str(value)
    return json.dumps(value, default=str, ensure_ascii=False)


TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
TEMPLATES.filters["instant"] = _instant
TEMPLATES.filters["setting"] = _setting


class ConsoleState:
    """Per process: the session signer, made on first use (the secret may need the database)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._sessions: Sessions | None = None
        self._lock = threading.Lock()

    @property
    def sessions(self) -> Sessions:
        with self._lock:
            if self._sessions is None:
                settings = self.services.settings
                secret = settings.console_secret or stored_secret(self.services.db)
                self._sessions = Sessions(secret, settings.console_session_minutes * 60)
            return self._sessions


def state(request: Request) -> ConsoleState:
    return request.app.state.console  # type: ignore[no-any-return]


class LoginRequired(Exception):
    """No valid session: the page redirects to the login form (then back)."""

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


def page(request: Request, template: str, principal: Principal | None, *,
         session: Session | None = None, status: int = 200, **context: Any) -> HTMLResponse:
    """Render `template` in the layout. `session` (default: the principal's) signs the CSRF
    token that forms carry as `{{ csrf_field() }}`."""
    session = session or (principal.session if principal else None)
    token = state(request).sessions.csrf_token(session) if session else ""
    field = Markup('<input type="hidden" name="csrf" value="{}">').format(token)
    html = TEMPLATES.get_template(template).render(
        request=request, principal=principal, csrf_token=token, csrf_field=lambda: field,
        nav=[n for n in NAV if principal is None or principal.is_admin or not n.admin_only],
        path=request.url.path, **context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def redirect(path: str, **query: Any) -> RedirectResponse:
    """303 to a console page after a form (`query` values that are None are left out)."""
    shown = {k: v for k, v in query.items() if v is not None}
    return RedirectResponse(path + (f"?{urlencode(shown)}" if shown else ""), status_code=303,
                            headers={"Cache-Control": "no-store"})


def error_page(request: Request, status: int, message: str,
               details: list[str] | None = None) -> HTMLResponse:
    principal = getattr(request.state, "console_principal", None)
    title = {404: "Not found", 401: "Refused", 403: "Refused", 409: "Refused"}.get(
        status, "Could not do that")
    return page(request, "error.html", principal, status=status, title=title, message=message,
                details=details or [])


def login_redirect(request: Request, reason: str) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":  # back to the page the form was on
        target = urlsplit(request.headers.get("referer", "")).path or PREFIX
    return redirect(f"{PREFIX}/login", next=target, reason=reason or None)


def _validation_details(exc: RequestValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ())[1:]) or "request"
        out.append(f"{where}: {err.get('msg', 'invalid')}")
    return out


class ConsoleRoute(APIRoute):
    """Console routes answer in HTML: a missing session redirects to the login form, a
    refusal or a store error (unknown program, conflict, …) is an error page with its status
    and message, invalid query or form fields a 422 page naming each field."""

    # What the B2B portal's pages (api/portal) answer differently: their own login form
    # and their own layout around an error.
    login = staticmethod(login_redirect)
    error = staticmethod(error_page)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        login, error = self.login, self.error

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                return login(request, exc.reason)
            except Refused as exc:
                return error(request, exc.status, exc.message)
            except StoreError as exc:
                return error(request, exc.status, exc.message)
            except RequestValidationError as exc:
                return error(request, 422, "Some fields of the request are not valid.",
                             _validation_details(exc))

        return run


def query_of(request: Request, **changes: Any) -> str:
    """The current query string with `changes` (None removes a field): paging links."""
    params: Mapping[str, Any] = {**request.query_params, **changes}
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})
