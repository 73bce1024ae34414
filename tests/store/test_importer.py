"""`loyalty import`: idempotent by event, resumable, and where it ends the simulator ends.

Histories are generated with every event type (`--lifecycle`); the store is the test
database (SQLite, or PostgreSQL with CI=true)."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import store.imports.importer as importer
from cli.main import cli
from engine.simulation.generate import generate
from store.db.database import Database
from store.registry import versions as registry
from store.tables.core import LedgerEntryRow, MemberRow
from store.tables.operations import ImportRefusalRow
from store.tables.redemptions import RedemptionRow
from tests.store.db_support import wipe
from tests.store.helpers import publish_retail


def history(tmp_path: Path, events: int = 200, seed: int = 9) -> Path:
    out = io.StringIO()
    generate(out, members=8, events=events, seed=seed, start=date(2023, 1, 1),
             end=date(2025, 6, 30), lifecycle=True)
    path = tmp_path / "history.jsonl"
    path.write_text(out.getvalue())
    return path


@pytest.fixture
def retail(db: Database) -> Database:
    publish_retail(db, 1, activate=False)
    with db.writing() as session:
        registry.activate(session, "retail", 1, "tests", datetime(2021, 1, 1, tzinfo=UTC))
    return db


def books(db: Database) -> dict[str, Any]:
    """Everything an import writes that a second run must leave alone."""
    with db.reading() as session:
        return {"entries": session.scalar(select(func.count()).select_from(LedgerEntryRow)),
                "members": {r.member_id: (r.balance, r.tier, r.book) for r in
                            session.execute(select(MemberRow.member_id, MemberRow.balance,
                                                   MemberRow.tier, MemberRow.book))}}


def test_a_second_run_changes_nothing(retail: Database, tmp_path: Path) -> None:
    path = history(tmp_path)
    first = importer.run(retail, "retail", path)
    assert first.applied > 150 and first.replayed == 0 and first.last_at is not None
    after = books(retail)
    second = importer.run(retail, "retail", path)
    assert books(retail) == after
    assert second.applied == 0 and second.replayed == first.applied
    assert second.rejected == first.rejected and second.declined == first.declined
    assert second.points_expired == 0


class Stop(Exception):
    pass


def test_an_interrupted_import_resumes_where_it_stopped(retail: Database, db: Database,
                                                        tmp_path: Path) -> None:
    path = history(tmp_path)

    def stop_at_150(report: importer.ImportReport) -> None:
        if report.lines >= 150:
            raise Stop

    with pytest.raises(Stop):
        importer.run(retail, "retail", path, progress=stop_at_150, progress_every=50)
    resumed = importer.run(retail, "retail", path)
    # the cursor is written every 100 lines and at every refusal: lines after it were
    # sent again and answered as replays, the rest applied now
    assert 100 <= resumed.resumed_after < 150
    assert resumed.replayed >= 150 - resumed.resumed_after - len(resumed.rejected)
    interrupted = books(retail)

    wipe(db)
    publish_retail(db, 1, activate=False)
    with db.writing() as session:
        registry.activate(session, "retail", 1, "tests", datetime(2021, 1, 1, tzinfo=UTC))
    whole = importer.run(db, "retail", path)
    assert {m: s[:2] for m, s in books(db)["members"].items()} == \
        {m: s[:2] for m, s in interrupted["members"].items()}
    assert [n for n, _ in whole.rejected] == [n for n, _ in resumed.rejected]
    assert whole.declined == resumed.declined


def test_a_changed_file_is_refused_and_an_appended_one_resumes(retail: Database,
                                                               tmp_path: Path) -> None:
    path = history(tmp_path, events=120)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:100]))
    importer.run(retail, "retail", path)
    path.write_text("".join(lines))
    more = importer.run(retail, "retail", path)
    assert more.resumed_after == 100 and more.applied + len(more.rejected) >= 15
    changed = lines[:]
    changed[10] = json.dumps({**json.loads(changed[10]), "member_id": "SOMEONE-ELSE"}) + "\n"
    path.write_text("".join(changed))
    with pytest.raises(importer.ImportMismatch, match="lines 1-120"):
        importer.run(retail, "retail", path)
    assert importer.run(retail, "retail", path, key_prefix="second").resumed_after == 0


def test_refusals_are_kept_and_never_tried_again(retail: Database, tmp_path: Path) -> None:
    """A redemption the rules refuse at line 2 would pass at the end of the history:
    a re-run takes the refusal from the journal instead of asking again."""
    path = tmp_path / "h.jsonl"
    events = [
        {"type": "enroll", "member_id": "A", "at": "2024-01-02T10:00:00-05:00"},
        {"type": "redemption", "member_id": "A", "at": "2024-01-03T10:00:00-05:00",
         "points": 500, "id": "R1"},
        {"type": "order", "member_id": "A", "at": "2024-01-04T10:00:00-05:00",
         "order": {"id": "O1", "lines": [{"sku": "TV", "category": "electronics",
                                           "quantity": 1, "unit_price": "900.00"}]}},
        {"type": "cancel", "member_id": "A", "at": "2024-01-05T10:00:00-05:00",
         "redemption_id": "R1"},
        {"type": "refund", "member_id": "A", "at": "2024-01-06T10:00:00-05:00",
         "order_id": "O-unknown"},
    ]
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    first = importer.run(retail, "retail", path)
    assert first.declined == Counter({"declined:INSUFFICIENT_POINTS": 1})
    assert [n for n, _ in first.rejected] == [4, 5]
    with retail.reading() as session:
        assert session.scalar(select(func.count()).select_from(ImportRefusalRow)) == 3
        balance = session.scalar(select(MemberRow.balance))
    assert balance >= 2100  # the redemption would pass now
    again = importer.run(retail, "retail", path)
    assert again.declined == first.declined and again.rejected == first.rejected
    with retail.reading() as session:
        assert session.scalar(select(MemberRow.balance)) == balance
        # the refused redemption made no row; the electronics order's milestone gift, once
        assert session.scalars(select(RedemptionRow.kind)).all() == ["gift"]


def test_instants_ahead_of_the_server_clock_are_rejected(retail: Database, tmp_path: Path,
                                                        server_clock: Any) -> None:
    server_clock.set("2024-01-03T00:00:00+00:00")
    path = tmp_path / "h.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in [
        {"type": "enroll", "member_id": "A", "at": "2024-01-02T10:00:00-05:00"},
        {"type": "enroll", "member_id": "B", "at": "2024-02-02T10:00:00-05:00"}]))
    report = importer.run(retail, "retail", path)
    assert report.applied == 1 and report.rejected[0][0] == 2
    assert "ahead of the server clock" in report.rejected[0][1]
    # A skew past the end of the calendar (a staging replay) accepts every instant.
    replay = importer.run(retail, "retail", path, key_prefix="staging", skew_seconds=1e15)
    assert replay.applied == 1 and replay.rejected == [(1, "member 'A' is enrolled already")]


def test_the_command(retail: Database, tmp_path: Path) -> None:
    path = history(tmp_path, events=60)
    runner = CliRunner()
    args = ["import", "--history", str(path), "--program", "retail", "--database-url",
            retail.url, "--quiet"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "retail: 60 line(s)" in result.output and "expiry to" in result.output
    again = runner.invoke(cli, [*args, "-o", "json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["applied"] == 0
    path.write_text(path.read_text().replace('"M0000001"', '"M9"', 1))
    changed = runner.invoke(cli, args)
    assert changed.exit_code == 1 and "are not the ones imported" in changed.output
    unknown = runner.invoke(cli, [*args[:4], "nope", *args[5:]])
    assert unknown.exit_code == 1 and "unknown_program" in unknown.output
