"""Rule test suites: the shipped ones pass, and a changed rule in any section fails one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from cli.main import cli
from engine.program import load_program
from engine.suites.runner import discover, run_paths

ROOT = Path(__file__).resolve().parents[2]
RULESETS = ROOT / "rulesets"


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("program", ["retail", "card-rewards", "b2b-portal"])
def test_shipped_suites_pass(program: str) -> None:
    result = invoke("test", str(RULESETS / program))
    assert result.exit_code == 0, result.output
    assert ", 0 failed" in result.output.splitlines()[-1]


def test_every_program_ships_suites_with_cases_and_scenarios() -> None:
    for program in ("retail", "card-rewards", "b2b-portal"):
        files = discover([RULESETS / program])
        assert files, program
        results = run_paths(files)
        kinds = {r.kind for s in results for r in s.results}
        assert kinds == {"case", "scenario"}, program


def _copy(program: str, tmp_path: Path) -> Path:
    target = tmp_path / program
    shutil.copytree(RULESETS / program, target)
    return target


def _edit(folder: Path, file: str, old: str, new: str) -> None:
    path = folder / file
    text = path.read_text()
    assert old in text, (file, old)
    path.write_text(text.replace(old, new, 1))


def test_changed_multiplier_exits_4_with_expected_and_actual(tmp_path: Path) -> None:
    folder = _copy("retail", tmp_path)
    _edit(folder, "earning.yaml", "electronics: 2.0", "electronics: 2.5")
    result = invoke("test", str(folder))
    assert result.exit_code == 4, result.output
    out = result.output
    assert "FAIL  case worked example - gold electronics on a weekday" in out
    assert "expected: 300" in out and "actual:   375" in out
    assert "trace:" in out and "earning.categories.electronics" in out


def test_junit_output_is_valid_xml_with_the_failures(tmp_path: Path) -> None:
    folder = _copy("retail", tmp_path)
    _edit(folder, "earning.yaml", "electronics: 2.0", "electronics: 2.5")
    result = invoke("test", "--output", "junit", str(folder))
    assert result.exit_code == 4
    root = ET.fromstring(result.stdout.split("\n", 1)[1])
    assert root.tag == "testsuites"
    assert int(root.get("failures")) >= 2
    failures = root.findall(".//testcase/failure")
    assert any("expected 300, got 375" in (f.text or "") for f in failures)


def test_json_output(tmp_path: Path) -> None:
    result = invoke("test", "--output", "json", str(RULESETS / "b2b-portal"))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["summary"]["failed"] == 0 and doc["summary"]["passed"] > 10


# A change in any section of any program must make at least one shipped case fail.
MUTATIONS = [
    ("retail", "earning.yaml", "fashion: 1.5", "fashion: 1.6"),
    ("retail", "earning.yaml", "categories: [gift_cards]", "categories: [tobacco]"),
    ("retail", "earning.yaml", "first_purchase: {points: 200", "first_purchase: {points: 250"),
    ("retail", "tiers.yaml", 'min_spend: "500.00", min_orders: 5', 'min_spend: "400.00", min_orders: 5'),
    ("retail", "tiers.yaml", "points_multiplier: 1.25", "points_multiplier: 1.3"),
    ("retail", "tiers.yaml", "window: calendar_year", "window: lifetime"),
    ("retail", "tiers.yaml", "policy: end_of_next_window", "policy: end_of_window"),
    ("retail", "tiers.yaml", 'free_shipping_threshold: "50.00"', 'free_shipping_threshold: "45.00"'),
    ("retail", "campaigns.yaml", "monthly: {nth: 1, weekday: saturday, days: 2}",
     "monthly: {nth: 1, weekday: saturday, days: 1}"),
    ("retail", "campaigns.yaml", 'to: "2026-09-20"', 'to: "2026-09-21"'),
    ("retail", "campaigns.yaml", "window_days: 30", "window_days: 45"),
    ("retail", "campaigns.yaml", "eligibility: {tiers: [bronze, silver, gold]}",
     "eligibility: {tiers: [bronze, silver]}"),
    ("retail", "redemption.yaml", "min_points: 500", "min_points: 400"),
    ("retail", "redemption.yaml", "max_order_fraction: 0.5", "max_order_fraction: 0.6"),
    ("retail", "redemption.yaml", "expiry: {months: 24}", "expiry: {months: 25}"),
    ("retail", "redemption.yaml", "tiers: [platinum]", "tiers: [gold, platinum]"),
    ("retail", "rules.yaml", '{field: order.total, gte: "1000.00"}', '{field: order.total, gte: "900.00"}'),
    ("card-rewards", "seasonal_categories.yaml", 'cap: {spend: "1500.00", period: rotation}',
     'cap: {spend: "2000.00", period: rotation}'),
    ("card-rewards", "seasonal_categories.yaml", 'to: "2026-03-31"', 'to: "2026-03-30"'),
    ("card-rewards", "earning.yaml", "groceries: \"3.0\"", "groceries: \"2.0\""),
    ("card-rewards", "tiers.yaml", "window: rolling_12_months", "window: calendar_year"),
    ("card-rewards", "redemption.yaml", "min_points: 2500", "min_points: 2000"),
    ("card-rewards", "redemption.yaml", "frequency: {count: 1, per: month}",
     "frequency: {count: 2, per: month}"),
    ("b2b-portal", "tiers.yaml", "points_multiplier: 1.1", "points_multiplier: 1.2"),
    ("b2b-portal", "tiers.yaml", 'min_spend: "50000.00", min_orders: 12', 'min_spend: "50000.00", min_orders: 10'),
    ("b2b-portal", "redemption.yaml", "min_points: 1000", "min_points: 1500"),
    ("b2b-portal", "redemption.yaml", "tiers: [business, enterprise]", "tiers: [enterprise]"),
]


@pytest.mark.parametrize("program,file,old,new", MUTATIONS,
                         ids=[f"{m[0]}:{m[1]}:{m[3][:30]}" for m in MUTATIONS])
def test_a_changed_rule_is_caught(tmp_path: Path, program: str, file: str, old: str,
                                  new: str) -> None:
    folder = _copy(program, tmp_path)
    _edit(folder, file, old, new)
    results = run_paths([folder])
    assert sum(s.failed for s in results) > 0, f"no suite noticed {old!r} -> {new!r}"


def test_the_tests_folder_is_not_part_of_the_ruleset(tmp_path: Path) -> None:
    folder = _copy("retail", tmp_path)
    (folder / "tests" / "broken.yaml").write_text("earning: {base_rate: [not, a, rate]}\n")
    assert load_program(folder).digest == load_program(RULESETS / "retail").digest


def test_a_malformed_suite_exits_3_located_and_nothing_runs(tmp_path: Path) -> None:
    folder = _copy("b2b-portal", tmp_path)
    bad = folder / "tests" / "bad_test.yaml"
    bad.write_text("suite: bad\ncases: [{name: x}]\n")
    result = invoke("test", str(folder))
    assert result.exit_code == 3
    assert f"{bad}:2:9: $.cases[0]: missing required key 'expect'" in result.output
    assert "passed" not in result.output


def test_an_invalid_ruleset_exits_3(tmp_path: Path) -> None:
    folder = _copy("b2b-portal", tmp_path)
    _edit(folder, "earning.yaml", 'base_rate: "1"', "base_rate: [1]")
    result = invoke("test", str(folder))
    assert result.exit_code == 3
