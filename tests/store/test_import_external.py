"""`loyalty import` of a program whose balances live in an external points API
(b2b-portal), against a real points API on loopback (tests/points_api.py): what is owed
is sent before each redemption, and an API that does not answer stops the import with a
clear error — no line is refused for the outage, and a second run resumes.

(That the import then ends where the simulator does is tests/differential/.)"""

from __future__ import annotations

import io
import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from unittest.mock import patch

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import store.imports.importer as importer
from cli.main import cli
from engine import load_program
from engine.simulation.generate import generate
from engine.simulation.simulate import simulate
from store.db.database import Database
from store.external import accounts as external_accounts
from store.external import transfers as external_transfers
from store.registry import versions as registry
from store.tables.operations import ExternalTransferRow, ImportRow
from tests.differential.external import accounts_of
from tests.loopback import LoopbackServer
from tests.points_api import PointsApi
from tests.store.db_support import REPO

B2B = REPO / "rulesets" / "b2b-portal"


def history(tmp_path: Path) -> Path:
    out = io.StringIO()
    generate(out, members=6, events=160, seed=6, start=date(2023, 1, 1), end=date(2024, 12, 31),
             program="b2b-portal", lifecycle=True)
    path = tmp_path / "history.jsonl"
    path.write_text(out.getvalue())
    return path


@pytest.fixture
def b2b(db: Database) -> Database:
    with db.writing() as session:
        registry.publish(session, load_program(B2B), "tests", "b2b")
        registry.activate(session, "b2b-portal", 1, "tests", datetime(2021, 1, 1, tzinfo=UTC))
    return db


@pytest.fixture
def points(tmp_path: Path) -> Iterator[LoopbackServer]:
    """The API with the history's accounts open at 0; one attempt per call, no breaker."""
    api = PointsApi(dict.fromkeys(accounts_of(history(tmp_path), "loyalty_account_id").values(),
                                  0), overdraft=True)
    with LoopbackServer(api) as server:
        env = {"LOYALTY_POINTS_API_URLS": json.dumps({"loyalty-points-api": server.url}),
               "LOYALTY_POINTS_API_ATTEMPTS": "1", "LOYALTY_POINTS_API_BREAKER_THRESHOLD": "1000"}
        with patch.dict(os.environ, env):
            external_accounts.reset_clients()
            server.points = api  # type: ignore[attr-defined]
            yield server
        external_accounts.reset_clients()


def first_redemption(path: Path) -> int:
    return next(n for n, line in enumerate(path.open(), 1)
                if json.loads(line)["type"] == "redemption" or '"redeem"' in line)


def test_what_is_owed_reaches_the_account_before_each_redemption(b2b: Database, tmp_path: Path,
                                                                 points: LoopbackServer) -> None:
    path = history(tmp_path)
    report = importer.run(b2b, "b2b-portal", path)
    api: PointsApi = points.points  # type: ignore[attr-defined]
    first_debit = next(i for i, (kind, key, _) in enumerate(api.log)
                       if key.startswith("redemption:") and kind == "debit")
    assert any(key.startswith("ledger:") for _, key, _ in api.log[:first_debit])
    assert report.to_json()["external_points"]["rejected"] == 0
    assert external_transfers.unsent(b2b, "b2b-portal") == (0, None)
    doc = simulate(load_program(B2B), path)
    assert sum(api.balances.values()) == doc["totals"]["sum_of_member_balances"]


def test_an_unreachable_points_api_stops_the_import_and_a_second_run_resumes(
        b2b: Database, tmp_path: Path, points: LoopbackServer) -> None:
    path = history(tmp_path)
    points.fail(times=10_000)
    args = ["import", "--history", str(path), "--program", "b2b-portal", "--database-url",
            b2b.url, "--quiet", "-o", "json"]
    down = CliRunner().invoke(cli, args)
    assert down.exit_code == 1, down.output
    assert "error: external_points_unavailable: b2b-portal: " in down.output
    assert "run the import again once it answers" in down.output
    assert "Traceback" not in down.output and isinstance(down.exception, SystemExit)
    with b2b.reading() as session:  # the lines before the first redemption are done
        assert session.scalar(select(ImportRow.line)) == first_redemption(path) - 1
        failed = list(session.scalars(select(ExternalTransferRow.status)))
    assert failed and set(failed) == {"pending"}  # waiting out a backoff

    points.faults.clear()
    up = CliRunner().invoke(cli, args)
    assert up.exit_code == 0, up.output
    report = json.loads(up.output)
    assert report["resumed_after"] == first_redemption(path) - 1
    # Nothing was refused for the outage: what was declined or rejected is the simulator's.
    doc = simulate(load_program(B2B), path)
    assert [r["line"] for r in report["rejected"]] == [e["line"] for e in doc["events"]["errors"]]
    declined = Counter({k: v for k, v in doc["redemptions"].items() if k.startswith("declined:")})
    declined.update({k: v for k, v in doc["activities"].items() if ":" in k})
    assert Counter(report["declined"]) == declined
    api: PointsApi = points.points  # type: ignore[attr-defined]
    assert sum(api.balances.values()) == doc["totals"]["sum_of_member_balances"]
