"""What `loyalty ci` writes: JUnit XML (one testsuite per program: validation, each case of
its rule test suites, bounds, simulation) and a short markdown summary for a pull-request
comment (what changed by rule id, test results, cost and liability deltas, members whose
tier moves, bounds that moved). The HTML report is the simulation's own
(engine/simulation/report.py), written by cli/ci_run.py.
"""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from cli.ci_run import FAILED, SKIPPED, Check, ProgramRun
from cli.junit import case_element, failure_lines, xml_text
from cli.output import EXIT_OK

# The figures of the cost table, in order (totals of the simulation document).
COST_FIGURES = ("points_issued", "points_redeemed", "points_expired", "points_outstanding",
                "liability", "cashback_paid", "upgrades", "downgrades")
MEMBERS_SHOWN = 20  # members whose tier moves, listed (the simulation keeps that many)
LINES_SHOWN = 20  # located errors or failures listed per program


def _check_case(suite: ET.Element, run: ProgramRun, check: Check) -> None:
    case = ET.SubElement(suite, "testcase", name=check.name, classname=f"{run.name}.{check.name}",
                         time=f"{check.seconds:.3f}")
    if check.status == FAILED:
        failure = ET.SubElement(case, "failure", message=check.message)
        failure.text = "\n".join(check.lines) or check.message
    elif check.status == SKIPPED:
        ET.SubElement(case, "skipped", message=check.message)
    elif check.lines or check.message:
        ET.SubElement(case, "system-out").text = "\n".join([check.message, *check.lines])


def junit(runs: list[ProgramRun]) -> str:
    """The JUnit XML document of a run."""
    root = ET.Element("testsuites", name="loyalty ci")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for run in runs:
        suite = ET.SubElement(root, "testsuite", name=run.name, file=run.folder)
        _check_case(suite, run, run.validation)
        if run.suite_problems:
            case = ET.SubElement(suite, "testcase", name="test suites",
                                 classname=f"{run.name}.tests")
            error = ET.SubElement(case, "error", message=run.suite_problems[0])
            error.text = "\n".join(run.suite_problems)
        for result in run.suites:
            for case_result in result.results:
                case_element(suite, case_result, f"{result.suite}: {case_result.name}",
                             f"{run.name}.{result.suite}")
        _check_case(suite, run, run.bounds)
        _check_case(suite, run, run.simulation)
        counts = {"tests": len(suite.findall("testcase")),
                  "failures": len(suite.findall("testcase/failure")),
                  "errors": len(suite.findall("testcase/error")),
                  "skipped": len(suite.findall("testcase/skipped"))}
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    return xml_text(root)


def _cell(value: Any) -> str:
    return "—" if value is None else str(value)


def _signed(value: Any) -> str:
    if value is None:
        return "—"
    text = str(value)
    return text if text.startswith("-") or text in ("0", "0.00") else f"+{text}"


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _changes(run: ProgramRun) -> list[str]:
    if run.diff is None:
        return []
    lines = [f"**What changed** ({run.base} → {run.name} v{run.version}), by rule id:", ""]
    if run.diff.identical:
        return [*lines, "- no rule changed", ""]
    for rule in run.diff.rules:
        if rule.status == "changed":
            lines += [f"- changed {_code(rule.rule)}: {_code(c.field)} "
                      f"{_cell(c.old)} → {_cell(c.new)}" for c in rule.changes]
        else:
            lines.append(f"- {rule.status} {_code(rule.rule)}")
    return [*lines, ""]


def _tests(run: ProgramRun) -> list[str]:
    lines: list[str] = []
    for result in run.suites:
        for case in result.results:
            if not case.passed:
                what = "; ".join(failure_lines(case)) or "failed"
                lines.append(f"- {_code(result.suite + ': ' + case.name)}: {what}")
    lines += [f"- {_code(problem)}" for problem in run.suite_problems]
    lines += [f"- {_code(line)}" for line in run.validation.lines]
    if run.bounds.status == FAILED:
        lines += [f"- bounds: {run.bounds.message}"]
        lines += [f"- {_code(line)}" for line in run.bounds.lines if ": $." in line]
    if len(lines) > LINES_SHOWN:
        lines = [*lines[:LINES_SHOWN], f"- … and {len(lines) - LINES_SHOWN} more (JUnit XML)"]
    return ["**Problems and failures:**", "", *lines, ""] if lines else []


