"""Evaluate one request against one compiled program (docs/semantics.md): parse it, run the
evaluation (engine/evaluation/evaluator.py) into its typed outcome
(engine/evaluation/result.py, outcome.py), with its explain trace when asked
(engine/evaluation/explain.py), and render the result JSON (engine/evaluation/render.py)
for callers that answer with it. Deterministic: time comes from `order.placed_at` (or
`as_of`), never the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.evaluation.evaluator import Evaluation
from engine.evaluation.explain import build_trace
from engine.evaluation.outcome import Outcome
from engine.evaluation.render import result_json
from engine.evaluation.request import Request, RequestInvalid, parse
from engine.evaluation.result import assemble
from engine.evaluation.state import MemberState, from_request
from engine.program import Program

__all__ = ["RequestInvalid", "evaluate", "evaluate_request", "outcome_of"]


def evaluate(program: Program, request: Mapping[str, Any], state: MemberState | None = None,
             *, explain: bool | None = None) -> dict[str, Any]:
    """Evaluate `request` (docs/semantics.md) against `program`; return the result (docs/semantics.md)."""
    return evaluate_request(program, parse(request), state, explain=explain)


def evaluate_request(program: Program, req: Request, state: MemberState | None = None, *,
                     explain: bool | None = None) -> dict[str, Any]:
    """`evaluate` of a request already parsed (`engine.evaluation.request.parse`, `order_request`)."""
    return result_json(outcome_of(program, req, state, explain=explain))


def outcome_of(program: Program, req: Request, state: MemberState | None = None, *,
               explain: bool | None = None) -> Outcome:
    """The typed outcome of a parsed request: what the lifecycle core books and the
    simulator counts, without rendering any JSON. `explain` (default: the request's
    own `explain`) adds the trace."""
    if state is None:
        state = from_request(req.member)
    wanted = bool(explain if explain is not None else req.explain)
    ev = Evaluation(program, req, state, explain=wanted)
    return assemble(ev, build_trace if wanted else None)
