"""The checks of `loyalty ci` for one changed program, in order: strict validation (with
warnings), the rule test suites, the proven bounds, and a compare simulation against the
base version (the live one of a service, or the program's folder in a base checkout).

Each check reuses the command that does it alone (`loyalty validate`, `loyalty test`,
`loyalty simulate`, `loyalty diff`); this module only runs them in order and keeps what
they found for the reports (cli/ci_report.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.output import EXIT_INVALID_RULESET, EXIT_OK, EXIT_TESTS_FAILED, EXIT_USAGE

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
# A generated history when none is given: the same every run (the seed), big enough that
# every tier and campaign of the shipped programs is reached, small enough to take seconds.
HISTORY_MEMBERS, HISTORY_EVENTS, HISTORY_SEED = 300, 6000, 1


@dataclass
class Check:
    """One check of a program: its outcome, a one-line message and the lines behind it
    (located errors and warnings, a simulation's figures)."""

    name: str
    status: str = SKIPPED
    message: str = ""
    lines: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Base:
    """What a program is compared with: a loaded program and where it came from, or None
    (a new program: nothing to compare with)."""

    program: Any
    label: str


@dataclass
class ProgramRun:
    """Everything `loyalty ci` found about one program."""

    folder: str
    program: str | None = None
    version: int | None = None
    validation: Check = field(default_factory=lambda: Check("validation"))
    suites: list[Any] = field(default_factory=list)  # engine.suites.runner.SuiteResult
    suite_problems: list[str] = field(default_factory=list)
    bounds: Check = field(default_factory=lambda: Check("bounds"))
    simulation: Check = field(default_factory=lambda: Check("simulation"))
    base: str | None = None
    diff: Any = None  # engine.language.diff.Diff against the base
    doc: dict[str, Any] | None = None  # the simulation document
    report: str | None = None  # the HTML report's file name, in the output folder
    bounds_moved: list[Any] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.program or self.folder

    @property
    def tests_failed(self) -> int:
        return sum(s.failed for s in self.suites)

    @property
    def tests_passed(self) -> int:
        return sum(s.passed for s in self.suites)

    @property
    def exit_code(self) -> int:
        """3 invalid (ruleset or suite), 4 a test (or a bound) failed, 1 a check could not
        run, 0 all passed."""
        if self.validation.status == FAILED or self.suite_problems:
            return EXIT_INVALID_RULESET
        if self.tests_failed or self.bounds.status == FAILED:
            return EXIT_TESTS_FAILED
        if self.simulation.status == FAILED:
            return EXIT_USAGE
        return EXIT_OK


def validate(run: ProgramRun) -> Any:
    """Strict validation: errors and warnings both fail. Returns the loaded program, or
    None when it is invalid."""
    from cli.validate_cmd import check
    from engine.errors import RulesetError, RulesetWarning
    from engine.program import load_program

    started = time.monotonic()
    report = check(run.folder)
    run.program, run.version = report["program"], report["version"]
    lines = [str(RulesetError(**e)) for e in report["errors"]]
    lines += [str(RulesetWarning(**w)) for w in report["warnings"]]
    errors, warnings = len(report["errors"]), len(report["warnings"])
    run.validation.lines = lines
    run.validation.status = FAILED if errors or warnings else PASSED
    run.validation.message = (f"{errors} problem(s), {warnings} warning(s)" if errors
                              else f"valid, {warnings} warning(s)")
    run.validation.seconds = time.monotonic() - started
    return load_program(run.folder) if report["valid"] else None


def run_tests(run: ProgramRun) -> None:
    """The program's rule test suites (its tests/ folder)."""
    from engine.errors import RulesetInvalid
    from engine.suites.runner import discover, run_paths

    if not discover([run.folder]):
        return
    try:
        run.suites = run_paths([run.folder])
    except RulesetInvalid as exc:
        run.suite_problems = [str(e) for e in exc.errors]


def failed_cases(run: ProgramRun) -> list[str]:
    """Each failing case as `file:line:col: $.cases[i]: FAIL suite: case: what` (located
    at the case in its suite file, for problem matchers)."""
    from cli.junit import failure_lines
    from engine.errors import format_path
    from engine.suites.suite_file import read_suite

    lines = []
    for result in run.suites:
        failing = [case for case in result.results if not case.passed]
        if not failing:
            continue
        suite = read_suite(Path(result.file))
        for case in failing:
            section = "cases" if case.kind == "case" else "scenarios"
            items = suite.doc.get(section) or []
            index = next((i for i, item in enumerate(items)
                          if isinstance(item, dict) and item.get("name") == case.name), None)
            where = (section, index) if index is not None else ()
            file, line, col = suite.loaded.position(where)
            what = "; ".join(failure_lines(case)) or "failed"
            lines.append(f"{file}:{line}:{col}: {format_path(where)}: FAIL {result.suite}: "
                         f"{case.name}: {what}")
    return lines


def base_from_folder(against: str, run: ProgramRun) -> Base | None:
    """The program's folder in a base checkout: the same relative folder under `against`,
    or `against` itself when it is a folder of the same program. None: a new program."""
    from cli.output import load_program_or_exit
    from engine.language.layout import declares_program, is_program_folder

    root = Path(against)
    for candidate in (root / run.folder, root):
        if is_program_folder(candidate) or declares_program(candidate):
            program = load_program_or_exit(str(candidate))
            if program.program == run.program:
                return Base(program, f"{program.program} v{program.version} ({candidate})")
    return None


def base_from_service(url: str, run: ProgramRun) -> Base | None:
    """The live version of the program on the service at `url` (key in LOYALTY_KEY).
    None: the service has no live version of it."""
    from cli.service import Service, segment
    from engine.program import load_program

    service = Service(url.rstrip("/"))
    # Every program the key may see (asking for one the service does not have is a 404).
    listing = service.call("GET", "/v1/rulesets")
    live = next((p["live_version"] for p in listing["programs"]
                 if p["program"] == run.program), None)
    if live is None:
        return None
    shown = service.call("GET", f"/v1/rulesets/{segment(run.program or '')}/{live}")
    return Base(load_program(shown["sources"]), f"{run.program} v{live} (live at {url})")


def prove_bounds(run: ProgramRun, program: Any, base: Any) -> None:
    """The proven worst cases (`loyalty verify`): the check fails when one cannot be proven
    or reproduced by the evaluator, or a declared invariant fails; against a base, the
    bounds that moved (`loyalty verify --compare`)."""
    from engine.verify import TooManyContexts, WitnessMismatch, compare, failures, prove
    from engine.verify.bounds import text

    started = time.monotonic()
    check = run.bounds
    try:
        bounds = prove(program)
        old = prove(base) if base is not None else None
    except (WitnessMismatch, TooManyContexts) as exc:
        check.status, check.message = FAILED, f"cannot be proven: {exc}"
        return
    refused = failures(program, bounds)
    check.lines = [str(e) for e in refused] + [
        f"{b.label}: {'unbounded' if b.value is None else text(b.value)} ({b.context})"
        for b in bounds.bounds]
    if old is not None:
        run.bounds_moved = [m for m in compare(old, bounds) if m.change != "same"]
    check.status = FAILED if refused else PASSED
    check.message = (f"{len(refused)} invariant(s) fail" if refused else
                     f"{len(bounds.bounds)} bound(s) proven"
                     + (f", {len(run.bounds_moved)} moved" if old is not None else ""))
    check.seconds = time.monotonic() - started


def history_for(program: Any, given: str | None, out: Path) -> str:
    """The history to simulate over: the given file, or one generated (deterministic) for
    the program into the output folder."""
    if given:
        return given
    from engine.simulation.generate import DEFAULT_END, DEFAULT_START, generate

    path = out / f"history-{program.program}.jsonl"
    with open(path, "w", encoding="utf-8", newline="\n") as stream:
        generate(stream, members=HISTORY_MEMBERS, events=HISTORY_EVENTS, seed=HISTORY_SEED,
                 start=DEFAULT_START, end=DEFAULT_END, program=program.program)
    return str(path)


def simulate(run: ProgramRun, program: Any, base: Base | None, history: str, out: Path) -> None:
    """Simulate the program over the history, compared with the base when there is one,
    and write the HTML report of `loyalty simulate --report`."""
    from engine.language.diff import diff
    from engine.simulation.report import render
    from engine.simulation.simulate import SimulationFailed
    from engine.simulation.simulate import simulate as replay

    started = time.monotonic()
    check = run.simulation
    try:
        if base is None:
            doc = replay(program, history)
        else:
            run.diff = diff(base.program, program)
            doc = replay(base.program, history, compare_with=program)
    except (SimulationFailed, OSError) as exc:
        check.status, check.message = FAILED, f"{history}: {exc}"
        return
    run.doc = doc
    run.report = f"{program.program}.html"
    title = f"{run.name} v{run.version}" + (f" compared with {base.label}" if base else "")
    (out / run.report).write_text(render(doc, title=f"loyalty ci: {title}"), encoding="utf-8")
    check.status = PASSED
    events = doc["events"]
    rejected = ""
    if events.get("rejected"):  # counted, not fatal, but said: a history of garbage is no test
        first = (events.get("errors") or [{}])[0]
        rejected = f", {events['rejected']} rejected" + (
            f" (line {first['line']}: {first['message']})" if "line" in first else "")
    check.message = (f"{events['processed']} events{rejected}, {doc['members']} members"
                     + (f", compared with {base.label}" if base else ", no base version"))
    check.seconds = time.monotonic() - started


def run_program(folder: str, against: str | None, history: str | None, out: Path,
                progress: Callable[[str], None]) -> ProgramRun:
    """Every check of one program folder, in order; a later check is skipped when the
    ruleset is invalid."""
    run = ProgramRun(folder)
    program = validate(run)
    progress(f"{folder}: validation {run.validation.status} ({run.validation.message})")
    if program is None:
        for check in (run.bounds, run.simulation):
            check.message = "skipped: the ruleset is invalid"
        return run
    run_tests(run)
    progress(f"{folder}: tests {run.tests_passed} passed, {run.tests_failed} failed"
             + (f", {len(run.suite_problems)} problem(s) in the suites"
                if run.suite_problems else ""))
    base = None
    if against:
        base = (base_from_service(against, run) if against.startswith(("http://", "https://"))
                else base_from_folder(against, run))
        run.base = base.label if base else None
    prove_bounds(run, program, base.program if base else None)
    progress(f"{folder}: bounds {run.bounds.status} ({run.bounds.message})")
    simulate(run, program, base, history_for(program, history, out), out)
    progress(f"{folder}: simulation {run.simulation.status} ({run.simulation.message})")
    return run
