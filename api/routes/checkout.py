"""Checkout endpoints: quote, commit, refund, activities."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

import store.checkout.activities as activities
import store.checkout.orders as orders
import store.checkout.refunds as refunds
from api.commit_route import CommitRoute
from api.deps import CommitKey, EvaluateKey, StoreDep
from api.ids import Id
from api.instants import refuse_future
from api.metrics import record_evaluation, record_points
from api.quote_route import QuoteRoute, answer_quote
from api.render import Json, created_or_replayed
from api.schemas import ActivityIn, CommitIn, EvaluationIn, ProgramId, RefundIn
from engine.evaluation.request import parse

router = APIRouter(prefix="/v1/programs/{program}", tags=["checkout"])
ProgramPath = Annotated[ProgramId, Path(description="program id, e.g. retail")]
OrderPath = Annotated[Id, Path(description="order id")]


async def evaluate(program: ProgramPath, body: EvaluationIn, services: StoreDep,
                   key: EvaluateKey) -> Json:
    # Most requests are answered by QuoteRoute without coming here (api/quote_route.py);
    # this generic handler answers the rest (and documents the route).
    request = body.engine_request()
    return await answer_quote(services, program, request, parse(request),
                              body.ruleset_version, lambda: request)


router.add_api_route("/evaluate", evaluate, methods=["POST"], route_class_override=QuoteRoute,
                     summary="Quote what an order earns and what may be redeemed")


def commit(program: ProgramPath, body: CommitIn, services: StoreDep, key: CommitKey) -> Json:
    refuse_future(body, services.settings.max_future_skew_seconds)
    services.limiter.check_member(program, body.member.id, "write")
    run = services.shadow.watching(program)
    before: list[orders.BookBefore] | None = [] if run is not None else None
    request = body.engine_request()
    outcome = orders.commit(services.db, services.cache, program, request,
                            body.ruleset_version, before)
    if outcome.created:
        record_evaluation(outcome.result, "commit")
        record_points(program, "order", outcome.result["commit"]["points_awarded"])
    response = created_or_replayed(outcome.result, outcome.created)
    if run is not None and outcome.created and before:  # queued, never waited for
        services.shadow.offer(run, "commit", request, outcome.result, before[0])
    return response


# Most commits are answered by CommitRoute straight into `commit` (api/commit_route.py).
router.add_api_route("/orders", commit, methods=["POST"], status_code=201,
                     route_class_override=CommitRoute,
                     summary="Commit an order (idempotent on order.id)")


@router.post("/orders/{order_id}/refunds", status_code=201,
             summary="Refund an order fully or by line; points are reversed proportionally")
def refund(program: ProgramPath, order_id: OrderPath, body: RefundIn, services: StoreDep,
           key: CommitKey) -> Json:
    refuse_future(body, services.settings.max_future_skew_seconds)
    outcome = refunds.refund(services.db, services.cache, program, order_id,
                             body.model_dump(mode="json", exclude_none=True))
    return created_or_replayed(outcome.result, outcome.created)


@router.post("/activities", status_code=201,
             summary="Record a member activity (review, referral, birthday, …)")
def activity(program: ProgramPath, body: ActivityIn, services: StoreDep, key: CommitKey) -> Json:
    refuse_future(body, services.settings.max_future_skew_seconds)
    services.limiter.check_member(program, body.member_id, "write")
    outcome = activities.record(services.db, services.cache, program,
                                body.model_dump(mode="json", exclude_none=True))
    if outcome.created:
        record_points(program, "activity", outcome.result["points"])
    return created_or_replayed(outcome.result, outcome.created)
