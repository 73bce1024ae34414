"""Registry commands on a database (`--database-url`) check their arguments as the service
does: a version, an instant or a cursor out of range is one line and exit 1 (exit 2 for a
usage error), never a traceback from the database driver, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.registry_cmd import VERSION_LIMIT
from engine.evaluation.contract import VERSION_LIMIT as STORED_VERSION_LIMIT
from tests.cli.test_no_database_side_effects import run_in

RETAIL = Path(__file__).resolve().parents[2] / "rulesets" / "retail"
HUGE = "99999999999999999999"


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'loyalty.db'}"
    assert run_in(tmp_path, "db", "upgrade", "--database-url", url).exit_code == 0
    published = run_in(tmp_path, "publish", str(RETAIL), "--activate", "now",
                       "--database-url", url)
    assert published.exit_code == 0, published.output
    return url


def test_the_versions_the_cli_takes_are_those_the_registry_stores() -> None:
    assert VERSION_LIMIT == STORED_VERSION_LIMIT


@pytest.mark.parametrize("args", [("approve", "retail", HUGE), ("activate", "retail", HUGE),
                                  ("rulesets", "show", "retail", HUGE),
                                  ("approve", "retail", "0"),
                                  ("shadow", "start", "retail", HUGE),
                                  ("shadow", "start", "retail", "0")])
def test_a_version_out_of_range_is_a_usage_error(tmp_path: Path, database: str,
                                                 args: tuple[str, ...]) -> None:
    result = run_in(tmp_path, *args, "--database-url", database)
    assert result.exit_code == 2, result.output
    assert "Invalid value for 'VERSION'" in result.output
    assert "Traceback" not in result.output


def test_a_shadow_run_out_of_range_is_a_usage_error(tmp_path: Path, database: str) -> None:
    result = run_in(tmp_path, "shadow", "report", "retail", "--run", str(2**63),
                    "--database-url", database)
    assert result.exit_code == 2 and "Invalid value for '--run'" in result.output
    assert "Traceback" not in result.output


def test_a_registry_reference_out_of_range_is_one_line(tmp_path: Path, database: str) -> None:
    result = run_in(tmp_path, "diff", f"retail@{HUGE}", "retail@1", "--database-url", database)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        (f"error: 'retail@{HUGE}': expected a path or PROGRAM@VERSION (a version from 1 to "
        f"{2**31 - 1})")]


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                "1000-01-01T00:00:00+00:00"])
def test_an_instant_out_of_the_calendar_is_one_line(tmp_path: Path, database: str,
                                                    at: str) -> None:
    result = run_in(tmp_path, "activate", "retail", "1", "--at", at, "--database-url", database)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --at: not an instant with a UTC "
                                                   "offset"), result.output
    assert "(years 1900-2999)" in lines[0]
    shown = run_in(tmp_path, "rulesets", "show", "retail", "1", "--database-url", database)
    assert shown.output.count("live from") <= 1  # nothing was activated


def test_a_cursor_out_of_range_is_one_line(tmp_path: Path, database: str) -> None:
    result = run_in(tmp_path, "audit", "--cursor", HUGE, "--database-url", database)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"error: --cursor: {HUGE!r} is not a cursor; pass the number the previous page printed"]
