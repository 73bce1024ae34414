"""`loyalty test`: run rule test suites (rulesets/<program>/tests/*_test.yaml)."""

from __future__ import annotations

import json
import sys
from typing import Any
from xml.etree import ElementTree as ET

import click

from cli.output import EXIT_INVALID_RULESET, EXIT_TESTS_FAILED, dump_json, fail


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _as_json(results: list[Any]) -> dict[str, Any]:
    suites = []
    for s in results:
        suites.append({"file": s.file, "suite": s.suite, "program": s.program,
                       "passed": s.passed, "failed": s.failed,
                       "cases": [{"name": r.name, "kind": r.kind,
                                  "status": "passed" if r.passed else "failed",
                                  **({"error": r.error} if r.error else {}),
                                  "failures": [{"field": f.field, "expected": _plain(f.expected),
                                                "actual": _plain(f.actual)} for f in r.failures],
                                  **({"trace": _plain(r.trace)} if r.trace and not r.passed
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
            case = ET.SubElement(suite, "testcase", name=r.name, classname=f"{s.program}.{s.suite}")
            if not r.passed:
                lines = [r.error] if r.error else []
                lines += [f"{f.field}: expected {json.dumps(_plain(f.expected))}, "
                          f"got {json.dumps(_plain(f.actual))}" for f in r.failures]
                failure = ET.SubElement(case, "failure", message=lines[0] if lines else "failed")
                failure.text = "\n".join(lines)
                if r.trace:
                    ET.SubElement(case, "system-out").text = json.dumps(_plain(r.trace), indent=1)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


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
                click.echo(f"          expected: {json.dumps(_plain(f.expected))}")
                click.echo(f"          actual:   {json.dumps(_plain(f.actual))}")
            if r.trace:
                click.echo("        trace:")
                for step in r.trace:
                    click.echo(f"          {json.dumps(_plain(step), sort_keys=True)}")
    passed = sum(s.passed for s in results)
    failed = sum(s.failed for s in results)
    click.echo(f"{passed} passed, {failed} failed")


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--output", "-o", type=click.Choice(["text", "json", "junit"]), default="text",
              show_default=True, help="Report format on stdout.")
def test(paths: tuple[str, ...], output: str) -> None:
    """Run rule test suites; exit 4 if any case fails.

    PATHS are suite files, tests/ folders or ruleset folders (default: rulesets/).
    Every suite file and ruleset under test is checked before anything runs: their
    problems print as `file:line:col: $.json.path: message (hint: ...)` and exit 3.

    \b
    Example:
      loyalty test rulesets/retail
      loyalty test rulesets/retail/tests/tiers_test.yaml
      loyalty test --output junit > report.xml
    """
    from engine.errors import RulesetInvalid
    from engine.suites.runner import run_paths

    try:
        results = run_paths(list(paths) or ["rulesets"])
    except RulesetInvalid as exc:
        for error in exc.errors:
            click.echo(str(error), err=True)
        fail(f"{len(exc.errors)} problem(s) in the test suites or the rulesets they test",
             EXIT_INVALID_RULESET)
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
