"""Fulfilment of companies' order items: the operators' routes (under
/v1/programs/{program}/b2b-orders, admin keys) — the queue, acknowledge, ship, deliver,
any company's order, cancelling for a company — and the signed delivery callbacks
(`POST /v1/fulfilment/callbacks`, authenticated by their HMAC signature, not a key)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import Field, ValidationError

import store.b2b_orders.callbacks as callbacks
import store.b2b_orders.cancel as cancelling
import store.b2b_orders.items as order_items
import store.b2b_orders.model as orders
from api.deps import AdminKey, StoreDep
from api.ids import RowId, Text
from api.problems import ApiProblem
from api.render import Json, created_or_replayed
from api.routes.b2b_orders import NUMBER, CancelIn, OrderNumber
from api.routes.checkout import ProgramPath
from api.schemas import Strict
from store.redemptions.fulfilment import FulfilmentSettings

router = APIRouter(prefix="/v1/programs/{program}/b2b-orders", tags=["b2b fulfilment"])
callbacks_router = APIRouter(tags=["b2b fulfilment"])
LinePath = Annotated[int, Path(ge=1, le=10_000, description="the item's line on the order")]
Label = Annotated[Text, Field(min_length=1, max_length=200)]


class StepIn(Strict):
    note: Text | None = Field(None, max_length=500)


class ShipIn(Strict):
    carrier: Label
    tracking: Label
    note: Text | None = Field(None, max_length=500)


class CallbackIn(Strict):
    order_number: str = Field(pattern=NUMBER)
    line: int = Field(ge=1, le=10_000, strict=True)
    status: Literal["shipped", "delivered", "failed"]
    carrier: Label | None = None
    tracking: Label | None = None
    note: Text | None = Field(None, max_length=500)


@router.get("/queue", summary="Order items, oldest first (default: the manual queue)")
def queue(program: ProgramPath, services: StoreDep, key: AdminKey,
          status: Annotated[Literal["queued", "acknowledged", "shipped", "pending", "sending",
                                    "sent", "delivered", "failed", "cancelled"],
                            Query()] = "queued",
          route: Annotated[Literal["manual", "webhook"], Query()] = "manual",
          cursor: Annotated[RowId | None, Query()] = None,
          limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Json:
    return Json(order_items.queue(services.db, program, status, route,
                                  int(cursor) if cursor else None, limit))


@router.get("/{order_number}", summary="Any company's order")
def get_order(program: ProgramPath, order_number: OrderNumber, services: StoreDep,
              key: AdminKey) -> Json:
    with services.db.reading() as session:
        return Json(orders.view(session, orders.find(session, program, None, order_number)))


def _step(services: StoreDep, program: str, number: str, line: int, target: str, actor: str,
          **detail: str | None) -> Json:
    order, moved = order_items.advance(services.db, program, number, line, target, actor,
                                       **detail)
    return created_or_replayed(order, moved)


@router.post("/{order_number}/items/{line}/acknowledge", status_code=201,
             summary="A manual item is being prepared (idempotent)")
def acknowledge(program: ProgramPath, order_number: OrderNumber, line: LinePath,
                services: StoreDep, key: AdminKey, body: StepIn | None = None) -> Json:
    return _step(services, program, order_number, line, "acknowledged", key.actor,
                 note=body.note if body else None)


@router.post("/{order_number}/items/{line}/ship", status_code=201,
             summary="A manual item left with a carrier (idempotent)")
def ship(program: ProgramPath, order_number: OrderNumber, line: LinePath, body: ShipIn,
         services: StoreDep, key: AdminKey) -> Json:
    return _step(services, program, order_number, line, "shipped", key.actor,
                 carrier=body.carrier, tracking=body.tracking, note=body.note)


@router.post("/{order_number}/items/{line}/deliver", status_code=201,
             summary="An item reached the company (idempotent)")
def deliver(program: ProgramPath, order_number: OrderNumber, line: LinePath,
            services: StoreDep, key: AdminKey, body: StepIn | None = None) -> Json:
    return _step(services, program, order_number, line, "delivered", key.actor,
                 note=body.note if body else None)


@router.post("/{order_number}/items/{line}/retry", status_code=201,
             summary="Send a failed virtual item to the fulfilment API again (idempotent)")
def retry(program: ProgramPath, order_number: OrderNumber, line: LinePath,
          services: StoreDep, key: AdminKey, tasks: BackgroundTasks,
          body: StepIn | None = None) -> Json:
    answer = _step(services, program, order_number, line, "pending", key.actor,
                   note=body.note if body else None)
    tasks.add_task(order_items.dispatch, services.db, FulfilmentSettings(),  # type: ignore[call-arg]
                   program)
    return answer


@router.post("/{order_number}/cancel", summary="Cancel a company's order or its items not "
             "yet shipped (an operator)")
def cancel(program: ProgramPath, order_number: OrderNumber, services: StoreDep,
           key: AdminKey, tasks: BackgroundTasks, body: CancelIn | None = None) -> Json:
    outcome = cancelling.cancel(services.db, program, None, order_number,
                                body.lines if body else None, key.actor,
                                body.reason if body else None, services.balances)
    if outcome.created:
        tasks.add_task(cancelling.send_credits, services.db, outcome.result, services.balances)
    return created_or_replayed(outcome.result, outcome.created)


@callbacks_router.post(
    "/v1/fulfilment/callbacks", summary="A signed delivery callback (Standard Webhooks "
    "HMAC; idempotent by webhook-id): moves an order item's status",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": CallbackIn.model_json_schema()}}}, "security": []})
async def callback(request: Request, services: StoreDep) -> Json:
    body = await request.body()
    settings = services.settings
    webhook_id = callbacks.verify(settings.fulfilment_callback_secret, request.headers, body,
                                  settings.fulfilment_callback_tolerance_seconds)
    try:
        payload = CallbackIn.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        pointer = "/" + "/".join(str(p) for p in first.get("loc", ()))
        raise ApiProblem(422, "invalid_callback", f"{pointer}: {first['msg']}",
                         pointer=pointer) from exc
    answer, _ = await run_in_threadpool(callbacks.receive, services.db, webhook_id, body,
                                        payload.model_dump())
    return Json(answer)
