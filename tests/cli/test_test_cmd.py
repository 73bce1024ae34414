"""`loyalty test` on suite files with problems: every problem located, sorted, with
did-you-mean hints, exit 3 (distinct from 4, failing cases), and nothing runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from engine.errors import RulesetInvalid
from engine.suites.runner import run_paths

ROOT = Path(__file__).resolve().parents[2]
SUITE = """\
suite: broken on purpose
now: 2026-06-02T15:00:00Z
fixtures:
  members:
    business: {tier: business}
    poor: {tierr: standard, points_balance: 900}
    ghost: {tier: platinum}
  carts:
    supplies-1000: {lines: [{sku: PAPER, category: office_supplies, quantity: 100, unit_price: 10.00}]}
cases:
  - name: twice
    member: busines
    cart: supplies-100
    expect: {points: 1100, by_rule: {tiers.busines: 100}, campaigns: [spring]}
  - name: twice
    member: {id: M-1, tier: business, pionts_balance: 5}
    cart: supplies-1000
    expect: {tier_after: standrd, pionts: 3}
scenarios:
  - name: a refund
    events:
      - {type: order, at: "2026-06-02T15:00:00Z", cart: supplies-1001}
      - {type: refnd, at: "2026-06-03T15:00:00Z"}
    expect: {balance: 0, campaign_usage: {spring: 1}}
"""
EXPECTED = [
    (6, 12, "$.fixtures.members.poor.tierr", "unknown key 'tierr'", "Did you mean 'tier'?"),
    (7, 19, "$.fixtures.members.ghost.tier", "unknown tier 'platinum'",
     "Known tiers: standard, business, enterprise."),
    (12, 13, "$.cases[0].member", "unknown member fixture 'busines'",
     "Did you mean 'business'?"),
    (13, 11, "$.cases[0].cart", "unknown cart fixture 'supplies-100'",
     "Did you mean 'supplies-1000'?"),
    (14, 38, "$.cases[0].expect.by_rule['tiers.busines']", "unknown rule id 'tiers.busines'",
     "Did you mean 'tiers.business'?"),
    (14, 71, "$.cases[0].expect.campaigns[0]", "unknown campaign 'spring'",
     "No campaigns are defined in the ruleset under test."),
    (15, 11, "$.cases[1].name", "duplicate name 'twice'",
     ("cases[0] (line 11) has it already; names identify results in reports, so each must "
      "be unique.")),
    (16, 39, "$.cases[1].member.pionts_balance", "unknown key 'pionts_balance'",
     "Did you mean 'points_balance'?"),
    (18, 26, "$.cases[1].expect.tier_after", "unknown tier 'standrd'",
     "Did you mean 'standard'?"),
    (18, 35, "$.cases[1].expect.pionts", "unknown key 'pionts'", "Did you mean 'points'?"),
    (22, 57, "$.scenarios[0].events[0].cart", "unknown cart fixture 'supplies-1001'",
     "Did you mean 'supplies-1000'?"),
    (23, 16, "$.scenarios[0].events[1].type",
     "'refnd' is not one of: order, refund, activity, redemption, auto_redemption",
     "Did you mean 'refund'?"),
    (24, 43, "$.scenarios[0].expect.campaign_usage.spring", "unknown campaign 'spring'",
     "No campaigns are defined in the ruleset under test."),
]


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    folder = tmp_path / "b2b-portal"
    shutil.copytree(ROOT / "rulesets" / "b2b-portal", folder)
    (folder / "tests" / "broken_test.yaml").write_text(SUITE)
    return folder


def test_every_problem_of_a_suite_is_located_sorted_and_hinted(broken: Path) -> None:
    with pytest.raises(RulesetInvalid) as caught:
        run_paths([broken])
    file = str(broken / "tests" / "broken_test.yaml")
    got = [(e.file, e.line, e.col, e.path, e.message, e.hint) for e in caught.value.errors]
    assert got == [(file, *row) for row in EXPECTED]


def test_loyalty_test_prints_them_and_exits_3_before_running_anything(broken: Path) -> None:
    for output in ("text", "json", "junit"):
        result = CliRunner().invoke(cli, ["test", "-o", output, str(broken)])
        assert result.exit_code == 3, result.output
        lines = result.output.strip().splitlines()
        file = broken / "tests" / "broken_test.yaml"
        assert lines[0] == (f"{file}:6:12: $.fixtures.members.poor.tierr: unknown key 'tierr' "
                            "(hint: Did you mean 'tier'?)")
        assert len(lines) == len(EXPECTED) + 1
        assert lines[-1] == (f"error: {len(EXPECTED)} problem(s) in the test suites or the "
                             "rulesets they test")
        assert "Traceback" not in result.output and "passed" not in result.output


def test_a_suite_naming_a_missing_ruleset_is_located(tmp_path: Path) -> None:
    suite = tmp_path / "x_test.yaml"
    suite.write_text("suite: x\nruleset: ../nowhere\ncases: []\n")
    result = CliRunner().invoke(cli, ["test", str(suite)])
    assert result.exit_code == 3
    assert f"{suite}:2:10: $.ruleset: no ruleset file or folder '../nowhere'" in result.output


def test_suite_yaml_errors_are_located_like_ruleset_ones(tmp_path: Path) -> None:
    suite = tmp_path / "x_test.yaml"
    suite.write_text("suite: x\ncases: [{name: a\n")
    result = CliRunner().invoke(cli, ["test", str(suite)])
    assert result.exit_code == 3
    assert f"{suite}:2:9: $: YAML syntax error: flow mapping opened here" in result.output


def test_failing_cases_still_exit_4_with_json(tmp_path: Path) -> None:
    folder = tmp_path / "b2b-portal"
    shutil.copytree(ROOT / "rulesets" / "b2b-portal", folder)
    suite = folder / "tests" / "b2b_portal_test.yaml"
    suite.write_text(suite.read_text().replace("expect: {points: 1000,", "expect: {points: 999,"))
    result = CliRunner().invoke(cli, ["test", "-o", "json", str(folder)])
    assert result.exit_code == 4
    report = json.loads(result.output)
    assert report["summary"]["failed"] == 1


def test_a_value_of_no_allowed_type_says_which_types_are(tmp_path: Path) -> None:
    suite = tmp_path / "x_test.yaml"
    suite.write_text(f"suite: x\nruleset: {ROOT / 'rulesets' / 'b2b-portal'}\n"
                     "cases:\n  - {name: a, member: 5, cart: {lines: []}, expect: {points: 1}}\n")
    with pytest.raises(RulesetInvalid) as caught:
        run_paths([suite])
    assert [str(e) for e in caught.value.errors] == [
        f"{suite}:4:23: $.cases[0].member: expected a string or a mapping, got integer",
        f"{suite}:4:33: $.cases[0].cart.lines: needs at least 1 item"]
