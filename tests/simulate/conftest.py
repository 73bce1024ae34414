"""Small generated histories and ruleset copies shared by the simulation tests."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from engine.program import Program, load_program
from engine.simulation.generate import generate
from engine.simulation.simulate import simulate

ROOT = Path(__file__).resolve().parents[2]


def write_history(path: Path, *, members: int, events: int, seed: int = 11,
                  start: date = date(2026, 1, 1), end: date = date(2028, 6, 30)) -> Path:
    with path.open("w", encoding="utf-8") as out:
        generate(out, members=members, events=events, seed=seed, start=start, end=end)
    return path


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """150 members, 3,000 events over two and a half years: expiry, refunds, redemptions."""
    return write_history(tmp_path_factory.mktemp("hist") / "history.jsonl",
                         members=150, events=3000)


@pytest.fixture(scope="session")
def retail_copy(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Program]:
    """`retail_copy({file: [(old, new), ...]})` → a Program loaded from an edited copy."""
    cache: dict[str, Program] = {}

    def make(edits: dict[str, list[tuple[str, str]]]) -> Program:
        key = repr(sorted(edits.items()))
        if key not in cache:
            folder = tmp_path_factory.mktemp("ruleset") / "retail"
            shutil.copytree(ROOT / "rulesets" / "retail", folder, ignore=shutil.ignore_patterns("tests"))
            for file, changes in edits.items():
                text = (folder / file).read_text()
                for old, new in changes:
                    assert old in text, (file, old)
                    text = text.replace(old, new, 1)
                (folder / file).write_text(text)
            cache[key] = load_program(folder)
        return cache[key]

    return make


DOUBLE_HOME = {"earning.yaml": [("home: 1.25", "home: 2.5")]}


@pytest.fixture(scope="session")
def retail_doc(retail: Program, history: Path) -> dict:
    """The retail simulation of `history`, single process."""
    return simulate(retail, history)


@pytest.fixture(scope="session")
def compare_doc(retail: Program, retail_copy: Callable[..., Program], history: Path) -> dict:
    """retail compared with a copy whose home multiplier is doubled (1.25 -> 2.5)."""
    return simulate(retail, history, compare_with=retail_copy(DOUBLE_HOME))


# A draft of retail v2: the fashion multiplier and the fashion-week campaign removed, a
# home campaign in March 2027 added, and a campaign scheduled after the history added
# (it earns nothing here but is still one of the draft's campaigns).
DRAFT = {
    "program.yaml": [("version: 1", "version: 2")],
    "earning.yaml": [("    fashion: 1.5\n", "")],
    "campaigns.yaml": [("""  - id: fashion-week
    name: Fashion Week Bonus
    type: category_bonus
    categories: [fashion]
    multiplier: 3.0
    schedule: {from: "2026-09-14", to: "2026-09-20"}
""", """  - id: home-month
    name: Home Month
    type: category_bonus
    categories: [home]
    multiplier: 2.0
    schedule: {from: "2027-03-01", to: "2027-03-31"}

  - id: summer-2030
    name: Summer 2030
    type: multiplier
    multiplier: 1.5
    schedule: {from: "2030-06-01", to: "2030-08-31"}
""")],
}


@pytest.fixture(scope="session")
def draft_doc(retail: Program, retail_copy: Callable[..., Program], history: Path) -> dict:
    """retail v1 compared with the DRAFT of v2."""
    return simulate(retail, history, compare_with=retail_copy(DRAFT))
