"""Golden compare reports: JSON, text and HTML of two small compares.

- `draft`: retail v1 against the DRAFT of v2 (a campaign and a rule removed, two
  campaigns added): every rule and campaign of either version, labelled by version;
- `same-version`: retail v1 against a copy of v1 with the home multiplier doubled: the
  two are told apart by digest (they are loaded from file names, not paths, so that the
  files do not depend on where the repository is).

After an intended change, rewrite them with

    pytest tests/simulate/test_report_golden.py --update-golden

and review the diff like code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.output import dump_json
from cli.simulate_cmd import text_report
from engine.program import load_program
from engine.simulation.report import render
from engine.simulation.simulate import simulate
from tests.simulate.conftest import DOUBLE_HOME, DRAFT, ROOT, write_history

GOLDEN = Path(__file__).resolve().parent / "golden"
EDITS = {"draft": DRAFT, "same-version": DOUBLE_HOME}


def _sources(edits: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
    sources = {p.name: p.read_text(encoding="utf-8")
               for p in sorted((ROOT / "rulesets" / "retail").glob("*.yaml"))}
    for file, changes in edits.items():
        for old, new in changes:
            assert old in sources[file], (file, old)
            sources[file] = sources[file].replace(old, new, 1)
    return sources


@pytest.fixture(scope="module")
def small_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_history(tmp_path_factory.mktemp("golden") / "history.jsonl",
                         members=40, events=600, seed=5)


def _check(name: str, text: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path.name} missing: run pytest {__file__} --update-golden"
    assert text == path.read_text(encoding="utf-8"), \
        f"{name} differs: review, then run pytest tests/simulate/test_report_golden.py --update-golden"


@pytest.mark.parametrize("which", sorted(EDITS))
def test_compare_reports_match_golden(which: str, small_history: Path, update_golden: bool,
                                      capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    doc = simulate(load_program(_sources({})), small_history,
                   compare_with=load_program(_sources(EDITS[which])))
    assert doc["program"]["source"] is None  # loaded from file names: labelled by digest
    _check(f"compare-{which}.json", dump_json(json.loads(json.dumps(doc, default=str))) + "\n",
           update_golden)
    monkeypatch.setenv("COLUMNS", "160")
    text_report(doc)
    _check(f"compare-{which}.txt", capsys.readouterr().out, update_golden)
    _check(f"compare-{which}.html", render(doc), update_golden)
