"""`loyalty verify` (and `validate`, `publish` refusing a failing invariant) through
click's CliRunner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from cli.main import cli
from tests.engine.test_verify import INVARIANTS, PLANTED

ROOT = Path(__file__).resolve().parents[2]
RETAIL = str(ROOT / "rulesets" / "retail")


def run(*args: str):  # returns click.testing.Result
    return CliRunner().invoke(cli, list(args))


def draft(tmp_path: Path, campaigns: str = PLANTED, invariants: str = INVARIANTS) -> str:
    folder = tmp_path / "retail-draft"
    shutil.copytree(RETAIL, folder, ignore=shutil.ignore_patterns("tests"))
    with (folder / "campaigns.yaml").open("a") as out:
        out.write(campaigns)
    if invariants:
        (folder / "invariants.yaml").write_text(invariants)
    return str(folder)


def test_verify_prints_the_worst_cases_of_a_program_without_invariants() -> None:
    result = run("verify", RETAIL)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"{RETAIL}: retail v1: 100 contexts over 5 day classes"
    assert lines[1].startswith("max_points_per_unit: 8  (points per 1.00")
    assert lines[2] == ("  where: platinum, 2026-01-03 (Saturday), electronics: tiers.platinum"
                        " × earning.categories × campaigns.double-points-weekend")
    witness = json.loads(lines[3].removeprefix("  witness: "))
    assert witness["order"]["placed_at"] == "2026-01-03T12:00:00-05:00"
    assert lines[4] == "  evaluator reproduces: 8"
    assert "max_campaign_points_per_day[fashion-week]: unbounded" in result.output


def test_the_planted_mistake_fails_verify_validate_and_publish(tmp_path: Path) -> None:
    path = draft(tmp_path)
    result = run("verify", path)
    assert result.exit_code == 3
    assert "invariant max_points_per_unit ≤ 8: FAILS" in result.output
    assert "invariant max_bonus_points_per_order ≤ 850: holds" in result.output
    located = (f"{path}/invariants.yaml:2:24: $.invariants.max_points_per_unit: invariant "
               "fails: max_points_per_unit reaches 12, above the limit 8, in platinum, "
               "2026-10-03 (Saturday)")
    assert located in result.output
    validated = run("validate", path)
    assert validated.exit_code == 3 and located in validated.output
    assert validated.output.strip().endswith("2 problems in 1 ruleset")
    published = run("publish", path, "--database-url", f"sqlite:///{tmp_path}/never.db")
    assert published.exit_code == 3 and located in published.output
    assert "2 invariant(s) fail" in published.output
    assert not (tmp_path / "never.db").exists()


def test_holding_invariants_validate(tmp_path: Path) -> None:
    path = draft(tmp_path, campaigns="")
    assert run("verify", path).exit_code == 0
    result = run("validate", path)
    assert result.exit_code == 0 and "ok (retail v1)" in result.output


def test_compare_shows_how_a_draft_moves_each_bound(tmp_path: Path) -> None:
    path = draft(tmp_path, invariants="")
    result = run("verify", path, "--compare", RETAIL)
    assert result.exit_code == 0, result.output
    tail = result.output.split(f"compared with {RETAIL}:\n")[1].splitlines()
    assert tail == [
        "  max_points_per_unit: 8 → 12  up (+4)",
        "  max_value_back: 0.08 → 0.12  up (+0.04)",
        "  max_bonus_points_per_order: 850 → 850  same",
        "  max_campaign_points_per_day[double-points-weekend]: unbounded → unbounded  same",
        "  max_campaign_points_per_day[fashion-week]: unbounded → unbounded  same",
        "  max_campaign_points_per_day[october-electronics]: - → unbounded  new",
    ]
    doc = json.loads(run("verify", path, "--compare", RETAIL, "-o", "json").output)
    assert doc["valid"] is True and doc["contexts"] == 160 and doc["day_classes"] == 8
    assert doc["compare"]["movements"][0] == {
        "quantity": "max_points_per_unit", "subject": None, "old": "8", "new": "12",
        "delta": "4", "change": "up",
        "old_context": "platinum, 2026-01-03 (Saturday), electronics: tiers.platinum × "
                       "earning.categories × campaigns.double-points-weekend",
        "new_context": "platinum, 2026-10-03 (Saturday), electronics: tiers.platinum × "
                       "earning.categories × campaigns.double-points-weekend × "
                       "campaigns.october-electronics"}


def test_json_of_a_failing_invariant(tmp_path: Path) -> None:
    result = run("verify", draft(tmp_path), "-o", "json")
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    assert doc["valid"] is False
    assert [e["path"] for e in doc["errors"]] == ["$.invariants.max_points_per_unit",
                                                  "$.invariants.max_value_back"]
    assert doc["bounds"][0]["witness"][0]["order"]["placed_at"] == "2026-10-03T12:00:00-04:00"


def test_compare_with_another_program_is_refused() -> None:
    cards = str(ROOT / "rulesets" / "card-rewards")
    result = run("verify", RETAIL, "--compare", cards)
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1] == (
        f"error: --compare {cards}: program card-rewards, not retail; compare two versions "
        "of one program")
