"""`loyalty validate` and `loyalty schema` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(str(p) for p in (ROOT / "rulesets").iterdir() if p.is_dir())
MALFORMED = sorted(p for p in (ROOT / "tests" / "engine" / "malformed").iterdir()
                   if p.name != "expected.yaml")


def run(*args: str):  # returns click.testing.Result
    return CliRunner().invoke(cli, list(args))


def test_shipped_rulesets_are_ok() -> None:
    result = run("validate", *SHIPPED)
    assert result.exit_code == 0, result.output
    for path in SHIPPED:
        assert f"{path}: ok ({Path(path).name} v1)" in result.output


def test_invalid_ruleset_lists_errors_and_a_summary() -> None:
    bad = str(ROOT / "tests/engine/malformed/between_misuse.yaml")
    result = run("validate", bad, SHIPPED[0])
    assert result.exit_code == 3, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == "2 problems in 1 ruleset"
    assert lines[0].startswith(f"{bad}:7:32: $.rules[0].when.between: between takes exactly")
    assert any(line.endswith("ok (" + Path(SHIPPED[0]).name + " v1)") for line in lines)


def test_json_output() -> None:
    bad = str(ROOT / "tests/engine/malformed/unknown_key_did_you_mean.yaml")
    result = run("validate", "--output", "json", bad, SHIPPED[-1])
    assert result.exit_code == 3, result.output
    report = json.loads(result.output)
    assert report["valid"] is False and report["problems"] == 2
    first, second = report["rulesets"]
    assert (first["valid"], second["valid"]) == (False, True)
    assert second["program"] == Path(SHIPPED[-1]).name and second["errors"] == []
    unknown = next(e for e in first["errors"] if "unknown key" in e["message"])
    assert unknown == {"file": bad, "line": 8, "col": 5, "path": "$.campaigns[0].multiplyer",
                       "message": "unknown key 'multiplyer'",
                       "hint": "Did you mean 'multiplier'?"}


@pytest.mark.parametrize("path", MALFORMED, ids=lambda p: p.name)
def test_every_malformed_ruleset_exits_3_without_a_traceback(path: Path) -> None:
    for output in ("text", "json"):
        result = run("validate", "-o", output, str(path))
        assert result.exit_code == 3, result.output
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_missing_path_and_parent_folder(tmp_path: Path) -> None:
    result = run("validate", str(tmp_path / "nope"))
    assert result.exit_code == 3, result.output
    assert f"{tmp_path / 'nope'}:1:1: $: no such file or folder" in result.output
    result = run("validate", str(ROOT / "rulesets"))
    assert result.exit_code == 3, result.output
    assert "rulesets/*" in result.output


def test_unexpected_errors_become_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(_loaded: object) -> list[object]:
        raise RuntimeError("kaboom")

    monkeypatch.setattr("cli.validate_cmd.validate_ruleset", boom)
    result = run("validate", SHIPPED[0])
    assert result.exit_code == 3, result.output
    assert "unexpected error: RuntimeError: kaboom" in result.output
    assert "Traceback" not in result.output


def test_validate_needs_a_path_and_has_help() -> None:
    assert run("validate").exit_code == 2
    result = run("validate", "--help")
    assert result.exit_code == 0 and "loyalty validate rulesets/retail" in result.output


def test_schema_lists_prints_and_writes(tmp_path: Path) -> None:
    listed = run("schema")
    assert listed.exit_code == 0 and "ruleset" in listed.output.split()
    printed = run("schema", "ruleset")
    assert printed.exit_code == 0, printed.output
    assert json.loads(printed.output)["title"] == "Loyalty ruleset"
    written = run("schema", "--out", str(tmp_path / "out"))
    assert written.exit_code == 0, written.output
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "ruleset.schema.json" in files and "evaluation-request.schema.json" in files
    shipped = json.loads((ROOT / "schemas" / "ruleset.schema.json").read_text())
    assert json.loads((tmp_path / "out" / "ruleset.schema.json").read_text()) == shipped


def test_schema_unknown_name_is_a_usage_error() -> None:
    result = run("schema", "nope")
    assert result.exit_code == 1
    assert "unknown schema 'nope'" in result.output
    assert "loyalty schema ruleset" in run("schema", "--help").output


WARNED = """\
program: warned
version: 1
earning: {base_rate: "1", categories: {fashion: 2}}
campaigns:
  - {id: fashion-week, type: category_bonus, categories: [fashon], multiplier: 3}
  - {id: welcome, type: fixed_bonus, points: 500, budget: {points: 100}}
"""


@pytest.fixture
def warned(tmp_path: Path) -> str:
    path = tmp_path / "warned.yaml"
    path.write_text(WARNED)
    return str(path)


def test_warnings_print_after_errors_and_exit_0(warned: str) -> None:
    bad = str(ROOT / "tests/engine/malformed/between_misuse.yaml")
    result = run("validate", warned, bad)
    assert result.exit_code == 3, result.output  # for the invalid one, not the warnings
    lines = result.output.strip().splitlines()
    assert lines[0] == f"{warned}: ok (warned v1)"
    assert lines[1].startswith(f"{bad}:7:32: ")
    assert lines[3] == (
        f"{warned}:5:59: $.campaigns[0].categories[0]: warning[unknown_category]: category "
        "'fashon' is named nowhere else in the program, so no order may carry it (hint: Did "
        "you mean 'fashion'? Declare the program's categories under `categories:` to check "
        "every name against one list.)")
    assert lines[4].startswith(f"{warned}:6:68: $.campaigns[1].budget.points: "
                               "warning[budget_below_one_order]: budget of 100 points")
    assert lines[-2:] == ["2 problems in 1 ruleset", "2 warnings in 1 ruleset"]
    alone = run("validate", warned)
    assert alone.exit_code == 0, alone.output


def test_strict_turns_warnings_into_exit_3(warned: str) -> None:
    assert run("validate", "--strict", warned).exit_code == 3
    assert run("validate", "--strict", *SHIPPED).exit_code == 0


def test_json_carries_the_warnings(warned: str) -> None:
    result = run("validate", "-o", "json", warned, SHIPPED[0])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["valid"], report["problems"], report["warnings"]) == (True, 0, 2)
    first, shipped = report["rulesets"]
    assert shipped["warnings"] == []
    assert first["errors"] == [] and first["warnings"][0] == {
        "file": warned, "line": 5, "col": 59, "path": "$.campaigns[0].categories[0]",
        "message": "category 'fashon' is named nowhere else in the program, so no order may "
                   "carry it",
        "hint": "Did you mean 'fashion'? Declare the program's categories under "
                "`categories:` to check every name against one list.",
        "code": "unknown_category"}
    assert [w["code"] for w in first["warnings"]] == ["unknown_category",
                                                      "budget_below_one_order"]
