"""Webhook subscriptions (admin): where domain events are delivered, signed per Standard
Webhooks, and each subscription's deliveries with a redeliver call."""

from __future__ import annotations

from typing import Annotated, Literal

import httpx
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field, field_validator

import store.events.webhooks as webhooks
from api.deps import StoreDep, require
from api.ids import RowId, Text
from api.problems import ApiProblem
from api.render import Json
from api.schemas import ProgramId, Strict
from engine.events import EVENT_TYPES
from store.events.addresses import refused
from store.events.delivery import WebhookSettings
from store.registry.keys import ApiKey

_admin = require("admin")


async def _every_program_admin(request: Request) -> ApiKey:
    """Subscriptions may span programs: they take an admin key bound to no program."""
    key = await _admin(request)
    if key.program is not None:
        raise ApiProblem(403, "forbidden_program", f"this key serves program {key.program!r} "
                         "only; webhook subscriptions take a key that serves every program")
    return key


AdminKey = Annotated[ApiKey, Depends(_every_program_admin)]
router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
WebhookPath = Annotated[RowId, Path(description="webhook subscription id")]
DeliveryPath = Annotated[RowId, Path(description="delivery id")]
EventType = Literal[tuple(EVENT_TYPES)]  # type: ignore[valid-type]


class WebhookIn(Strict):
    url: str = Field(max_length=2000, description="where events are POSTed (http or https)")
    event_types: list[EventType] = Field(  # type: ignore[valid-type]
        default_factory=list, max_length=len(EVENT_TYPES),
        description="the event types to deliver; empty: every type")
    program: ProgramId | None = Field(None, description="only this program's events; "
                                      "omitted: every program's")
    secret: str | None = Field(None, max_length=200, pattern=r"^whsec_[A-Za-z0-9+/=]+$",
                               description="the signing secret, `whsec_` and base64 of 24 to "
                               "64 bytes; omitted: one is generated (shown once, in the answer)")
    description: Text = Field("", max_length=500, description="what the subscription is for")
    max_attempts: int = Field(webhooks.DEFAULT_ATTEMPTS, ge=1, le=20,
                              description="attempts before a delivery is dead-lettered")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            url = httpx.URL(value)
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            raise ValueError(f"not a URL ({exc})") from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("an http or https URL with a host")
        return value


@router.post("", status_code=201, summary="Subscribe a URL to domain events (the answer "
             "shows the signing secret, once)")
def create(body: WebhookIn, services: StoreDep, key: AdminKey) -> Json:
    if not WebhookSettings().allow_private and (why := refused(body.url)) is not None:
        raise ApiProblem(422, "url_not_public", f"url: {why}", errors=[
            {"pointer": "/url", "message": why}])
    new = webhooks.NewSubscription(
        url=body.url, event_types=tuple(body.event_types), program=body.program,
        secret=body.secret, description=body.description, max_attempts=body.max_attempts)
    return Json(webhooks.create(services.db, new, key.actor), status_code=201)


@router.get("", summary="The webhook subscriptions")
def listing(services: StoreDep, key: AdminKey) -> Json:
    return Json(webhooks.listing(services.db))


@router.get("/{webhook_id}", summary="One webhook subscription")
def get(webhook_id: WebhookPath, services: StoreDep, key: AdminKey) -> Json:
    return Json(webhooks.get(services.db, webhook_id))


@router.delete("/{webhook_id}", summary="Delete a subscription: nothing more is delivered "
               "to it; its deliveries stay listed")
def delete(webhook_id: WebhookPath, services: StoreDep, key: AdminKey) -> Json:
    return Json(webhooks.delete(services.db, webhook_id))


@router.get("/{webhook_id}/deliveries", summary="A subscription's deliveries, oldest first")
def deliveries(webhook_id: WebhookPath, services: StoreDep, key: AdminKey,
               status: Annotated[Literal["pending", "sending", "delivered", "dead"] | None,
                                 Query()] = None,
               cursor: Annotated[RowId | None, Query(
                   description="`next_cursor` of the previous page")] = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Json:
    return Json(webhooks.deliveries(services.db, webhook_id, status,
                                    int(cursor) if cursor else None, limit))


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver",
             summary="Send a delivery again (a dead-lettered one, or one delivered)")
def redeliver(webhook_id: WebhookPath, delivery_id: DeliveryPath, services: StoreDep,
              key: AdminKey) -> Json:
    return Json(webhooks.redeliver(services.db, webhook_id, delivery_id))
