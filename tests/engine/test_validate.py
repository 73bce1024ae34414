"""Validation: every malformed ruleset yields the expected located errors; shipped ones pass."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.errors import RulesetInvalid
from engine.language.loader import load_path, load_sources
from engine.language.schema_check import _fast_check, _validator
from engine.language.validate import validate, validate_path

ROOT = Path(__file__).resolve().parents[2]
MALFORMED = Path(__file__).parent / "malformed"
EXPECTED: dict[str, list[dict]] = yaml.safe_load((MALFORMED / "expected.yaml").read_text())
SHIPPED = sorted(p for p in (ROOT / "rulesets").iterdir() if p.is_dir())
BASE = 'program: test\nversion: 1\nearning:\n  base_rate: "1"\n'


def test_every_malformed_file_has_expectations() -> None:
    present = {p.name for p in MALFORMED.iterdir() if p.name != "expected.yaml"}
    assert present == set(EXPECTED)
    assert len(present) >= 35


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_ruleset(name: str) -> None:
    errors = validate_path(MALFORMED / name)
    assert errors, "expected the ruleset to be invalid"
    assert errors == sorted(errors)
    rendered = [str(e) for e in errors]
    for expected in EXPECTED[name]:
        matches = [
            e for e in errors
            if e.line == expected["line"]
            and (e.path.startswith(expected["path"]) if expected.get("path_prefix")
                 else e.path == expected["path"])
            and expected["message"] in e.message
            and expected.get("hint", "") in (e.hint or "")
        ]
        assert matches, f"{expected} not in {rendered}"
    for error in errors:
        assert error.line >= 1 and error.col >= 1 and error.path.startswith("$")
        assert Path(error.file).name.endswith((".yaml", ".yml")) or error.file.endswith(name)


@pytest.mark.parametrize("ruleset", SHIPPED, ids=lambda p: p.name)
def test_shipped_rulesets_are_valid(ruleset: Path) -> None:
    assert validate_path(ruleset) == []


@pytest.mark.parametrize("ruleset", SHIPPED, ids=lambda p: p.name)
def test_shipped_files_point_editors_at_the_schema(ruleset: Path) -> None:
    for file in sorted(ruleset.glob("*.yaml")):
        first = file.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../schemas/ruleset.schema.json"


def test_fast_check_agrees_with_jsonschema() -> None:
    """The fast path must never call an invalid ruleset valid."""
    fast = _fast_check()
    assert fast is not None, "the ruleset schema uses a keyword the fast check lacks"
    cases = [MALFORMED / n for n in EXPECTED] + SHIPPED
    for case in cases:
        try:
            data = load_path(case).data
        except RulesetInvalid:  # loader errors: no data to compare
            continue
        assert fast(data) == _validator().is_valid(data), case.name


def test_all_errors_are_collected_and_sorted() -> None:
    text = BASE + (
        "timezone: Mars/Olympus\n"
        "campaigns:\n"
        "  - {id: a, type: multiplier}\n"
        "  - {id: a, type: bogus}\n"
        "rules:\n"
        "  - {id: r, when: {field: nope.x, eq: 1}, then: [{grant_reward: NOPE}]}\n"
    )
    errors = validate(load_sources({"one.yaml": text}))
    assert len(errors) >= 5
    assert errors == sorted(errors)
    assert [e.line for e in errors] == sorted(e.line for e in errors)


def test_error_positions_in_a_folder_name_the_file() -> None:
    loaded = load_sources({
        "a.yaml": BASE,
        "b.yaml": "campaigns:\n  - {id: x, type: multiplier, multiplier: [2]}\n",
    })
    (error,) = validate(loaded)
    assert (error.file, error.line, error.path) == ("b.yaml", 2, "$.campaigns[0].multiplier")
    assert error.message == "expected a decimal string or number, got list"


def test_campaign_and_rule_count_is_limited() -> None:
    rules = "".join(f"  - {{id: r{i}, when: {{field: order.total, gte: {i}}}, then: [{{tag: t}}]}}\n"
                    for i in range(2001))
    errors = validate(load_sources({"big.yaml": BASE + "rules:\n" + rules}))
    assert [e.message for e in errors] == [
        "2001 campaigns and rules in total; at most 2000 compile into one ruleset"]


def test_large_ruleset_validates() -> None:
    rules = "".join(
        f"  - id: r{i}\n    when:\n      all:\n        - {{field: order.total, gte: \"{i}.5\"}}\n"
        f"        - {{field: member.tier, in: [bronze]}}\n    then:\n      - bonus_points: {i}\n"
        for i in range(1000))
    tiers = "tiers:\n  levels:\n    - {id: bronze, qualification: {min_spend: 0, min_orders: 0}}\n"
    assert validate(load_sources({"big.yaml": BASE + tiers + "rules:\n" + rules})) == []
