"""The loader: plain data with exact numbers, positions for every node, safe limits."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cli.main import cli
from engine.errors import RulesetError, RulesetInvalid, format_path
from engine.language import yaml_reader
from engine.language.loader import Limits, load_path, load_sources
from engine.language.yaml_errors import syntax_error

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


def alias_bomb_by_size(chars: int = 600_000, aliases: int = 1000) -> str:
    """One large string repeated by aliases: few nodes, hundreds of megabytes expanded."""
    return ("program: x\nversion: 1\ndescription: [&big \"" + "x" * chars + "\", "
            + ", ".join(["*big"] * aliases) + "]\n")


def test_aliases_are_priced_by_the_text_they_expand_to() -> None:
    (error,) = errors_of({"bomb.yaml": alias_bomb_by_size()})
    assert error.message == "aliases expand to more than 1048576 characters of text"
    assert (error.line, error.path) == (3, "$.description[2]")  # the second *big crosses it
    assert error.hint and "alias bomb" in error.hint
    text = "a: &a {k: \"0123456789\"}\nb: [*a, *a, *a]\n"  # 11 characters per alias
    assert load_sources({"r.yaml": text}, Limits(max_alias_bytes=33)).data["b"][2] == {
        "k": "0123456789"}
    (error,) = errors_of({"r.yaml": text}, Limits(max_alias_bytes=32))
    assert "more than 32 characters" in error.message and error.path == "$.b[2]"


def test_an_alias_bomb_by_size_costs_little_memory(tmp_path: Path) -> None:
    """Peak RSS of a fresh process loading and validating the bomb as `loyalty validate`
    does (a memory bound, not a timing)."""
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb_by_size())
    code = (
        "import resource, sys\n"
        "from engine.errors import RulesetInvalid\n"
        "from engine.program import load_program\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    load_program(sys.argv[1])\n"
        "except RulesetInvalid as exc:\n"
        "    print(exc.errors[0].message)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n")
    done = subprocess.run([sys.executable, "-c", code, str(path)], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    message, grown_kib = done.stdout.strip().splitlines()
    assert message.startswith("aliases expand to more than")
    assert int(grown_kib) < 64 * 1024  # unbounded, it reaches gigabytes


def test_an_alias_bomb_by_size_exits_3_from_validate(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb_by_size())
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 3, result.output
    assert result.output.startswith(f"{path}:3:")
    assert "aliases expand to more than 1048576 characters of text" in result.output


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


@pytest.fixture(params=["libyaml", "python"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with libyaml's parser (when PyYAML has it) and with the pure-Python one;
    they word their errors differently and libyaml (PyYAML 6.0.3+) has its own depth limit."""
    if request.param == "python":
        monkeypatch.setattr(yaml_reader, "_Loader", yaml.SafeLoader)
    elif not hasattr(yaml, "CSafeLoader"):
        pytest.skip("this PyYAML has no libyaml")
    return str(request.param)


def test_nesting_depth_is_limited(parser: str) -> None:
    (error,) = errors_of({"r.yaml": "a: " + "[" * 10 + "]" * 10 + "\n"}, Limits(max_depth=5))
    assert "deeper than 5 levels" in error.message and error.line == 1
    deep = "a: " + "[" * 100_000 + "]" * 100_000 + "\n"
    (error,) = errors_of({"r.yaml": deep})
    assert (error.file, error.line, error.message) == ("r.yaml", 1, ("nesting is deeper than 64 "
                                                                    "levels"))
    assert error.path.startswith("$") and 1 < error.col <= 1004
    assert error.hint and "Flatten" in error.hint


