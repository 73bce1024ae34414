"""The store's recorded history (`loyalty export`): a generated history imported and
exported again simulates to the same figures as the generated history itself — every
figure but the counts of what the service refused, which the store does not record.

Runs on the test database (SQLite, or PostgreSQL with CI=true)."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import store.imports.export as export
import store.imports.importer as importer
from cli.main import cli
from engine.program import load_program
from engine.simulation.generate import generate
from engine.simulation.history import Event, read_events
from engine.simulation.simulate import simulate
from store.db.database import Database
from store.errors import NotFound
from store.registry import versions as registry
from tests.store.db_support import RETAIL
from tests.store.helpers import publish_retail

# What the service refused is not recorded: these figures count it.
REFUSED = ("events", "redemptions", "activities")


def _history(tmp_path: Path, seed: int) -> Path:
    out = io.StringIO()
    generate(out, members=12, events=300, seed=seed, start=date(2023, 1, 1),
             end=date(2025, 6, 30), lifecycle=True)
    path = tmp_path / "generated.jsonl"
    path.write_text(out.getvalue())
    return path


@pytest.fixture
def retail(db: Database) -> Database:
    publish_retail(db, 1, activate=False)
    with db.writing() as session:
        registry.activate(session, "retail", 1, "tests", datetime(2021, 1, 1, tzinfo=UTC))
    return db


def _accepted(doc: dict[str, Any]) -> dict[str, int]:
    """Redemptions and activities counted as done (not `declined:…`, not `x:code`)."""
    return {k: v for k, v in {**doc["redemptions"], **doc["activities"]}.items()
            if ":" not in k or k.startswith("automatic:")}


@pytest.mark.parametrize("seed", [3, 11])
def test_import_then_export_simulates_to_the_same_report(retail: Database, tmp_path: Path,
                                                          seed: int) -> None:
    generated = _history(tmp_path, seed)
    imported = importer.run(retail, "retail", generated)
    assert imported.applied > 200
    exported = tmp_path / "exported.jsonl"
    with exported.open("w") as out:
        lines = export.write(retail, "retail", out)
    program = load_program(RETAIL)
    before, after = simulate(program, generated), simulate(program, exported)
    assert after["events"]["rejected"] == 0, after["events"]["errors"]
    assert lines == after["events"]["processed"] <= before["events"]["processed"]
    assert {k: v for k, v in after.items() if k not in REFUSED} == \
        {k: v for k, v in before.items() if k not in REFUSED}
    assert _accepted(after) == _accepted(before)
    assert after["totals"]["points_issued"] > 0 and after["totals"]["points_redeemed"] > 0


def test_the_export_is_in_time_order_and_names_every_kind(retail: Database,
                                                          tmp_path: Path) -> None:
    importer.run(retail, "retail", _history(tmp_path, 5))
    path = tmp_path / "out.jsonl"
    with path.open("w") as out:
        export.write(retail, "retail", out)
    events = [e for e in read_events(path) if isinstance(e, Event)]
    assert [e.at for e in events] == sorted(e.at for e in events)
    kinds = {e.type for e in events}
    assert {"enroll", "order", "refund", "activity", "redemption"} <= kinds
    assert any("redeem" in e.data for e in events if e.type == "order")


def test_an_unknown_program_is_refused(db: Database) -> None:
    with pytest.raises(NotFound):
        list(export.export(db, "nope"))


def test_cli_export_writes_the_file(retail: Database, tmp_path: Path) -> None:
    importer.run(retail, "retail", _history(tmp_path, 7))
    out = tmp_path / "cli.jsonl"
    result = CliRunner().invoke(cli, ["export", "--program", "retail", "-o", str(out),
                                      "--database-url", retail.url])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines and all(json.loads(line)["type"] for line in lines)
    assert f"{len(lines)} event(s)" in result.output


def test_cli_export_refuses_a_missing_database_without_creating_it(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    result = CliRunner().invoke(cli, ["export", "--program", "retail", "-o",
                                      str(tmp_path / "x.jsonl"),
                                      "--database-url", f"sqlite:///{missing}"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        (f"error: no loyalty database at {missing}; create it with `loyalty db upgrade` "
         "(or start `loyalty serve`)")]
    assert not missing.exists() and not (tmp_path / "x.jsonl").exists()


def test_cli_export_of_an_unknown_program_is_one_line(retail: Database, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["export", "--program", "nope", "-o",
                                      str(tmp_path / "x.jsonl"), "--database-url", retail.url])
    assert result.exit_code == 1
    assert result.output.strip() == "error: unknown_program: no program 'nope' is published"
