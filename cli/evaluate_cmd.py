"""`loyalty evaluate` and `loyalty explain`: a stateless dry-run of one request."""

from __future__ import annotations

from typing import Any

import click

from cli.output import EXIT_USAGE, dump_json, fail, load_program_or_exit, read_json
from cli.render import render_result, render_trace

RULESET = click.option("--ruleset", "-r", required=True, metavar="PATH",
                       help="Ruleset file or folder, e.g. rulesets/retail.")
INPUT = click.option("--input", "-i", "input_path", required=True, metavar="FILE",
                     help="Evaluation request JSON ('-' reads stdin); its schema: "
                          "`loyalty schema evaluation-request`.")


def _run(ruleset: str, input_path: str, explain: bool) -> dict[str, Any]:
    from engine import RequestInvalid
    from engine import evaluate as run
    from engine.rules.adapter import EngineFailure

    program = load_program_or_exit(ruleset)
    request = read_json(input_path)
    try:
        return run(program, request, explain=explain or None)
    except RequestInvalid as exc:
        for path, message in exc.errors:
            click.echo(f"{input_path}: {path}: {message}", err=True)
        fail(f"{input_path}: invalid request ({len(exc.errors)} problem(s))", EXIT_USAGE)
    except EngineFailure as exc:
        fail(f"the rule engine could not evaluate {input_path}: {exc}", EXIT_USAGE)


@click.command()
@RULESET
@INPUT
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json prints only the result JSON on stdout.")
@click.option("--explain", is_flag=True, help="Include the trace of every rule considered.")
def evaluate(ruleset: str, input_path: str, output: str, explain: bool) -> None:
    """Evaluate one request: what the cart earns and what the member may redeem.

    \b
    Example:
      loyalty evaluate --ruleset rulesets/retail --input examples/requests/gold-weekday.json
      loyalty evaluate -r rulesets/retail -i examples/requests/gold-weekend.json -o json
    """
    result = _run(ruleset, input_path, explain)
    if output == "json":
        click.echo(dump_json(result))
    else:
        render_result(result)
        if explain:
            render_trace(result)


@click.command()
@RULESET
@INPUT
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json prints the result with its trace.")
def explain(ruleset: str, input_path: str, output: str) -> None:
    """Evaluate a request and lay out, rule by rule, what fired and why not.

    \b
    Example:
      loyalty explain --ruleset rulesets/retail --input examples/requests/gold-weekday.json
    """
    result = _run(ruleset, input_path, True)
    if output == "json":
        click.echo(dump_json(result))
    else:
        render_result(result)
        render_trace(result)
