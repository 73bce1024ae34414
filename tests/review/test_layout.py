"""Changed files → the programs they belong to (engine/language/layout.py), as the hooks,
`--changed` and `loyalty ci` use it; and the schema catalog editors read."""

from __future__ import annotations

import fnmatch
import json
import os
import string
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.main import cli
from engine.language.layout import is_program_folder, programs_of
from schemas import load_schema
from tests.review.scratch import ROOT


def in_root(fn):  # type: ignore[no-untyped-def]
    def run(*args):  # type: ignore[no-untyped-def]
        here = os.getcwd()
        os.chdir(ROOT)
        try:
            return fn(*args)
        finally:
            os.chdir(here)
    return run


@in_root
def test_each_program_once_in_the_order_first_seen() -> None:
    found = programs_of(["rulesets/card-rewards/tiers.yaml", "rulesets/retail/tests/tiers_test.yaml",
                         "rulesets/retail", "rulesets/card-rewards/program.yaml", "README.md",
                         "rulesets/retail/deleted-since.yaml", "docs", "no/such/file.yaml"])
    assert found.folders == [Path("rulesets/card-rewards"), Path("rulesets/retail")]
    assert found.other == ["README.md", "docs", "no/such/file.yaml"]
    assert programs_of(["rulesets"]).folders == [Path("rulesets/b2b-portal"),
                                                 Path("rulesets/card-rewards"),
                                                 Path("rulesets/retail")]


def test_a_single_file_ruleset_is_its_own_program(tmp_path: Path) -> None:
    single = tmp_path / "promo.yaml"
    single.write_text("program: promo\nversion: 1\n")
    (tmp_path / "notes.yaml").write_text("programs: not a ruleset\n")
    found = programs_of([single, tmp_path / "notes.yaml"])
    assert found.folders == [single] and found.other == [str(tmp_path / "notes.yaml")]
    assert not is_program_folder(tmp_path / "missing")


@in_root
def test_validate_and_test_with_changed_check_each_program_once() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["validate", "--changed", "rulesets/retail/earning.yaml",
                                 "rulesets/retail/tiers.yaml", "rulesets/b2b-portal/program.yaml",
                                 "README.md"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == ["rulesets/retail: ok (retail v1)",
                                              "rulesets/b2b-portal: ok (b2b-portal v1)"]
    result = runner.invoke(cli, ["validate", "--changed", "README.md"])
    assert result.exit_code == 0 and result.output == "no ruleset among the changed paths\n"
    result = runner.invoke(cli, ["test", "--changed", "rulesets/b2b-portal/tiers.yaml",
                                 "rulesets/b2b-portal/tests"])
    assert result.exit_code == 0, result.output
    assert "rulesets/retail" not in result.output and "b2b-portal" in result.output


PATH_PARTS = st.sampled_from(["rulesets", "retail", "tests", "..", ".", "", "program.yaml",
                              "tiers_test.yaml", "x.yml", "card-rewards", "/", "~", "\\"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.lists(PATH_PARTS, max_size=5).map("/".join),
                          st.text(string.printable, max_size=30)), max_size=6))
def test_any_paths_map_without_raising_and_only_to_program_folders(paths: list[str]) -> None:
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        paths = [p for p in paths if "\x00" not in p]
        found = programs_of(paths)
        assert set(found.other) <= set(paths)
        for folder in found.folders:
            assert is_program_folder(folder) or folder.is_file()
        assert len({f.resolve() for f in found.folders}) == len(found.folders)
    finally:
        os.chdir(here)


def test_the_catalog_names_each_schema_by_its_id_and_matches_the_shipped_files() -> None:
    catalog = json.loads((ROOT / "schemas" / "catalog.json").read_text())
    assert catalog["$schema"] == "https://json.schemastore.org/schema-catalog.json"
    assert catalog["version"] == 1.0
    by_url = {entry["url"]: entry for entry in catalog["schemas"]}
    for name in ("ruleset", "test-suite"):
        entry = by_url[load_schema(name)["$id"]]
        assert entry["name"] and entry["description"] and entry["fileMatch"]

    def schema_of(path: Path) -> str | None:
        """The first catalog entry whose patterns match (editors take the first)."""
        text = str(path.relative_to(ROOT))
        for entry in catalog["schemas"]:
            if any(fnmatch.fnmatch(text, p) or fnmatch.fnmatch(text, p.removeprefix("**/"))
                   for p in entry["fileMatch"]):
                return str(entry["url"]).rsplit("/", 1)[-1]
        return None

    shipped = [*ROOT.glob("rulesets/*/*.yaml"),
               *ROOT.glob("examples/program-repo/programs/*/*.yaml")]
    suites = [*ROOT.glob("rulesets/*/tests/*_test.yaml"),
              *ROOT.glob("examples/program-repo/programs/*/tests/*_test.yaml")]
    assert shipped and suites
    assert {schema_of(p) for p in shipped} == {"ruleset.schema.json"}
    assert {schema_of(p) for p in suites} == {"test-suite.schema.json"}
