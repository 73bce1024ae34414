"""Rendering the B2B portal's pages: its layout, navigation and error pages.

The portal is built like the console (api/console): server-rendered, autoescaped, no
script, the console's stylesheet, the same security headers. Its session cookie is its own
(`loyalty_portal`, path `/portal`, signed under its own salt).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from api.console.render import SECURITY_HEADERS, ConsoleRoute, redirect
from api.console.render import TEMPLATES as CONSOLE_TEMPLATES
from api.console.session import Session, Sessions
from api.deps import Services
from api.portal.cart import Carts
from store.b2b.principals import Manager
from store.console_secret import stored_secret

PREFIX = "/portal"
COOKIE = "loyalty_portal"


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str
    role: str = "viewer"  # the role a manager needs to see the link


NAV = (
    NavItem("Company", f"{PREFIX}/company"),
    NavItem("Catalog", f"{PREFIX}/catalog"),
    NavItem("Cart", f"{PREFIX}/cart", role="requester"),
    NavItem("Orders", f"{PREFIX}/orders"),
    NavItem("Approvals", f"{PREFIX}/approvals", role="approver"),
)

TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
TEMPLATES.filters.update(CONSOLE_TEMPLATES.filters)


@dataclass(frozen=True)
class PortalUser:
    """The logged-in account manager and their session."""

    manager: Manager
    session: Session
    name: str = ""


class PortalState:
    """Per process: the portal's session signer, made on first use."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._signers: tuple[Sessions, Carts] | None = None
        self._lock = threading.Lock()

    def _made(self) -> tuple[Sessions, Carts]:
        with self._lock:
            if self._signers is None:
                settings = self.services.settings
                secret = settings.console_secret or stored_secret(self.services.db)
                self._signers = (Sessions(secret, settings.console_session_minutes * 60,
                                          cookie=COOKIE, path=PREFIX, purpose="portal"),
                                 Carts(secret))
            return self._signers

    @property
    def sessions(self) -> Sessions:
        return self._made()[0]

    @property
    def carts(self) -> Carts:
        return self._made()[1]


def state(request: Request) -> PortalState:
    return request.app.state.portal  # type: ignore[no-any-return]


def page(request: Request, template: str, user: PortalUser | None, *,
         session: Session | None = None, status: int = 200, **context: Any) -> HTMLResponse:
    """Render `template` in the portal's layout; forms carry `{{ csrf_field() }}`."""
    session = session or (user.session if user else None)
    token = state(request).sessions.csrf_token(session) if session else ""
    field = Markup('<input type="hidden" name="csrf" value="{}">').format(token)
    nav = [n for n in NAV if user is not None and user.manager.may(n.role)]
    html = TEMPLATES.get_template(template).render(
        request=request, user=user, csrf_field=lambda: field, nav=nav,
        path=request.url.path, **context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def error_page(request: Request, status: int, message: str,
               details: list[str] | None = None) -> HTMLResponse:
    user = getattr(request.state, "portal_user", None)
    title = {404: "Not found", 401: "Refused", 403: "Refused", 409: "Refused"}.get(
        status, "Could not do that")
    return page(request, "error.html", user, status=status, title=title, message=message,
                details=details or [])


def login_redirect(request: Request, reason: str) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = urlsplit(request.headers.get("referer", "")).path or PREFIX
    return redirect(f"{PREFIX}/login", next=target, reason=reason or None)


class PortalRoute(ConsoleRoute):
    """Portal routes answer in HTML, with the portal's login form and layout."""

    login = staticmethod(login_redirect)
    error = staticmethod(error_page)
