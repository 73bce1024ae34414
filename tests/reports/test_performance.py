"""The program performance report built from the store's SQL aggregates is the report a
simulation of the same history gives: a generated history imported into the store
(SQLite, or PostgreSQL with CI=true) and the same history simulated agree figure for
figure — points issued, reversed, redeemed and expired by month, outstanding points and
liability, rates, points by rule and by category, campaigns."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

import store.imports.importer as importer
from engine.program import load_program
from engine.simulation.generate import generate
from engine.simulation.report import render
from engine.simulation.simulate import simulate
from store.db.database import Database
from store.errors import NotFound, Unprocessable
from store.registry import versions as registry
from store.registry.programs import ProgramCache
from store.reports.performance import performance
from tests.store.db_support import RETAIL
from tests.store.helpers import publish_retail

START, END = datetime(2023, 1, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC)
MONTH = ("issued", "reversed", "redeemed", "expired", "orders", "outstanding", "liability")
TOTALS = ("points_issued", "points_reversed", "points_redeemed", "points_expired",
          "points_outstanding", "liability", "orders", "spend", "redemption_rate",
          "breakage_rate")


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


@pytest.mark.parametrize("seed", [3, 11])
def test_the_report_from_the_store_is_the_simulation_of_the_same_history(
        retail: Database, tmp_path: Path, seed: int) -> None:
    history = _history(tmp_path, seed)
    assert importer.run(retail, "retail", history).applied > 200
    live = performance(retail, ProgramCache(), "retail", START, END)
    sim = simulate(load_program(RETAIL), history)
    assert {k: live["totals"][k] for k in TOTALS} == {k: sim["totals"][k] for k in TOTALS}
    assert live["totals"]["points_issued"] > 0 and live["totals"]["points_redeemed"] > 0
    assert live["totals"]["books_balance"] is True
    assert live["by_rule"] == sim["by_rule"]
    assert live["by_category"] == sim["by_category"]
    assert {m: {k: f[k] for k in MONTH} for m, f in live["by_month"].items()} == \
        {m: {k: f[k] for k in MONTH} for m, f in sim["by_month"].items()}
    assert {c: f["points"] for c, f in live["campaigns"].items()} == \
        {c: f["points"] for c, f in sim["campaigns"].items()}
    assert live["tiers"]["end"] == sim["tiers"]["end"]
    html = render(live, title="Performance of retail")
    assert "<svg" in html and 'id="by-month"' in html and "balanced" in html


def test_a_later_period_starts_from_the_points_outstanding_before_it(
        retail: Database, tmp_path: Path) -> None:
    importer.run(retail, "retail", _history(tmp_path, 3))
    whole = performance(retail, ProgramCache(), "retail", START, END)
    middle = datetime(2024, 6, 1, 4, tzinfo=UTC)  # 2024-06-01 in New York
    later = performance(retail, ProgramCache(), "retail", middle, END)
    assert later["totals"]["points_outstanding_before"] == \
        whole["by_month"][max(m for m in whole["by_month"] if m < "2024-06")]["outstanding"]
    assert later["totals"]["points_outstanding"] == whole["totals"]["points_outstanding"]
    assert later["by_month"] == {m: f for m, f in whole["by_month"].items() if m >= "2024-06"}
    assert later["totals"]["points_issued"] < whole["totals"]["points_issued"]


def test_bad_periods_and_programs_are_refused(retail: Database) -> None:
    cache = ProgramCache()
    with pytest.raises(Unprocessable) as reversed_period:
        performance(retail, cache, "retail", END, START)
    assert reversed_period.value.code == "invalid_period"
    assert reversed_period.value.errors == [
        {"parameter": "to", "in": "query", "message": "must be after from"}]
    with pytest.raises(Unprocessable) as too_long:
        performance(retail, cache, "retail", datetime(1990, 1, 1, tzinfo=UTC), END)
    assert too_long.value.code == "period_too_long"
    with pytest.raises(NotFound):
        performance(retail, cache, "nope", START, END)
    with pytest.raises(NotFound) as before_any:
        performance(retail, cache, "retail", datetime(2019, 1, 1, tzinfo=UTC),
                    datetime(2020, 1, 1, tzinfo=UTC))
    assert before_any.value.code == "no_live_version"


def test_cashback_in_the_report_from_the_store_is_the_simulations(
        db: Database, tmp_path: Path) -> None:
    """card-rewards pays cashback: what the store recorded in the period (orders' cashback,
    refunds' reversals) is what the simulation of the same history counts."""
    program = load_program(RETAIL.parent / "card-rewards")
    with db.writing() as session:
        registry.publish(session, program, "tests", "card-rewards")
        registry.activate(session, "card-rewards", 1, "tests", datetime(2021, 1, 1, tzinfo=UTC))
    out = io.StringIO()
    generate(out, members=10, events=250, seed=5, start=date(2023, 1, 1),
             end=date(2025, 6, 30), program="card-rewards")
    history = tmp_path / "cards.jsonl"
    history.write_text(out.getvalue())
    assert importer.run(db, "card-rewards", history).applied > 200
    live = performance(db, ProgramCache(), "card-rewards", START, END)
    sim = simulate(program, history)
    keys = ("cashback_issued", "cashback_reversed", "cashback_paid", "points_issued")
    assert {k: live["totals"][k] for k in keys} == {k: sim["totals"][k] for k in keys}
    assert Decimal(live["totals"]["cashback_issued"]) > 0
    assert Decimal(live["totals"]["cashback_reversed"]) > 0
