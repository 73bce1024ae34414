"""The pure core: load YAML rulesets, validate, compile, evaluate, simulate.

Public API::

    from engine import load_program, evaluate, Program, MemberState
    program = load_program("rulesets/retail")      # raises engine.errors.RulesetInvalid
    result = evaluate(program, request_dict)       # the evaluation result, docs/semantics.md (JSON-ready)
    outcome = outcome_of(program, parse(request_dict))  # the same, typed (engine/evaluation/outcome.py)

No HTTP and no SQL are imported anywhere in this package.
"""

# ruff: noqa: E402 (the imports below come after the choice of compiled or Python modules)
from engine import native

native.install()  # before any compiled module is imported: compiled or Python (engine/native.py)

from engine.evaluation.evaluate import RequestInvalid, evaluate, outcome_of
from engine.evaluation.outcome import Outcome
from engine.evaluation.request import parse
from engine.evaluation.state import MemberState
from engine.program import Program, load_program

__all__ = ["MemberState", "Outcome", "Program", "RequestInvalid", "evaluate", "load_program",
           "outcome_of", "parse"]
