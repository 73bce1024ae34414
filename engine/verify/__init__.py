"""Proven earning bounds with witnesses (docs/verify.md): the exact worst case of each
earning quantity over every context a ruleset allows (`prove`), each with an evaluation
request that the real evaluator runs to reproduce it; the ruleset's declared `invariants`
checked against them (`failures`); and how a draft moves each bound (`compare`)."""

from engine.verify.bounds import QUANTITIES, Bound, Bounds
from engine.verify.compare import Movement, compare
from engine.verify.contexts import TooManyContexts
from engine.verify.invariants import check, failures
from engine.verify.prove import prove
from engine.verify.witness import WitnessMismatch

__all__ = ["QUANTITIES", "Bound", "Bounds", "Movement", "TooManyContexts", "WitnessMismatch", "check", "compare",
           "failures", "prove"]
