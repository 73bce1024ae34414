"""`loyalty validate`: load and check rulesets, report every problem and warning located."""

from __future__ import annotations

from typing import Any

import click

from cli.output import EXIT_INVALID_RULESET, EXIT_OK, changed_option, changed_programs, dump_json
from engine.errors import RulesetError, RulesetInvalid, RulesetWarning
from engine.language.loader import load_path
from engine.language.validate import validate as validate_ruleset
from engine.language.warnings import program_warnings
from engine.program import Program
from engine.verify import check as check_invariants


def check(path: str) -> dict[str, Any]:
    """One ruleset's report; never raises."""
    report: dict[str, Any] = {"path": path, "valid": False, "program": None, "version": None,
                              "errors": [], "warnings": []}
    warnings: list[RulesetWarning] = []
    try:
        loaded = load_path(path)
        report["program"], report["version"] = loaded.data.get("program"), loaded.data.get("version")
        errors = validate_ruleset(loaded)
        if not errors and loaded.data.get("invariants"):
            errors = check_invariants(Program.from_data(loaded.data, loaded.sources))
        warnings = [] if errors else program_warnings(loaded)
    except RulesetInvalid as exc:
        errors = exc.errors
    except Exception as exc:  # noqa: BLE001 - reported as a problem, never a traceback
        errors = [RulesetError(path, 1, 1, "$", f"unexpected error: {type(exc).__name__}: {exc}",
                               "This is a bug in loyalty; please report it with the ruleset.")]
    report["errors"] = [e.to_dict() for e in errors]
    report["warnings"] = [w.to_dict() for w in warnings]
    report["valid"] = not errors
    return report


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Report format.")
@click.option("--strict", is_flag=True,
              help="Exit 3 when there are warnings too, not only errors.")
@changed_option
def validate(paths: tuple[str, ...], output: str, strict: bool, changed: bool) -> None:
    """Validate rulesets: JSON Schema plus semantic checks, every problem reported.

    A ruleset declaring `invariants:` is verified too (`loyalty verify`): an invariant
    its worst case breaks is a problem located at the invariant.

    Each PATH is one ruleset: a .yaml file or a folder of them. Problems print as
    `file:line:col: $.json.path: message (hint: ...)`, then the warnings about valid
    rulesets as `file:line:col: $.json.path: warning[code]: message (hint: ...)`.
    Exit code 0 when all are valid (warnings or not), 3 when any is invalid, or with
    --strict when any has a warning. With --changed, PATHs are changed files (as a
    pre-commit hook or a CI job lists them): each program they belong to is validated once.

    \b
    Examples:
      loyalty validate rulesets/retail
      loyalty validate rulesets/*            # every shipped ruleset
      loyalty validate --strict rulesets/*   # warnings fail too (exit 3)
      loyalty validate -o json my-program.yaml
      loyalty validate --changed rulesets/retail/earning.yaml rulesets/retail/tiers.yaml
    """
    if changed:
        paths = changed_programs(paths)
    reports = [check(p.rstrip("/") or p) for p in paths]
    invalid = [r for r in reports if not r["valid"]]
    warned = [r for r in reports if r["warnings"]]
    problems = sum(len(r["errors"]) for r in reports)
    warnings = sum(len(r["warnings"]) for r in reports)
    if output == "json":
        click.echo(dump_json({"valid": not invalid, "problems": problems,
                              "warnings": warnings, "rulesets": reports}))
    else:
        for report in reports:
            if report["valid"]:
                click.echo(f"{report['path']}: ok ({report['program']} v{report['version']})")
            for error in report["errors"]:
                click.echo(str(RulesetError(**error)))
        for report in warned:
            for warning in report["warnings"]:
                click.echo(str(RulesetWarning(**warning)))
        if invalid:
            click.echo(f"{_plural(problems, 'problem')} in {_plural(len(invalid), 'ruleset')}")
        if warned:
            click.echo(f"{_plural(warnings, 'warning')} in {_plural(len(warned), 'ruleset')}")
    failed = invalid or (strict and warned)
    raise SystemExit(EXIT_INVALID_RULESET if failed else EXIT_OK)


__all__ = ["validate"]
