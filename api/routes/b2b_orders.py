"""Companies' redemption orders, for their account managers (under
/v1/programs/{program}/companies/{company_id}): place (requester), read and list
(viewer), approve and reject (approver, never their own order), cancel (requester).
A manager naming another company gets 404 (api/b2b/principal.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Path, Query
from pydantic import Field

import store.b2b.companies as companies
import store.b2b_orders.cancel as cancelling
import store.b2b_orders.items as order_items
import store.b2b_orders.model as orders
import store.b2b_orders.place as placing
from api.b2b.principal import ApproverDep, RequesterDep, ViewerDep
from api.deps import StoreDep
from api.ids import Id, RowId, Text
from api.render import Json, created_or_replayed
from api.routes.checkout import ProgramPath
from api.schemas import Strict
from store.b2b.principals import Manager
from store.redemptions.fulfilment import FulfilmentSettings

router = APIRouter(prefix="/v1/programs/{program}/companies/{company_id}",
                   tags=["b2b orders"])
CompanyPath = Annotated[Id, Path(description="the company's public id")]
NUMBER = r"^B2B-[0-9]{4}-[0-9]{6,12}$"
OrderNumber = Annotated[str, Path(pattern=NUMBER, description="order number, e.g. "
                                  "B2B-2026-000123")]
Line = Annotated[int, Field(ge=1, le=10_000, strict=True)]
OrderStatus = Literal["pending_approval", "placed", "partially_fulfilled", "fulfilled",
                      "cancelled", "failed"]


class ItemIn(Strict):
    reward_id: Id = Field(description="a reward of the program's catalog")
    quantity: int = Field(ge=1, le=1000, strict=True, description="units (a JSON integer)")


class OrderIn(Strict):
    items: list[ItemIn] = Field(min_length=1, max_length=placing.MAX_ITEMS)
    idempotency_key: Id | None = Field(None, description="a retry with the same key and "
                                       "items answers the first order")


class DecisionIn(Strict):
    reason: Text | None = Field(None, max_length=500)


class CancelIn(Strict):
    lines: list[Line] | None = Field(None, min_length=1, max_length=placing.MAX_ITEMS,
                                    description="the lines to cancel (default: every item "
                                    "not yet shipped or sent)")
    reason: Text | None = Field(None, max_length=500)


@router.post("/orders", status_code=201, summary="Place an order of several items: stock "
             "reserved for every item and the company's account debited once, or nothing")
def place(program: ProgramPath, company_id: CompanyPath, body: OrderIn, services: StoreDep,
          manager: RequesterDep, tasks: BackgroundTasks) -> Json:
    with services.db.reading() as session:
        company = companies.get(session, manager.program, manager.company_id)
    outcome = placing.place(services.db, services.cache, company,
                            body.model_dump(mode="json", exclude_none=True), manager.actor,
                            services.settings.b2b_approval_hours, services.balances)
    send_virtual(tasks, services, outcome.result)
    return created_or_replayed(outcome.result, outcome.created)


def send_virtual(tasks: BackgroundTasks, services: StoreDep, order: dict) -> None:
    """After the response: the items are recorded as pending already, so a crash here only
    leaves them to the `b2b_orders` job."""
    if order_items.due_now(order):
        tasks.add_task(order_items.dispatch, services.db,
                       FulfilmentSettings(), order["program"])  # type: ignore[call-arg]


@router.get("/orders", summary="The company's orders, newest first")
def list_orders(program: ProgramPath, company_id: CompanyPath, services: StoreDep,
                manager: ViewerDep,
                status: Annotated[OrderStatus | None, Query()] = None,
                cursor: Annotated[RowId | None, Query()] = None,
                limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Json:
    with services.db.reading() as session:
        return Json(orders.listing(session, manager.program, manager.company_id, status,
                                   int(cursor) if cursor else None, limit))


@router.get("/orders/{order_number}", summary="One order: items, statuses, who did what")
def get_order(program: ProgramPath, company_id: CompanyPath, order_number: OrderNumber,
              services: StoreDep, manager: ViewerDep) -> Json:
    with services.db.reading() as session:
        found = orders.find(session, manager.program, manager.company_id, order_number)
        return Json(orders.view(session, found))


def _mine(manager: Manager) -> tuple[str, str]:
    return manager.program, manager.company_id


@router.post("/orders/{order_number}/approve", summary="Approve an order awaiting approval "
             "(not one's own): the account is debited now")
def approve(program: ProgramPath, company_id: CompanyPath, order_number: OrderNumber,
            services: StoreDep, manager: ApproverDep, tasks: BackgroundTasks) -> Json:
    order = placing.approve(services.db, *_mine(manager), order_number, manager.actor,
                            services.balances)
    send_virtual(tasks, services, order)
    return Json(order)


@router.post("/orders/{order_number}/reject", summary="Reject an order awaiting approval: "
             "cancelled, its stock released")
def reject(program: ProgramPath, company_id: CompanyPath, order_number: OrderNumber,
           services: StoreDep, manager: ApproverDep, body: DecisionIn | None = None) -> Json:
    return Json(placing.reject(services.db, *_mine(manager), order_number, manager.actor,
                               body.reason if body else None))


@router.post("/orders/{order_number}/cancel", summary="Cancel the order, or its items not "
             "yet shipped: points credited back, stock returned")
def cancel(program: ProgramPath, company_id: CompanyPath, order_number: OrderNumber,
           services: StoreDep, manager: RequesterDep, tasks: BackgroundTasks,
           body: CancelIn | None = None) -> Json:
    outcome = cancelling.cancel(services.db, *_mine(manager), order_number,
                                body.lines if body else None, manager.actor,
                                body.reason if body else None, services.balances)
    if outcome.created:
        tasks.add_task(cancelling.send_credits, services.db, outcome.result, services.balances)
    return created_or_replayed(outcome.result, outcome.created)