def _costs(run: ProgramRun) -> list[str]:
    doc = run.doc
    if doc is None:
        return []
    other = doc.get("compare")
    if other is None:
        lines = [f"**Cost over the history** ({run.name} v{run.version}; no base version):", "",
                 "| figure | value |", "|---|---:|"]
        return [*lines, *(f"| {k} | {doc['totals'][k]} |" for k in COST_FIGURES), ""]
    names = other["versions"]["labels"]
    lines = [f"**Cost and liability** ({names['compare']} minus {names['base']}, same history):",
             "", f"| figure | {names['base']} | {names['compare']} | delta |",
             "|---|---:|---:|---:|"]
    delta = other["delta"]["totals"]
    lines += [f"| {k} | {doc['totals'][k]} | {other['totals'][k]} | {_signed(delta.get(k))} |"
              for k in COST_FIGURES]
    campaigns = {c: d for c, d in other["delta"]["campaigns"].items() if d.get("points")}
    if campaigns:
        lines += ["", "| campaign | points delta | cost delta |", "|---|---:|---:|"]
        lines += [f"| {_code(c)} | {_signed(d.get('points'))} | {_signed(d.get('cost'))} |"
                  for c, d in campaigns.items()]
    return [*lines, "", *_tiers(other, names)]


def _tiers(other: dict[str, Any], names: dict[str, str]) -> list[str]:
    moved = [m for m in other["members_changed"] if m["tier"] != m["compare_tier"]]
    ends = {t: d for t, d in other["delta"]["tiers"]["end"].items() if d}
    if not moved:
        return ["**Members whose tier moves:** none", ""]
    lines = [f"**Members whose tier moves** (first {MEMBERS_SHOWN} at most; members per tier "
             "at the end: " + ", ".join(f"{t} {_signed(d)}" for t, d in ends.items()) + "):",
             "", f"| member | {names['base']} | {names['compare']} | balance delta |",
             "|---|---|---|---:|"]
    lines += [f"| {_code(m['member_id'])} | {m['tier']} | {m['compare_tier']} | "
              f"{_signed(m['balance_delta'])} |" for m in moved[:MEMBERS_SHOWN]]
    return [*lines, ""]


def _bound(value: Any, change: str, missing: str) -> str:
    """A bound's value in one version: `unbounded`, or `—` where the version lacks it."""
    if value is None:
        return "—" if change == missing else "unbounded"
    return f"{value.normalize():f}"


def _bounds(run: ProgramRun) -> list[str]:
    if run.bounds.status == SKIPPED or run.base is None:
        return []
    if not run.bounds_moved:
        return ["**Bounds that moved:** none", ""]
    lines = ["**Bounds that moved** (proven worst cases, `loyalty verify --compare`):", "",
             "| bound | before | after | change |", "|---|---:|---:|---|"]
    lines += [f"| {_code(m.label)} | {_bound(m.old, m.change, 'new')} | "
              f"{_bound(m.new, m.change, 'gone')} | {m.change} |" for m in run.bounds_moved]
    return [*lines, ""]


def _status(check: Check) -> str:
    return {"passed": "passed", "failed": "**FAILED**", "skipped": "skipped"}[check.status]


def _program(run: ProgramRun) -> list[str]:
    title = f"### {run.name} v{_cell(run.version)} ({_code(run.folder)})"
    tests = (f"{run.tests_passed} passed, {run.tests_failed} failed" if run.suites
             else "no test suites")
    if run.suite_problems:
        tests = f"**{len(run.suite_problems)} problem(s) in the suites**"
    elif run.tests_failed:
        tests = f"**{tests}**"
    rows = [("validation (strict)", _status(run.validation), run.validation.message),
            ("rule tests", tests, ""),
            ("bounds", _status(run.bounds), run.bounds.message),
            ("simulation", _status(run.simulation), run.simulation.message)]
    lines = [title, "", "| check | result | |", "|---|---|---|"]
    lines += [f"| {name} | {result} | {detail} |" for name, result, detail in rows]
    lines.append("")
    if run.report:
        lines += [f"HTML report: {_code(run.report)}", ""]
    return [*lines, *_tests(run), *_changes(run), *_costs(run), *_bounds(run)]


def summary(runs: list[ProgramRun], code: int, skipped: list[str]) -> str:
    """The markdown summary of a run, for a pull-request comment."""
    verdict = "all checks passed" if code == EXIT_OK else f"failed (exit {code})"
    lines = [f"## loyalty ci: {len(runs)} program(s), {verdict}", ""]
    if not runs:
        lines += ["No ruleset among the changed paths.", ""]
    for run in runs:
        lines += _program(run)
    if skipped:
        lines += [f"Not in any program: {len(skipped)} path(s).", ""]
    return "\n".join(lines)
