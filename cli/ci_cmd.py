"""`loyalty ci`: every check of the changed programs in one step, with reports for review."""

from __future__ import annotations

from pathlib import Path

import click

from cli.output import EXIT_INVALID_RULESET, EXIT_OK, EXIT_TESTS_FAILED, EXIT_USAGE, fail

# When programs end differently, the exit code is the first of these that any has.
PRECEDENCE = (EXIT_INVALID_RULESET, EXIT_TESTS_FAILED, EXIT_USAGE)


def exit_code(codes: list[int]) -> int:
    return next((code for code in PRECEDENCE if code in codes), EXIT_OK)


@click.command("ci")
@click.argument("paths", nargs=-1, metavar="PATH...")
@click.option("--against", metavar="URL|PATH",
              help="Compare with the live version on the service at URL (key in "
                   "LOYALTY_KEY), or with the program's folder in a base checkout at PATH.")
@click.option("--history", type=click.Path(exists=True, dir_okay=False),
              help="Event history to simulate over (JSON Lines or order CSV); default: a "
                   "generated one, the same every run.")
@click.option("--out", "out_dir", default="loyalty-ci", show_default=True,
              type=click.Path(file_okay=False),
              help="Folder for junit.xml, summary.md and each program's HTML report.")
def ci(paths: tuple[str, ...], against: str | None, history: str | None,
       out_dir: str) -> None:
    """Check changed programs for review: validate, test, bounds, compare simulation.

    PATHs are changed files or program folders (`git diff --name-only` lists them); each
    program they belong to is checked once, in order: strict validation (warnings fail
    too), its rule test suites, its proven bounds, and a simulation compared with the
    base version (--against) over a history. Problems print as `file:line:col: $.path:
    message`. The folder --out receives junit.xml (a testsuite per program), summary.md
    (for a pull-request comment: what changed by rule id, tests, cost and liability
    deltas, members whose tier moves, bounds that moved) and <program>.html (the
    simulation report). Exit 0 when everything passed, 3 when a ruleset or suite is
    invalid (a failing invariant or, strict, a warning included), 4 when a test case
    fails or a bound cannot be proven, 1 when a check cannot run.

    \b
    Example:
      loyalty ci retail --against ../base-checkout        # a base revision's folders
      LOYALTY_KEY=$VIEWER_KEY loyalty ci $(git diff --name-only origin/main...) \\
          --against https://loyalty.example.com --history history.jsonl --out ci-report
    """
    from cli.ci_report import junit, summary
    from cli.ci_run import failed_cases, run_program
    from engine.language.layout import programs_of

    if against and not against.startswith(("http://", "https://")) and not Path(against).exists():
        fail(f"--against {against}: no such folder (a base checkout, or the service's "
             "http(s) URL)")
    found = programs_of(paths)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--out {out_dir}: {exc.strerror or exc}")
    runs = []
    for folder in found.folders:
        run = run_program(str(folder), against, history, out, click.echo)
        for line in [*run.validation.lines, *run.suite_problems, *failed_cases(run)]:
            click.echo(line)
        runs.append(run)
    code = exit_code([run.exit_code for run in runs])
    (out / "junit.xml").write_text(junit(runs), encoding="utf-8")
    (out / "summary.md").write_text(summary(runs, code, found.other), encoding="utf-8")
    if not runs:
        click.echo("no ruleset among the paths: nothing to check")
    click.echo(f"reports in {out}: junit.xml, summary.md"
               + "".join(f", {run.report}" for run in runs if run.report))
    raise SystemExit(code)
