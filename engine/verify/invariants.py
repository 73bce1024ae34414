"""A ruleset's declared `invariants` against its proven bounds: each one whose worst case
is above its limit (or has none) is a located error at the invariant."""

from __future__ import annotations

from engine.errors import RulesetError, format_path
from engine.language.loader import load_sources
from engine.program import Program
from engine.verify.bounds import Bound, Bounds, text
from engine.verify.contexts import TooManyContexts
from engine.verify.prove import prove
from engine.verify.witness import WitnessMismatch


def _message(limit_text: str, bound: Bound) -> str:
    what = bound.label
    if bound.value is None:
        return f"invariant fails: {what} has no bound ({bound.context}); the limit is {limit_text}"
    witness = bound.witness[0] if bound.witness else None
    at = ""
    if witness is not None and witness.get("order"):
        at = f"; witness: order at {witness['order']['placed_at']}"
    return (f"invariant fails: {what} reaches {text(bound.value)}, above the limit "
            f"{limit_text}, in {bound.context}{at}")


def failures(program: Program, bounds: Bounds) -> list[RulesetError]:
    """Every declared invariant whose proven worst case exceeds its limit, located at the
    invariant's value; empty when all hold (or none is declared)."""
    limits = program.model.invariants
    if not limits:
        return []
    loaded = load_sources(program.sources) if program.sources else None
    errors = []
    for quantity, limit in limits.items():
        for bound in bounds.of(quantity):
            if bound.value is not None and bound.value <= limit:
                continue
            path = ("invariants", quantity)
            file, line, col = loaded.position(path) if loaded else ("<ruleset>", 1, 1)
            errors.append(RulesetError(
                file, line, col, format_path(path), _message(text(limit), bound),
                "Lower the campaigns or multipliers that stack there, add a budget or a "
                "cap, or raise the limit if this worst case is intended."))
    return sorted(errors)


def check(program: Program) -> list[RulesetError]:
    """What validation, publishing and activation ask: the declared invariants that fail,
    located (a bound the verifier cannot prove or reproduce is one too, at `invariants`).
    Nothing is computed for a ruleset that declares none."""
    if not program.model.invariants:
        return []
    try:
        bounds = prove(program)
    except (WitnessMismatch, TooManyContexts) as exc:
        loaded = load_sources(program.sources) if program.sources else None
        file, line, col = loaded.position(("invariants",)) if loaded else ("<ruleset>", 1, 1)
        return [RulesetError(file, line, col, "$.invariants",
                             f"the invariants cannot be verified: {exc}")]
    return failures(program, bounds)
