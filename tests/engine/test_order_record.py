"""The lifecycle books an order as its result states it: the record's lines, spend and
cashback are the amounts of the result JSON (what the store keeps and rebuilds from)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from itertools import count
from typing import Any

import pytest

from engine import load_program, parse
from engine.evaluation.render import result_json
from engine.lifecycle import Lifecycle, NoPool, commit_order
from tests.conftest import ROOT

AT = datetime.fromisoformat("2026-02-05T10:00:00+00:00")


def _commit(ruleset: str, lines: list[dict[str, Any]], summary: bool = False) -> Any:
    lc = Lifecycle(load_program(ROOT / "rulesets" / ruleset))
    book = lc.new_book("M-1", AT)
    ids = count()
    request = parse({"member": {"id": "M-1"}, "order": {
        "id": "O-1", "placed_at": AT.isoformat(), "lines": lines}})
    step = commit_order(lc, book, request, NoPool(), lambda: f"id-{next(ids)}",
                        summary=summary)
    return lc, book, step


SUB_CENT = [{"sku": "A", "category": "electronics", "quantity": 1, "unit_price": "101.8854"},
            {"sku": "B", "category": "fashion", "quantity": 3, "unit_price": "195.057"},
            {"sku": "C", "category": "home", "quantity": 2, "unit_price": "10"}]


def test_record_lines_are_the_result_lines() -> None:
    _, _, step = _commit("retail", SUB_CENT)
    stated = result_json(step.outcome)["earn"]["lines"]
    record = step.record
    assert [(ln.eligible, str(ln.points)) for ln in record.lines] == [
        (Decimal(s["eligible_amount"]), s["points_exact"]) for s in stated]
    assert [str(ln.eligible) for ln in record.lines] == ["101.89", "585.17", "20.00"]
    assert record.spend == Decimal("707.06")  # the stated amounts, not 707.0564
    assert record.net == Decimal("707.0564")


@pytest.mark.parametrize(("ruleset", "category", "cashback"), [
    ("retail", "home", "0.00"),  # a program without cashback
    ("card-rewards", "cash_advance", "0.00"), ("card-rewards", "groceries", "3.05")])
def test_record_cashback_is_the_stated_cashback(ruleset: str, category: str,
                                                cashback: str) -> None:
    lines = [{"sku": "A", "category": category, "quantity": 1, "unit_price": "101.8854"}]
    for summary in (False, True):
        _, _, step = _commit(ruleset, lines, summary=summary)
        assert result_json(step.outcome)["earn"]["cashback"] == cashback
        assert str(step.record.cashback) == cashback


def test_summary_record_books_the_same_spend() -> None:
    """The simulator's record has no lines and books the same spend as the store's: the
    lines' eligible amounts in cents."""
    _, _, step = _commit("retail", SUB_CENT, summary=True)
    assert step.record.lines == ()
    assert step.record.spend == Decimal("707.06")


def test_booking_an_order_asks_no_redemption_question() -> None:
    """The lifecycle books what an order earns; what the member may redeem is assessed
    only when a caller reads it (the result JSON does)."""
    _, _, step = _commit("retail", SUB_CENT)
    assert step.outcome._redemption is None
    assert result_json(step.outcome)["redemption"]["eligible"] is False
    assert step.outcome._redemption is not None
