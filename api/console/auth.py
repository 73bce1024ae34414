"""Who is using the console: log in with an API key, log out, and the dependencies that give
a page its principal (`Viewer`), refuse viewers an admin action (`Admin`), and check a form's
CSRF token (`ViewerForm`, `AdminForm`).

Keys with the `viewer` scope may read every page; keys with `admin` may also publish,
approve, activate and roll back. A key bound to one program sees that program only. Other
keys (a checkout's `evaluate`/`commit`, `redeem`) cannot log in.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

import store.registry.keys as keys
from api.console.principal import Principal, Refused
from api.console.render import (
    PREFIX,
    ConsoleRoute,
    LoginRequired,
    page,
    redirect,
    state,
)
from api.console.session import COOKIE, Session

CONSOLE_SCOPES = ("admin", "viewer")  # strongest first
REASONS = {
    "expired": "Your session has ended; log in again.",
    "revoked": "The key of your session was revoked or no longer opens the console.",
    "logged_out": "You are logged out.",
}

router = APIRouter(route_class=ConsoleRoute)


def console_role(key: keys.ApiKey) -> str | None:
    return next((s for s in CONSOLE_SCOPES if s in key.scopes), None)


def _key_of(request: Request, digest: str) -> keys.ApiKey | None:
    services = state(request).services
    return services.key_cache.verify_digest(services.db, digest)


def _console_key(request: Request, session: Session | None) -> keys.ApiKey | None:
    """The key of a logged-in session while it is live and may open the console."""
    if session is None or session.key_digest is None:
        return None
    key = _key_of(request, session.key_digest)
    return key if key is not None and console_role(key) is not None else None


def current(request: Request) -> Principal:
    """The principal of a valid session, or a redirect to the login form."""
    session = state(request).sessions.read(request)
    if session is None or session.key_digest is None:
        raise LoginRequired("expired" if COOKIE in request.cookies else "")
    key = _console_key(request, session)
    if key is None:
        raise LoginRequired("revoked")
    principal = Principal(key, session)
    request.state.console_principal = principal  # for error pages' navigation
    return principal


Viewer = Annotated[Principal, Depends(current)]


def admin(principal: Viewer) -> Principal:
    if not principal.is_admin:
        raise Refused(403, "This action needs a key with the admin scope; you are logged in "
                           "with a viewer key, which may only read.")
    return principal


Admin = Annotated[Principal, Depends(admin)]


def _checked(request: Request, principal: Principal, csrf: str) -> Principal:
    if not state(request).sessions.csrf_ok(principal.session, csrf):
        raise Refused(403, "The form's security token is missing or stale (the form was not "
                           "sent from this console session). Reload the page and try again.")
    return principal


def viewer_form(request: Request, principal: Viewer,
                csrf: Annotated[str, Form()] = "") -> Principal:
    return _checked(request, principal, csrf)


def admin_form(request: Request, principal: Admin,
               csrf: Annotated[str, Form()] = "") -> Principal:
    return _checked(request, principal, csrf)


ViewerForm = Annotated[Principal, Depends(viewer_form)]
AdminForm = Annotated[Principal, Depends(admin_form)]


def _safe_next(target: str) -> str:
    """Back to a console page only (never to another site)."""
    if target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return f"{PREFIX}/programs"


@router.get("/login", summary="The console's login form")
def login_form(request: Request, next: str = "", reason: str = "") -> Response:
    sessions = state(request).sessions
    session = sessions.read(request)
    if _console_key(request, session) is not None:
        return redirect(_safe_next(next))
    fresh = session if session is not None and session.key_digest is None else Session.anonymous()
    response = page(request, "login.html", None, session=fresh, next=_safe_next(next),
                    notice=REASONS.get(reason, ""), error="")
    sessions.write(request, response, fresh)
    return response


@router.post("/login", summary="Log in with an API key that has the viewer or admin scope")
def login(request: Request, key: Annotated[str, Form()] = "",
          csrf: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "") -> Response:
    sessions = state(request).sessions
    session = sessions.read(request)
    target = _safe_next(next)

    def again(status: int, error: str) -> Response:
        fresh = Session.anonymous()
        response = page(request, "login.html", None, session=fresh, status=status,
                        next=target, notice="", error=error)
        sessions.write(request, response, fresh)
        return response

    if not sessions.csrf_ok(session, csrf):
        return again(403, "The login form had expired. Enter the key again.")
    digest = keys.hash_key(key.strip())
    found = _key_of(request, digest) if key.strip() else None
    if found is None:
        return again(401, "That key is unknown or revoked.")
    if console_role(found) is None:
        return again(403, f"Key {found.prefix}… has the scopes {', '.join(sorted(found.scopes))}; "
                          "the console needs a key with the viewer or admin scope.")
    response = redirect(target)
    sessions.write(request, response, Session.logged_in(digest))
    return response


@router.post("/logout", summary="End the console session")
def logout(request: Request, principal: ViewerForm) -> Response:
    response = redirect(f"{PREFIX}/login", reason="logged_out")
    state(request).sessions.clear(request, response)
    return response
