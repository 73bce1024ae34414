"""Ordering from the portal: the cart, placing it as one order, the order history, an
order's progress, and the approvers' queue. Every action calls the same store functions as
the API's routes (store/b2b_orders) with the manager as the actor."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Request
from starlette.responses import Response

import store.b2b.companies as companies
import store.b2b_orders.cancel as cancelling
import store.b2b_orders.model as orders
import store.b2b_orders.place as placing
from api.console.principal import Refused
from api.console.render import redirect
from api.portal.auth import Approver, ApproverForm, Requester, RequesterForm, User
from api.portal.cart import MAX_LINES, quantities
from api.portal.company import catalog_of, company_of
from api.portal.render import PREFIX, PortalRoute, PortalUser, error_page, page, state
from api.routes.b2b_orders import send_virtual
from store.errors import StoreError

router = APIRouter(route_class=PortalRoute)


def _lines(request: Request, user: PortalUser) -> tuple[list[dict[str, Any]], int, Any]:
    """The cart's lines priced from the live catalog (a reward no longer offered drops)."""
    cart = state(request).carts.read(request, user.session)
    found = catalog_of(request, user)
    offered = {item["id"]: item for item in found["items"]}
    lines = [{"reward_id": reward, "name": offered[reward]["name"], "quantity": quantity,
              "points": offered[reward]["points"] * quantity}
             for reward, quantity in cart.items() if reward in offered]
    return lines, sum(line["points"] for line in lines), found["balance"]


@router.get("/cart", summary="The cart")
def cart_page(request: Request, user: Requester, notice: str = "") -> Response:
    lines, total, balance = _lines(request, user)
    threshold = company_of(request, user)["approval_threshold"]
    return page(request, "cart.html", user, lines=lines, total=total, balance=balance,
                threshold=threshold, notice=notice,
                needs_approval=threshold is not None and total > threshold)


@router.post("/cart", summary="Add rewards to the cart (or set its quantities)")
async def add_to_cart(request: Request, user: RequesterForm, replace: bool = False) -> Response:
    form = await request.form()
    try:
        chosen = quantities(form)
    except ValueError as exc:
        raise Refused(422, str(exc)) from None
    carts = state(request).carts
    lines = {} if replace else carts.read(request, user.session)
    for reward, quantity in chosen.items():
        lines[reward] = quantity if replace else min(lines.get(reward, 0) + quantity, 999)
    if len(lines) > MAX_LINES:
        raise Refused(422, f"a cart holds at most {MAX_LINES} different rewards; place or "
                      "empty it first")
    response = redirect(f"{PREFIX}/cart")
    carts.write(request, response, user.session, lines)
    return response


@router.post("/orders", summary="Place the cart as one order")
def place_order(request: Request, user: RequesterForm, tasks: BackgroundTasks) -> Response:
    services = state(request).services
    carts = state(request).carts
    cart = carts.read(request, user.session)
    if not cart:
        raise Refused(409, "The cart is empty.")
    items = [{"reward_id": reward, "quantity": quantity} for reward, quantity in cart.items()]
    ident = carts.ident(request, user.session)
    request_body: dict[str, Any] = {"items": items}
    if ident is not None:  # the same cart placed twice is one order
        request_body["idempotency_key"] = f"portal-cart-{ident}"
    with services.db.reading() as session:
        company = companies.get(session, user.manager.program, user.manager.company_id)
    try:
        outcome = placing.place(services.db, services.cache, company, request_body,
                                user.manager.actor, services.settings.b2b_approval_hours,
                                services.balances)
    except StoreError as exc:  # refused, or failed and recorded: the cart stays, anew
        refused = error_page(request, exc.status, exc.message)
        carts.write(request, refused, user.session, cart, fresh=True)
        return refused
    order = outcome.result
    send_virtual(tasks, services, order)
    response = redirect(f"{PREFIX}/orders/{order['order_number']}", notice=NOTICES.get(
        order["status"], "Your order is placed."))
    if order["status"] == "failed":  # the first of a double click failed: keep the cart
        carts.write(request, response, user.session, cart, fresh=True)
    else:
        carts.write(request, response, user.session, {})
    return response


NOTICES = {"pending_approval": "Your order waits for an approver.",
           "failed": "This order failed; your cart is kept, to place again."}


def _orders(request: Request, user: PortalUser, status: str | None) -> list[dict[str, Any]]:
    """The company's newest orders (the 100 newest; the API pages through all)."""
    with state(request).services.db.reading() as session:
        found = orders.listing(session, user.manager.program, user.manager.company_id,
                               status, None, 100)
    return list(found["orders"])


@router.get("/orders", summary="The company's orders")
def orders_page(request: Request, user: User, notice: str = "") -> Response:
    return page(request, "orders.html", user, orders=_orders(request, user, None),
                heading="Orders", empty="No order yet.", notice=notice)


@router.get("/approvals", summary="Orders waiting for an approver")
def approvals_page(request: Request, user: Approver) -> Response:
    return page(request, "orders.html", user,
                orders=_orders(request, user, "pending_approval"),
                heading="Waiting for approval", empty="Nothing waits for approval.")


@router.get("/orders/{number}", summary="An order's progress")
def order_page(request: Request, user: User, number: str, notice: str = "") -> Response:
    with state(request).services.db.reading() as session:
        order = orders.view(session, orders.find(session, user.manager.program,
                                                 user.manager.company_id, number))
    actor = user.manager.actor
    may_approve = (order["status"] == "pending_approval" and user.manager.may("approver")
                   and order["requested_by"] != actor)
    may_cancel = user.manager.may("requester") and order["status"] in (
        "pending_approval", "placed", "partially_fulfilled")
    return page(request, "order.html", user, order=order, may_approve=may_approve,
                may_cancel=may_cancel, notice=notice)


@router.post("/orders/{number}/approve", summary="Approve an order")
def approve(request: Request, user: ApproverForm, number: str,
            tasks: BackgroundTasks) -> Response:
    m = user.manager
    services = state(request).services
    order = placing.approve(services.db, m.program, m.company_id, number, m.actor,
                            services.balances)
    send_virtual(tasks, services, order)
    return redirect(f"{PREFIX}/orders/{number}", notice="Approved.")


@router.post("/orders/{number}/reject", summary="Reject an order")
def reject(request: Request, user: ApproverForm, number: str,
           reason: Annotated[str, Form()] = "") -> Response:
    m = user.manager
    placing.reject(state(request).services.db, m.program, m.company_id, number, m.actor,
                   reason or None)
    return redirect(f"{PREFIX}/orders/{number}", notice="Rejected.")


@router.post("/orders/{number}/cancel", summary="Cancel what has not shipped")
def cancel(request: Request, user: RequesterForm, number: str,
           tasks: BackgroundTasks) -> Response:
    m = user.manager
    services = state(request).services
    outcome = cancelling.cancel(services.db, m.program, m.company_id, number, None, m.actor,
                                cache_of_balances=services.balances)
    if outcome.created:
        tasks.add_task(cancelling.send_credits, services.db, outcome.result,
                       services.balances)
    return redirect(f"{PREFIX}/orders/{number}", notice="Cancelled what had not shipped.")

