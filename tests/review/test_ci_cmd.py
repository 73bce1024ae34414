"""`loyalty ci` on a scratch git repository of programs, commit by commit: version 2
raises a multiplier (and its rule test), so the summary shows the cost delta and the run
passes; the next commit changes a multiplier its tests pin, so the run exits 4 and the
JUnit XML shows the failing case. Then what it does with bad input."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from engine.simulation.simulate import simulate
from tests.review.scratch import commit, edit, example_repo, git, raise_home_multiplier


def loyalty(cwd: Path, *args: str, key: str | None = None) -> Result:
    here = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, list(args), env={"LOYALTY_URL": None, "LOYALTY_KEY": key},
                                  catch_exceptions=False)
    finally:
        os.chdir(here)


def ci_against_parent(repo: Path, base: Path, out: str) -> Result:
    """`loyalty ci` on the files the last commit changed, against its parent checked out."""
    git(repo, "worktree", "add", "-q", "--detach", str(base), "HEAD~1")
    changed = git(repo, "diff", "--name-only", "HEAD~1", "HEAD").stdout.split()
    assert changed
    return loyalty(repo, "ci", *changed, "--against", str(base), "--out", out)


def cost_row(summary: str, figure: str) -> tuple[str, str, str]:
    found = re.search(rf"^\| {figure} \| (\S+) \| (\S+) \| (\S+) \|$", summary, re.MULTILINE)
    assert found, summary
    return found.group(1), found.group(2), found.group(3)


def test_a_raised_multiplier_passes_with_its_cost_delta_and_a_broken_test_exits_4(
        tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    raise_home_multiplier(repo)
    commit(repo, "home earns x1.5")

    result = ci_against_parent(repo, tmp_path / "base-1", "report")
    assert result.exit_code == 0, result.output
    report = repo / "report"
    summary = (report / "summary.md").read_text()
    assert summary.startswith("## loyalty ci: 1 program(s), all checks passed")
    assert "| validation (strict) | passed |" in summary
    assert "changed `earning.categories.home`: `value` 1.25 → 1.5" in summary
    # The cost delta is the simulator's own: both versions over the generated history.
    doc = simulate(tmp_path / "base-1" / "programs" / "retail", report / "history-retail.jsonl",
                   compare_with=repo / "programs" / "retail")
    before, after, delta = cost_row(summary, "points_issued")
    assert (int(before), int(after)) == (doc["totals"]["points_issued"],
                                         doc["compare"]["totals"]["points_issued"])
    assert int(delta) == int(after) - int(before) > 0
    before, after, delta = cost_row(summary, "liability")
    assert delta == "+" + doc["compare"]["delta"]["totals"]["liability"]
    assert "retail v1" in (report / "retail.html").read_text()
    suite = ET.parse(report / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "retail"
    assert suite.get("failures") == "0" and int(suite.get("tests") or 0) > 30
    names = [c.get("name") for c in suite.iter("testcase")]
    assert names[0] == "validation" and names[-2:] == ["bounds", "simulation"]

    edit(repo / "programs" / "retail" / "earning.yaml", "fashion: 1.5", "fashion: 1.75")
    commit(repo, "fashion earns x1.75 (its tests not updated)")
    result = ci_against_parent(repo, tmp_path / "base-2", "report")
    assert result.exit_code == 4, result.output
    assert re.search(r"^programs/retail/tests/earning_test\.yaml:\d+:5: \$\.cases\[\d+\]: FAIL "
                     r"retail earning: bronze fashion earns x 1\.5: points: expected 150, got 175",
                     result.output, re.MULTILINE), result.output
    root = ET.parse(report / "junit.xml").getroot()
    failed = {c.get("name"): c.find("failure") for c in root.iter("testcase")
              if c.find("failure") is not None}
    failure = failed["retail earning: bronze fashion earns x 1.5"]
    assert failure is not None and failure.get("message") == "points: expected 150, got 175"
    assert root.get("failures") == str(len(failed))
    summary = (report / "summary.md").read_text()
    assert summary.startswith("## loyalty ci: 1 program(s), failed (exit 4)")
    assert "`retail earning: bronze fashion earns x 1.5`: points: expected 150, got 175" in summary
    assert "changed `earning.categories.fashion`: `value` 1.5 → 1.75" in summary


def test_the_summary_lists_the_bounds_that_moved(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    shutil.rmtree(repo / "programs" / "retail" / "tests")  # none pins the multiplier here
    commit(repo, "no rule tests")
    # platinum ×2 × electronics ×3 × double points weekend ×2: 12 points per 1.00, was 8
    edit(repo / "programs" / "retail" / "earning.yaml", "electronics: 2.0", "electronics: 3.0")
    commit(repo, "electronics earns x3")
    result = ci_against_parent(repo, tmp_path / "base", "out")
    assert result.exit_code == 0, result.output
    summary = (repo / "out" / "summary.md").read_text()
    assert "| `max_points_per_unit` | 8 | 12 | up |" in summary, summary
    assert "| `max_value_back` | 0.08 | 0.12 | up |" in summary
    assert "| bounds | passed |" in summary
    assert "| rule tests | no test suites |" in summary


def test_changed_files_map_to_their_program_once_and_other_files_are_left_out(
        tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    result = loyalty(repo, "ci", "programs/retail/earning.yaml", "programs/retail/tiers.yaml",
                     "programs/retail/tests/tiers_test.yaml", ".gitlab-ci.yml", "README.md",
                     "--out", "out")
    assert result.exit_code == 0, result.output
    root = ET.parse(repo / "out" / "junit.xml").getroot()
    assert [s.get("name") for s in root.iter("testsuite")] == ["retail"]
    summary = (repo / "out" / "summary.md").read_text()
    assert "no base version" in summary and "Not in any program: 2 path(s)." in summary

    result = loyalty(repo, "ci", "README.md", "--out", "out")
    assert result.exit_code == 0
    assert "nothing to check" in result.output
    assert "No ruleset among the changed paths." in (repo / "out" / "summary.md").read_text()


def test_an_invalid_ruleset_exits_3_located_and_skips_the_rest(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    edit(repo / "programs" / "retail" / "earning.yaml", "home: 1.25", 'home: "lots"')
    result = loyalty(repo, "ci", "programs/retail", "--out", "out")
    assert result.exit_code == 3, result.output
    assert re.search(r"programs/retail/earning\.yaml:\d+:\d+: \$\.earning\.categories\.home: ",
                     result.output)
    assert "Traceback" not in result.output
    root = ET.parse(repo / "out" / "junit.xml").getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert cases["validation"].find("failure") is not None
    assert cases["simulation"].find("skipped") is not None


def test_a_warning_fails_strict_validation(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    # A campaign's category named nowhere else in the program: a warning.
    edit(repo / "programs" / "retail" / "campaigns.yaml", "categories: [fashion]",
         "categories: [fashon]")
    plain = loyalty(repo, "validate", "programs/retail")
    assert plain.exit_code == 0 and "warning[" in plain.output, plain.output
    result = loyalty(repo, "ci", "programs/retail", "--out", "out")
    assert result.exit_code == 3, result.output
    assert re.search(r"programs/retail/campaigns\.yaml:\d+:\d+: \$\.campaigns\[\d\]\.categories"
                     r"\[0\]: warning\[unknown_category\]", result.output), result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--against", "no/such/checkout"], "--against no/such/checkout: no such folder"),
    (["--against", "http://127.0.0.1:9"], "cannot reach the loyalty service"),
    (["--history", "missing.jsonl"], "'missing.jsonl' does not exist"),
])
def test_bad_arguments_are_one_line_never_a_traceback(tmp_path: Path, args: list[str],
                                                      message: str) -> None:
    repo = example_repo(tmp_path / "repo")
    result = loyalty(repo, "ci", "programs/retail", *args, key="lrk_not_a_key")
    assert result.exit_code in (1, 2), result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_history_of_garbage_is_counted_not_fatal(tmp_path: Path) -> None:
    repo = example_repo(tmp_path / "repo")
    (repo / "junk.jsonl").write_text('{"type": "order"}\nnot json\n\x00\n', encoding="utf-8")
    result = loyalty(repo, "ci", "programs/retail", "--history", "junk.jsonl", "--out", "out")
    assert result.exit_code == 0, result.output
    summary = (repo / "out" / "summary.md").read_text()
    assert "0 events, 3 rejected (line 1: " in summary and "0 members" in summary, summary
    assert "0 events, 3 rejected (line 1: " in result.output
