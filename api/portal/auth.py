"""Who is using the portal: an account manager logs in with their personal key
(`lmk_…`, issued by `loyalty managers key`), and the dependencies that give a page
its user (`User`), admit a role (`requester`, `approver`) and check a form's CSRF token.

A session is re-checked on every request through the API's manager-key cache: revoking the
key, or deactivating the manager or their company, ends it within the cache's seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from api.console.principal import Refused
from api.console.render import LoginRequired, redirect
from api.console.session import Session
from api.portal.render import COOKIE, PREFIX, PortalRoute, PortalUser, page, state
from store.b2b.principals import Manager
from store.registry.keys import hash_key

REASONS = {
    "expired": "Your session has ended; log in again.",
    "revoked": "Your key was revoked, or your account or company was deactivated.",
    "logged_out": "You are logged out.",
}

router = APIRouter(route_class=PortalRoute)


def _manager(request: Request, digest: str | None) -> Manager | None:
    if digest is None:
        return None
    services = state(request).services
    return services.manager_keys.verify(services.db, digest)


def current(request: Request) -> PortalUser:
    """The manager of a valid session, or a redirect to the login form."""
    session = state(request).sessions.read(request)
    if session is None or session.key_digest is None:
        raise LoginRequired("expired" if COOKIE in request.cookies else "")
    manager = _manager(request, session.key_digest)
    if manager is None:
        raise LoginRequired("revoked")
    user = PortalUser(manager, session)
    request.state.portal_user = user  # for error pages' navigation
    return user


User = Annotated[PortalUser, Depends(current)]


def role(needed: str) -> Callable[[PortalUser], PortalUser]:
    def check(user: User) -> PortalUser:
        if not user.manager.may(needed):
            raise Refused(403, f"This needs the {needed} role; you are a {user.manager.role}.")
        return user
    return check


def _checked(request: Request, user: PortalUser, csrf: str) -> PortalUser:
    if not state(request).sessions.csrf_ok(user.session, csrf):
        raise Refused(403, "The form's security token is missing or stale. Reload the page "
                           "and try again.")
    return user


def user_form(request: Request, user: User, csrf: Annotated[str, Form()] = "") -> PortalUser:
    return _checked(request, user, csrf)


def requester_form(request: Request, user: Annotated[PortalUser, Depends(role("requester"))],
                   csrf: Annotated[str, Form()] = "") -> PortalUser:
    return _checked(request, user, csrf)


def approver_form(request: Request, user: Annotated[PortalUser, Depends(role("approver"))],
                  csrf: Annotated[str, Form()] = "") -> PortalUser:
    return _checked(request, user, csrf)


UserForm = Annotated[PortalUser, Depends(user_form)]
Requester = Annotated[PortalUser, Depends(role("requester"))]
RequesterForm = Annotated[PortalUser, Depends(requester_form)]
Approver = Annotated[PortalUser, Depends(role("approver"))]
ApproverForm = Annotated[PortalUser, Depends(approver_form)]


def _safe_next(target: str) -> str:
    if target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return f"{PREFIX}/company"


@router.get("/login", summary="The portal's login form")
def login_form(request: Request, next: str = "", reason: str = "") -> Response:
    sessions = state(request).sessions
    session = sessions.read(request)
    if session is not None and _manager(request, session.key_digest) is not None:
        return redirect(_safe_next(next))
    fresh = session if session is not None and session.key_digest is None else Session.anonymous()
    response = page(request, "login.html", None, session=fresh, next=_safe_next(next),
                    notice=REASONS.get(reason, ""), error="")
    sessions.write(request, response, fresh)
    return response


@router.post("/login", summary="Log in with an account manager's personal key")
def login(request: Request, key: Annotated[str, Form()] = "",
          csrf: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "") -> Response:
    sessions = state(request).sessions
    target = _safe_next(next)

    def again(status: int, error: str) -> Response:
        fresh = Session.anonymous()
        response = page(request, "login.html", None, session=fresh, status=status,
                        next=target, notice="", error=error)
        sessions.write(request, response, fresh)
        return response

    if not sessions.csrf_ok(sessions.read(request), csrf):
        return again(403, "The login form had expired. Enter the key again.")
    digest = hash_key(key.strip()) if key.strip() else None
    if _manager(request, digest) is None or digest is None:
        return again(401, "That key is unknown or revoked, or its account is deactivated.")
    response = redirect(target)
    sessions.write(request, response, Session.logged_in(digest))
    return response


@router.post("/logout", summary="End the portal session")
def logout(request: Request, user: UserForm) -> Response:
    response = redirect(f"{PREFIX}/login", reason="logged_out")
    state(request).sessions.clear(request, response)
    return response
