"""`loyalty test`: run rule test suites (rulesets/<program>/tests/*_test.yaml)."""

from __future__ import annotations

import json
import sys
from typing import Any
from xml.etree import ElementTree as ET

import click

from cli.junit import case_element, plain, xml_text
from cli.output import (
    EXIT_INVALID_RULESET,
    EXIT_TESTS_FAILED,
    changed_option,
    changed_programs,
    dump_json,
    fail,
)


def _as_json(results: list[Any]) -> dict[str, Any]:
    suites = []
    for s in results:
        suites.append({"file": s.file, "suite": s.suite, "program": s.program,
                       "passed": s.passed, "failed": s.failed,
                       "cases": [{"name": r.name, "kind": r.kind,
                                  "status": "passed" if r.passed else "failed",
                                  **({"error": r.error} if r.error else {}),
                                  "failures": [{"field": f.field, "expected": plain(f.expected),
                                                "actual": plain(f.actual)} for f in r.failures],
                                  **({"trace": plain(r.trace)} if r.trace and not r.passed
                                     else {})}
                                 for r in s.results]})
    passed = sum(s.passed for s in results)
    failed = sum(s.failed for s in results)
    return {"suites": suites, "summary": {"passed": passed, "failed": failed,
                                          "suites": len(results)}}


def _junit(results: list[Any]) -> str:
    root = ET.Element("testsuites", tests=str(sum(len(s.results) for s in results)),
                      failures=str(sum(s.failed for s in results)))
    for s in results:
        suite = ET.SubElement(root, "testsuite", name=s.suite, file=s.file,
                              tests=str(len(s.results)), failures=str(s.failed))
        for r in s.results:
            case_element(suite, r, r.name, f"{s.program}.{s.suite}")
    return xml_text(root)


def _text(results: list[Any]) -> None:
    for s in results:
        click.echo(f"{s.file}  [{s.suite}]  {s.passed} passed, {s.failed} failed")
        for r in s.results:
            if r.passed:
                click.echo(f"  ok    {r.kind} {r.name}")
                continue
            click.echo(click.style(f"  FAIL  {r.kind} {r.name}", fg="red"))
            if r.error:
                click.echo(f"        error: {r.error}")
            for f in r.failures:
                click.echo(f"        {f.field}:")
                click.echo(f"          expected: {json.dumps(plain(f.expected))}")
                click.echo(f"          actual:   {json.dumps(plain(f.actual))}")
            if r.trace:
                click.echo("        trace:")
                for step in r.trace:
                    click.echo(f"          {json.dumps(plain(step), sort_keys=True)}")
    passed = sum(s.passed for s in results)
    failed = sum(s.failed for s in results)
    click.echo(f"{passed} passed, {failed} failed")


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--output", "-o", type=click.Choice(["text", "json", "junit"]), default="text",
              show_default=True, help="Report format on stdout.")
@changed_option
def test(paths: tuple[str, ...], output: str, changed: bool) -> None:
    """Run rule test suites; exit 4 if any case fails.

    PATHS are suite files, tests/ folders or ruleset folders (default: rulesets/).
    Every suite file and ruleset under test is checked before anything runs: their
    problems print as `file:line:col: $.json.path: message (hint: ...)` and exit 3.
    With --changed, PATHS are changed files (as a pre-commit hook or a CI job lists
    them): the suites of each program they belong to run, once.

    \b
    Example:
      loyalty test rulesets/retail
      loyalty test rulesets/retail/tests/tiers_test.yaml
      loyalty test --output junit > report.xml
      loyalty test --changed rulesets/retail/earning.yaml rulesets/retail/tests/tiers_test.yaml
    """
    from engine.errors import RulesetInvalid
    from engine.suites.runner import run_paths

    if changed:
        paths = changed_programs(paths)
    try:
        results = run_paths(list(paths) or ["rulesets"])
    except RulesetInvalid as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        fail(f"{len(exc.errors)} problem(s) in the test suites or the rulesets they test",
             EXIT_INVALID_RULESET)
    if not results and changed:
        click.echo("no test suites (*_test.yaml) in the changed programs")
        return
    if not results:
        fail("no test suites (*_test.yaml) found")
    if output == "json":
        click.echo(dump_json(_as_json(results)))
    elif output == "junit":
        click.echo(_junit(results))
    else:
        _text(results)
    if any(s.failed for s in results):
        sys.exit(EXIT_TESTS_FAILED)
