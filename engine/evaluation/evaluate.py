"""Evaluate one request against one compiled program (DESIGN §4, §5): parse it, run the
evaluation (engine/evaluation/evaluator.py), assemble the result
(engine/evaluation/result.py) and, when asked, its explain trace
(engine/evaluation/explain.py). Deterministic: time comes from `order.placed_at` (or
`as_of`), never the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.evaluation.evaluator import Evaluation
from engine.evaluation.explain import build_trace
from engine.evaluation.request import Request, RequestInvalid, parse
from engine.evaluation.result import assemble
from engine.evaluation.state import MemberState, from_request
from engine.program import Program

__all__ = ["RequestInvalid", "evaluate", "evaluate_request"]


def evaluate(program: Program, request: Mapping[str, Any], state: MemberState | None = None,
             *, explain: bool | None = None, summary: bool = False) -> dict[str, Any]:
    """Evaluate `request` (DESIGN §5) against `program`; return the DESIGN §5 result.

    `summary=True` (the simulator) computes the same points, usage, tiers and redemption
    but leaves out what only a reader of one result needs: `effects`, `benefits`, the
    member's tier progress, and per line everything but `index`, `category`, `points`
    and `eligible_amount` (then a Decimal). Never with `explain`."""
    req = parse(request)
    return evaluate_request(program, req, state, explain=explain, summary=summary)


def evaluate_request(program: Program, req: Request, state: MemberState | None = None, *,
                     explain: bool | None = None, summary: bool = False) -> dict[str, Any]:
    """`evaluate` of a request already parsed (`engine.evaluation.request.parse`, `order_request`)."""
    if state is None:
        state = from_request(req.member)
    wanted = bool(explain if explain is not None else req.explain) and not summary
    ev = Evaluation(program, req, state, summary=summary, explain=wanted)
    return assemble(ev, wanted, build_trace)
