"""A member's notification preferences and the messages planned for them; the unsubscribe
link of marketing emails (no key: the signed token is the authority)."""

from __future__ import annotations

from html import escape
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import Field

import store.notify.messages as messages
import store.notify.preferences as preferences
from api.deps import ApiKeyDep, CommitKey, StoreDep
from api.ids import ProseCheck
from api.render import Json
from api.routes.checkout import ProgramPath
from api.routes.members import Cursor, Limit, MemberPath, Since, Until, _range
from api.schemas import Strict
from store.notify.unsubscribe import Unsubscriber

router = APIRouter(prefix="/v1/programs/{program}", tags=["notifications"])
public = APIRouter(tags=["notifications"])  # no key: see api.app PUBLIC_PATHS

Channel = Literal["email", "webhook"]
Status = Literal["pending", "sending", "sent", "deferred", "suppressed", "failed"]
LOCALE = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$"
# one address, nothing a To header would read as a second one or a display name
EMAIL = r"^[^@\s\x00-\x1f\x7f,;:<>()\[\]\\\"]{1,64}@[^@\s\x00-\x1f\x7f,;:<>()\[\]\\\"]{1,253}$"


class PreferencesIn(Strict):
    """Fields left out keep their value."""

    channels: list[Channel] = Field(
        default_factory=list, max_length=10, description="channels the member accepts messages on "
        "(`email`, `webhook`: SMS and push); [] for none")
    locale: str | None = Field(None, pattern=LOCALE, max_length=35,
                               description="BCP 47 language tag (`es`, `pt-BR`); null: the "
                               "program's default")
    email: Annotated[str, ProseCheck] | None = Field(
        None, pattern=EMAIL, max_length=254, description="the address emails go to; null: none")
    marketing_opt_out: bool = Field(
        False, description="true: no marketing messages (transactional ones are still sent)")


@router.get("/members/{member_id}/preferences",
            summary="The member's notification preferences (channels, locale, email, "
            "marketing opt-out)")
def get_preferences(program: ProgramPath, member_id: MemberPath, services: StoreDep,
                    key: ApiKeyDep) -> Json:
    services.limiter.check_member(program, member_id, "read")
    return Json(preferences.show(services.db, program, member_id))


@router.put("/members/{member_id}/preferences",
            summary="Set the member's notification preferences; fields left out keep their value")
def put_preferences(program: ProgramPath, member_id: MemberPath, body: PreferencesIn,
                    services: StoreDep, key: CommitKey) -> Json:
    services.limiter.check_member(program, member_id, "write")
    return Json(preferences.change(services.db, program, member_id,
                                **body.model_dump(exclude_unset=True)))


@router.get("/members/{member_id}/messages",
            summary="Messages planned for the member, newest first: channel, event, template, "
            "locale, status (sent, deferred, suppressed, failed…) and why")
def member_messages(program: ProgramPath, member_id: MemberPath, services: StoreDep,
                    key: ApiKeyDep, cursor: Cursor = None, limit: Limit = 50,
                    since: Since = None, until: Until = None,
                    status: Annotated[Status | None, Query()] = None,
                    channel: Annotated[Channel | None, Query()] = None) -> Json:
    services.limiter.check_member(program, member_id, "read")
    _range(since, until)
    after = int(cursor) if cursor else None
    return Json(messages.member_page(services.db, program, member_id, after, limit, since,
                                     until, status, channel))


Token = Annotated[str, Path(max_length=2000, description="the token of the unsubscribe link")]


_PAGE = ("<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">"
         "<meta name=\"robots\" content=\"noindex\"><title>{title}</title>{body}</html>")


@public.get("/v1/unsubscribe/{token}", response_class=HTMLResponse,
            summary="The unsubscribe page of the link in marketing emails (no key): it asks to "
            "confirm and changes nothing itself")
def unsubscribe_page(token: Token, services: StoreDep) -> HTMLResponse:
    # Mail scanners and link previews follow links: a GET only checks the token and asks;
    # the button (a POST to the same address) unsubscribes.
    program, _ = Unsubscriber.of(services.settings, services.db).check(services.db, token)
    return HTMLResponse(_PAGE.format(title="Unsubscribe", body=(
        f"<form method=\"post\"><p>Stop marketing messages from {escape(program)}? Messages "
        "about your account (orders, points, redemptions) still reach you.</p>"
        "<button type=\"submit\">Unsubscribe</button></form>")))


@public.post("/v1/unsubscribe/{token}",
             summary="Unsubscribe from marketing messages: the page's button, or the mail "
             "client's one click (RFC 8058 `List-Unsubscribe-Post`); no key",
             response_model=None)
def unsubscribe_one_click(token: Token, request: Request,
                          services: StoreDep) -> Json | HTMLResponse:
    done = Unsubscriber.of(services.settings, services.db).unsubscribe(services.db, token)
    if "text/html" in request.headers.get("accept", ""):  # the page's button, in a browser
        return HTMLResponse(_PAGE.format(title="Unsubscribed", body=(
            f"<p>You will receive no more marketing messages from {escape(done['program'])}. "
            "Messages about your account (orders, points, redemptions) still reach you.</p>")))
    return Json(done)