def test_libyaml_nesting_limit_is_reported_in_our_words() -> None:
    """PyYAML 6.0.3+ (libyaml) stops a 1,000-deep document itself, with its own message."""
    mark = yaml.Mark("r.yaml", 1002, 0, 1002, None, None)
    exc = yaml.MarkedYAMLError("while increasing flow level", mark,
                               "exceeded maximum nesting depth", mark)
    error = syntax_error("r.yaml", exc, "a: " + "[" * 2000 + "\n", None, 64)
    assert (error.line, error.col, error.path) == (1, 1003, "$")
    assert error.message == "nesting is deeper than 64 levels"
    wide = syntax_error("r.yaml", exc, "a: " + "[" * 2000 + "\n", None, 5000)
    assert wide.message == "nesting is deeper than 1000 levels"  # what libyaml allows


def test_too_deep_nesting_exits_3_from_validate(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("program: x\nversion: 1\na: " + "[" * 100_000 + "]" * 100_000 + "\n")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 3, result.output
    assert result.output.startswith(f"{path}:3:")
    assert ": nesting is deeper than 64 levels" in result.output
    assert "Traceback" not in result.output


def test_unsafe_tags_are_never_constructed() -> None:
    (error,) = errors_of({"r.yaml": "a: !!python/object/apply:os.system ['echo hi']\n"})
    assert "unsupported YAML tag" in error.message and error.line == 1


def test_syntax_errors_carry_the_parser_position() -> None:
    (error,) = errors_of({"r.yaml": "a: 1\nb: [1, 2\nc: 3\n"})
    assert error.message.startswith("YAML syntax error") and error.line >= 2


TIERS = "".join(f"k{i}: {i}\n" for i in range(1, 49)) + "levels: [1, 2\n"  # 49 lines


@pytest.mark.parametrize(("text", "at", "message"), [
    (TIERS, (49, 9), ("flow sequence opened here is never closed (the parser stopped at "
                     "line 49, column 14)")),
    ("a: 1\nb: [1, 2\nc: 3\n", (2, 4), ("flow sequence opened here is not closed (the parser "
                                      "stopped at line 3, column 2, at ':')")),
    ("a: 1\nb: {x: 1, y: 2\n\n\n", (2, 4), ("flow mapping opened here is never closed (the "
                                          "parser stopped at line 4, column 1)")),
    ("a: [1, {b: 2]\n", (1, 8), ("flow mapping opened here is not closed (the parser stopped "
                              "at line 1, column 13, at ']')")),
    ('a: 1\nb: "abc\nc: 2\n', (2, 4), ("quoted string opened here is never closed (the parser "
                                    "stopped at line 3, column 5)")),
    ("a: 'it is\n", (1, 4), ("quoted string opened here is never closed (the parser stopped at "
                          "line 1, column 10)")),
    ("a: [1, 2,\n  - 3]\n", (1, 4), ("inside the flow sequence opened here (the parser stopped "
                                  "at line 2, column 3)")),
    ("a: {x: [1,\r\n", (1, 8), ("flow sequence opened here is never closed (the parser stopped "
                            "at line 1, column 11)")),
])
def test_unclosed_constructs_are_located_where_they_open(parser: str, text: str,
                                                         at: tuple[int, int],
                                                         message: str) -> None:
    (error,) = errors_of({"tiers.yaml": text})
    assert (error.file, error.line, error.col, error.path) == ("tiers.yaml", *at, "$")
    assert error.message.startswith("YAML syntax error: ") and message in error.message
    assert error.hint
    lines = text.splitlines()
    stop = error.message.rsplit("line ", 1)[1]
    line, col = int(stop.split(",")[0]), int(stop.split("column ")[1].split(")")[0].split(",")[0])
    assert 1 <= line <= len(lines) and 1 <= col <= len(lines[line - 1]) + 1  # inside the file


def test_other_syntax_errors_name_where_the_construct_started() -> None:
    (error,) = errors_of({"r.yaml": "a:\n  b: 1\n c: 2\n"})
    assert (error.line, error.col) == (3, 2)
    assert error.message.endswith("while parsing a block mapping that starts at line 1, "
                                  "column 1")


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
