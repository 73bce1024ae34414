"""The loader: plain data with exact numbers, positions for every node, safe limits."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from engine.errors import RulesetError, RulesetInvalid, format_path
from engine.loader import Limits, load_path, load_sources

ROOT = Path(__file__).resolve().parents[2]


def errors_of(sources: dict[str, str], limits: Limits | None = None) -> list[RulesetError]:
    with pytest.raises(RulesetInvalid) as info:
        load_sources(sources, limits) if limits else load_sources(sources)
    return info.value.errors


def test_scalars_are_plain_and_exact() -> None:
    loaded = load_sources({"r.yaml": (
        "a: 1.25\nb: 2\nc: \"3.10\"\nd: true\ne: ~\nf: 2026-09-14\ng: 1_000.5\n"
        "yes: on\nh: 2026-01-01T00:00:00-05:00\ni: '007'\n")})
    assert loaded.data == {
        "a": Decimal("1.25"), "b": 2, "c": "3.10", "d": True, "e": None, "f": "2026-09-14",
        "g": Decimal("1000.5"), "yes": True, "h": "2026-01-01T00:00:00-05:00", "i": "007"}
    assert str(loaded.data["a"]) == "1.25"


def test_positions_are_one_based_and_follow_the_path() -> None:
    loaded = load_path(ROOT / "rulesets" / "retail")
    file, line, col = loaded.position(("tiers", "levels", 1, "qualification", "min_spend"))
    assert file.endswith("tiers.yaml")
    text = Path(file).read_text().splitlines()[line - 1]
    assert text[col - 1:].startswith('"500.00"')
    _, key_line, key_col = loaded.key_position(("tiers", "levels", 1, "qualification",
                                                        "min_spend"))
    assert (key_line, text[key_col - 1:].startswith("min_spend")) == (line, True)


def test_position_falls_back_to_the_nearest_ancestor() -> None:
    loaded = load_sources({"r.yaml": "program: x\ntiers:\n  levels:\n    - id: a\n"})
    assert loaded.position(("tiers", "levels", 0, "nope", 3)) == ("r.yaml", 4, 7)
    assert loaded.position(("missing",)) == ("r.yaml", 1, 1)


def test_a_block_value_is_located_at_its_key() -> None:
    loaded = load_sources({"r.yaml": "program: x\nearning:\n  categories:\n    a: 2\n"})
    assert loaded.position(("earning", "categories")) == ("r.yaml", 3, 3)
    assert loaded.position(("earning", "categories", "a")) == ("r.yaml", 4, 8)


def test_folder_sections_merge_and_tests_folder_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("earning: {base_rate: 1}\n")
    (tmp_path / "a.yml").write_text("program: x\nversion: 1\n")
    (tmp_path / "notes.txt").write_text("not yaml: [")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "t_test.yaml").write_text("not: a section\n")
    loaded = load_path(tmp_path)
    assert loaded.data == {"program": "x", "version": 1, "earning": {"base_rate": 1}}
    assert [Path(f).name for f in loaded.files] == ["a.yml", "b.yaml"]
    assert loaded.position(("earning",))[0].endswith("b.yaml")


def test_section_in_two_files_is_located_at_the_second_with_a_hint() -> None:
    (error,) = errors_of({"one.yaml": "earning: {}\n", "two.yaml": "\n\nearning: {}\n"})
    assert (error.file, error.line, error.col, error.path) == ("two.yaml", 3, 1, "$.earning")
    assert error.hint and "one.yaml" in error.hint


def test_duplicate_keys_are_errors_and_all_are_reported() -> None:
    errors = errors_of({"r.yaml": "a: 1\nb:\n  c: 1\n  c: 2\na: 3\n"})
    assert [(e.line, e.path) for e in errors] == [(4, "$.b.c"), (5, "$.a")]


def test_missing_path_is_located_at_line_one(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(RulesetInvalid) as info:
        load_path(missing)
    (error,) = info.value.errors
    assert (error.file, error.line, error.col) == (str(missing), 1, 1)


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RulesetInvalid, match=r"no \.yaml files"):
        load_path(tmp_path)


def test_oversized_file_is_rejected_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("program: x\ndescription: \"" + "x" * (1024 * 1024) + "\"\n")
    with pytest.raises(RulesetInvalid) as info:
        load_path(big)
    (error,) = info.value.errors
    assert (error.line, error.col, error.path) == (1, 1, "$")
    assert "larger than 1048576 bytes" in error.message
    (error,) = errors_of({"s.yaml": "a: 12345\n"}, Limits(max_bytes=5))
    assert "larger than 5 bytes" in error.message


def test_alias_bomb_is_rejected() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 30):  # 10**30 nodes if expanded
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    (error,) = errors_of({"bomb.yaml": "\n".join(lines) + "\n"})
    assert "aliases expand to more than 10000 nodes" in error.message
    assert error.line == 4


def test_modest_aliases_and_merge_keys_work() -> None:
    loaded = load_sources({"r.yaml": (
        "base: &base {tiers: [gold], min_order: \"10.00\"}\n"
        "one: *base\n"
        "two:\n  <<: *base\n  min_order: \"20.00\"\n")})
    assert loaded.data["one"] == {"tiers": ["gold"], "min_order": "10.00"}
    assert loaded.data["two"] == {"tiers": ["gold"], "min_order": "20.00"}
    loaded.data["one"]["tiers"].append("x")  # expanded aliases are copies
    assert loaded.data["base"]["tiers"] == ["gold"]


def test_recursive_alias_is_rejected() -> None:
    (error,) = errors_of({"r.yaml": "a: &a [1, *a]\n"})
    assert "contains it" in error.message


def test_nesting_depth_is_limited() -> None:
    (error,) = errors_of({"r.yaml": "a: " + "[" * 10 + "]" * 10 + "\n"}, Limits(max_depth=5))
    assert "deeper than 5 levels" in error.message and error.line == 1
    deep = "a: " + "[" * 100_000 + "]" * 100_000 + "\n"
    (error,) = errors_of({"r.yaml": deep})
    assert "deeper than 64 levels" in error.message


def test_unsafe_tags_are_never_constructed() -> None:
    (error,) = errors_of({"r.yaml": "a: !!python/object/apply:os.system ['echo hi']\n"})
    assert "unsupported YAML tag" in error.message and error.line == 1


def test_syntax_errors_carry_the_parser_position() -> None:
    (error,) = errors_of({"r.yaml": "a: 1\nb: [1, 2\nc: 3\n"})
    assert error.message.startswith("YAML syntax error") and error.line >= 2


def test_ruleset_error_format_sorting_and_dict() -> None:
    a = RulesetError("f.yaml", 3, 5, "$.tiers", "bad", "fix it")
    b = RulesetError("f.yaml", 3, 5, "$.tiers", "bad")
    c = RulesetError("a.yaml", 9, 1, "$", "zzz")
    assert str(a) == "f.yaml:3:5: $.tiers: bad (hint: fix it)"
    assert str(b) == "f.yaml:3:5: $.tiers: bad"
    assert sorted([a, c]) == [c, a]
    assert a.to_dict() == {"file": "f.yaml", "line": 3, "col": 5, "path": "$.tiers",
                           "message": "bad", "hint": "fix it"}
    assert RulesetInvalid([a, c, b]).errors == [c, a]  # sorted, one per location+message


def test_format_path_quotes_unusual_keys() -> None:
    assert format_path(("campaigns", 2, "schedule", "from")) == "$.campaigns[2].schedule.from"
    assert format_path(("seasonal", "2026-q4", "a b")) == "$.seasonal['2026-q4']['a b']"
