"""`loyalty verify`: the proven worst case of each earning quantity, with its witness, the
declared invariants checked against them, and how a draft moves them."""

from __future__ import annotations

import json
from typing import Any

import click

from cli.output import (
    EXIT_INVALID_RULESET,
    EXIT_OK,
    changed_option,
    changed_programs,
    dump_json,
    fail,
    load_program_or_exit,
)


def _prove(path: str) -> tuple[Any, Any]:
    from engine.verify import TooManyContexts, WitnessMismatch, prove

    program = load_program_or_exit(path)
    try:
        return program, prove(program)
    except WitnessMismatch as exc:
        fail(f"{path}: the evaluator does not reproduce a proven bound: {exc}")
    except TooManyContexts as exc:
        fail(f"{path}: {exc}")


def _bound_text(bound: Any) -> list[str]:
    from engine.verify import QUANTITIES
    from engine.verify.bounds import text

    value = "unbounded" if bound.value is None else text(bound.value)
    lines = [f"{bound.label}: {value}  ({QUANTITIES[bound.quantity]})",
             f"  where: {bound.context}"]
    for i, request in enumerate(bound.witness):
        which = "witness" if len(bound.witness) == 1 else \
            ("witness, first order" if i == 0 else f"witness, order {bound.orders}")
        lines.append(f"  {which}: {json.dumps(request, ensure_ascii=False)}")
    if bound.reproduced is not None:
        lines.append(f"  evaluator reproduces: {text(bound.reproduced)}")
    return lines


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True),
                metavar="PATH...")
@click.option("--compare", metavar="PATH",
              help="Another version of the program (the live one): show how PATH moves "
                   "each bound against it.")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Report format.")
@changed_option
def verify(paths: tuple[str, ...], compare: str | None, output: str, changed: bool) -> None:
    """Prove the worst case of each earning quantity over every context the ruleset allows.

    For the most points per 1.00 on a line, the most bonus points one order collects, the
    most value given back per 1.00 (points at the redemption rate plus cashback) and the
    most each campaign can give in a day, print the exact worst case, where it happens,
    and a witness: an evaluation request the real evaluator runs and reproduces it on.
    Declared `invariants:` are checked against them: a failing one prints a located
    error and exits 3.

    \b
    Example:
      loyalty verify rulesets/retail
      loyalty verify drafts/retail --compare rulesets/retail   # how the draft moves each bound
      loyalty verify rulesets/card-rewards -o json
      loyalty verify --changed rulesets/retail/earning.yaml rulesets/retail/campaigns.yaml
    """
    if changed:
        paths = changed_programs(paths)
    if compare and len(paths) > 1:
        fail("--compare takes one PATH (one program)")
    docs, refused = [], False
    for path in paths:
        doc, failed = _verify(path, compare, output)
        docs.append(doc)
        refused = refused or failed
    if output == "json":
        click.echo(dump_json(docs[0] if len(docs) == 1 else docs))
    raise SystemExit(EXIT_INVALID_RULESET if refused else EXIT_OK)


def _verify(path: str, compare: str | None, output: str) -> tuple[dict[str, Any], bool]:
    """One program's bounds: printed as text (the JSON document returned), and whether a
    declared invariant fails."""
    from engine.verify import compare as movements
    from engine.verify import failures
    from engine.verify.bounds import text

    program, bounds = _prove(path)
    refused = failures(program, bounds)
    moved = None
    if compare:
        _, old = _prove(compare)
        if old.program != bounds.program:
            fail(f"--compare {compare}: program {old.program}, not {bounds.program}; compare "
                 "two versions of one program")
        moved = movements(old, bounds)
    if output == "json":
        doc: dict[str, Any] = {**bounds.to_json(), "path": path, "valid": not refused,
                               "errors": [e.to_dict() for e in refused]}
        if moved is not None:
            doc["compare"] = {"path": compare, "movements": [m.to_json() for m in moved]}
        return doc, bool(refused)
    else:
        click.echo(f"{path}: {bounds.program} v{bounds.version}: {bounds.contexts} contexts "
                   f"over {bounds.day_classes} day classes")
        for bound in bounds.bounds:
            for line in _bound_text(bound):
                click.echo(line)
        for quantity, limit in bounds.limits.items():
            broken = any(e.path == f"$.invariants.{quantity}" for e in refused)
            click.echo(f"invariant {quantity} ≤ {text(limit)}: {'FAILS' if broken else 'holds'}")
        if moved is not None:
            click.echo(f"compared with {compare}:")
            for m in moved:
                old = "unbounded" if m.old is None and m.change != "new" else \
                    "-" if m.old is None else text(m.old)
                new = "unbounded" if m.new is None and m.change != "gone" else \
                    "-" if m.new is None else text(m.new)
                delta = f" ({'+' if m.delta > 0 else ''}{text(m.delta)})" \
                    if m.delta is not None and m.delta else ""
                click.echo(f"  {m.label}: {old} → {new}  {m.change}{delta}")
        for error in refused:
            click.echo(str(error), err=True)
    return {}, bool(refused)


__all__ = ["verify"]
