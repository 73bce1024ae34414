"""Member administration in the lifecycle core (engine/lifecycle/admin.py), and the
simulator honouring it: adjustments as `adjust` entries, suspension refusing earning and
redeeming, closing forfeiting the balance, a tier override until its end; the same
events replayed by `simulate`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.evaluation.request import parse
from engine.lifecycle import (
    AdminRefused,
    Ask,
    Lifecycle,
    MemberInactive,
    NoPool,
    OrderRecord,
    RedemptionRecord,
    RefundRefused,
    adjust,
    cancel,
    commit_order,
    from_json,
    override_tier,
    redeem,
    refund,
    set_status,
    to_json,
)
from engine.program import load_program
from engine.simulation.history import InvalidEvent, check_event
from engine.simulation.simulate import simulate

RETAIL = Path(__file__).resolve().parents[2] / "rulesets" / "retail"
AT = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def lc() -> Lifecycle:
    return Lifecycle(load_program(RETAIL))


def order(order_id: str, at: datetime, amount: str = "100.00"):
    return parse({"member": {"id": "M1"}, "order": {
        "id": order_id, "placed_at": at.isoformat(), "currency": "USD",
        "lines": [{"sku": "X", "category": "home", "quantity": 1, "unit_price": amount}]}})


def ids():
    n = iter(range(1, 10**6))
    return lambda: f"r{next(n)}"


def earned(lc, at=AT):
    book = lc.new_book("M1", at)
    commit_order(lc, book, order("O1", at, "1000.00"), NoPool(), ids())
    return book


def test_adjust_credits_a_lot_and_debits_into_debt(lc):
    book = earned(lc)
    before = book.balance
    step = adjust(lc, book, 300, AT + timedelta(hours=1), "a1")
    [entry] = step.entries()
    assert (entry.kind, entry.points, entry.rule, entry.source_type) == (
        "adjust", 300, "admin.adjust", "admin")
    assert entry.lot is not None and entry.expires_at is not None
    assert book.balance == before + 300
    step = adjust(lc, book, -(before + 400), AT + timedelta(hours=2), "a2")
    assert book.balance == -100 and book.debt == 100 and not book.lots
    assert sum(d.points for d in step.entries()[0].draws) == before + 400
    with pytest.raises(AdminRefused) as refused:
        adjust(lc, book, 0, AT, "a3")
    assert refused.value.pointer == "/points"


def test_suspension_refuses_earning_and_redeeming_and_survives_the_json(lc):
    book = earned(lc)
    set_status(lc, book, "suspended", AT + timedelta(days=1), "s1")
    book = from_json(to_json(book))  # as the store keeps it
    assert book.status == "suspended"
    with pytest.raises(MemberInactive) as refused:
        commit_order(lc, book, order("O2", AT + timedelta(days=2)), NoPool(), ids())
    assert refused.value.code == "member_suspended"
    with pytest.raises(MemberInactive):
        redeem(lc, book, Ask(points=500), AT + timedelta(days=2), NoPool(), "r1")
    set_status(lc, book, "active", AT + timedelta(days=3), "s2")
    commit_order(lc, book, order("O2", AT + timedelta(days=4)), NoPool(), ids())
    assert "status" not in to_json(book)  # an active book keeps its old JSON


def test_closing_forfeits_the_balance_and_is_final(lc):
    book = earned(lc)
    held = book.balance
    step = set_status(lc, book, "closed", AT + timedelta(days=1), "c1")
    [entry] = step.entries()
    assert (entry.kind, entry.points, entry.rule) == ("adjust", -held, "admin.close")
    assert book.balance == 0 and not book.lots
    with pytest.raises(AdminRefused) as refused:
        set_status(lc, book, "active", AT + timedelta(days=2), "c2")
    assert refused.value.code == "member_closed"
    with pytest.raises(MemberInactive) as inactive:
        commit_order(lc, book, order("O2", AT + timedelta(days=2)), NoPool(), ids())
    assert inactive.value.code == "member_closed"


def test_tier_override_holds_until_its_end_then_qualification_decides(lc):
    book = earned(lc, AT)
    qualified = book.tier
    until = AT + timedelta(days=30)
    step = override_tier(lc, book, "platinum", until, AT + timedelta(hours=1))
    assert book.tier == "platinum" and step.changes[-1].cause == "override"
    lc.advance(book, AT + timedelta(days=29))
    assert book.tier == "platinum"
    lc.advance(book, AT + timedelta(days=31))
    assert book.tier == qualified
    with pytest.raises(AdminRefused):
        override_tier(lc, book, "gold", AT, AT + timedelta(days=40))


@pytest.mark.parametrize(("event", "message"), [
    ({"type": "adjust", "points": 0}, "points"),
    ({"type": "adjust", "points": True}, "points"),
    ({"type": "adjust", "points": 10**13}, "points"),
    ({"type": "adjust"}, "points"),
    ({"type": "status", "status": "frozen"}, "status"),
    ({"type": "status", "status": "closed", "why": "x"}, "unknown field"),
])
def test_bad_admin_events_are_refused(event, message):
    with pytest.raises(InvalidEvent) as refused:
        check_event({"member_id": "M1", "at": AT.isoformat(), **event}, 1)
    assert message in str(refused.value)


def test_the_simulator_honours_suspensions_and_adjustments(tmp_path):
    lines = [
        {"type": "enroll", "member_id": "M1", "at": "2026-01-05T10:00:00Z"},
        {"type": "order", "member_id": "M1", "at": "2026-01-06T10:00:00Z", "order": {
            "id": "O1", "lines": [{"sku": "X", "category": "home", "quantity": 1,
                                   "unit_price": "1000.00"}]}},
        {"type": "adjust", "member_id": "M1", "at": "2026-01-07T10:00:00Z", "points": 250},
        {"type": "status", "member_id": "M1", "at": "2026-01-08T10:00:00Z",
         "status": "suspended"},
        {"type": "order", "member_id": "M1", "at": "2026-01-09T10:00:00Z", "order": {
            "id": "O2", "lines": [{"sku": "X", "category": "home", "quantity": 1,
                                   "unit_price": "1000.00"}]}},
        {"type": "activity", "member_id": "M1", "at": "2026-01-09T11:00:00Z",
         "activity": "product_review"},
        {"type": "redemption", "member_id": "M1", "at": "2026-01-09T12:00:00Z", "points": 500},
        {"type": "status", "member_id": "M1", "at": "2026-01-10T10:00:00Z", "status": "closed"},
        {"type": "adjust", "member_id": "NOBODY", "at": "2026-01-10T10:00:00Z", "points": 5},
    ]
    history = tmp_path / "h.jsonl"
    history.write_text("".join(json.dumps(line) + "\n" for line in lines))
    doc = simulate(RETAIL, history, member_states=tmp_path / "states.jsonl")
    errors = {e["line"]: e["message"] for e in doc["events"]["errors"]}
    assert sorted(errors) == [5, 7, 9]
    assert errors[5].startswith("member_suspended") and errors[9].startswith("unknown_member")
    assert doc["activities"]["product_review:member_suspended"] == 1
    [state] = [json.loads(line) for line in (tmp_path / "states.jsonl").open()]
    assert state["status"] == "closed" and state["balance"] == 0 and state["lots"] == []
    totals = doc["totals"]
    assert totals["points_outstanding"] == 0 and totals["books_balance"] is True


ACTIONS = st.lists(st.one_of(
    st.tuples(st.just("order"), st.integers(1, 3000)),
    st.tuples(st.just("adjust"), st.integers(-5000, 5000).filter(bool)),
    st.tuples(st.just("status"), st.sampled_from(["active", "suspended", "closed"])),
    st.tuples(st.just("redeem"), st.integers(500, 3000)),
    st.tuples(st.just("refund"), st.integers(0, 10**6)),
    st.tuples(st.just("cancel"), st.integers(0, 10**6)),
), max_size=25)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(actions=ACTIONS)
@example(actions=[("order", 2000), ("order", 1000), ("redeem", 500), ("status", "closed"),
                  ("refund", 0), ("refund", 1), ("cancel", 0)])
def test_administration_keeps_the_book_exact(lc, actions):
    """Whatever the sequence: the balance is the sum of the entries, the lots hold what
    the book says, a suspended or closed member's orders and redemptions change nothing,
    a closed member stays where closing left it (a refund or cancel after closing neither
    takes nor gives points), and the book survives its JSON."""
    book = lc.new_book("M1", AT)
    total, at, new_id = 0, AT, ids()
    orders: dict[str, OrderRecord] = {}
    redeemed: list[RedemptionRecord] = []
    closed_at: int | None = None
    for n, (kind, value) in enumerate(actions):
        at += timedelta(days=3)
        before = to_json(book)
        try:
            if kind == "order":
                step = commit_order(lc, book, order(f"O{n}", at, f"{value}.00"), NoPool(),
                                    new_id)
                orders[step.record.order_id] = step.record
            elif kind == "adjust":
                step = adjust(lc, book, value, at, f"a{n}")
            elif kind == "status":
                step = set_status(lc, book, value, at, f"s{n}")
            elif kind == "refund":
                if not orders:
                    continue
                record = list(orders.values())[value % len(orders)]
                step = refund(lc, book, record, at, f"{record.order_id}/R{n}",
                              amount=record.net / 2, records=orders)
            elif kind == "cancel":
                if not redeemed:
                    continue
                step = cancel(lc, book, redeemed.pop(value % len(redeemed)), at, orders)
            else:
                step = redeem(lc, book, Ask(points=value), at, NoPool(), f"r{n}")
                if step.record is not None:
                    redeemed.append(step.record)
        except RefundRefused:
            continue
        except (MemberInactive, AdminRefused) as exc:
            assert book.status != "active"
            assert to_json(book) == before, exc  # a refusal changes nothing, not even time
            continue
        total += sum(e.points for e in step.entries())
        assert book.balance == total
        assert book.held == sum(lot.left for lot in book.lots)
        if book.status == "closed":
            assert book.balance <= 0 and not book.lots
            if closed_at is None:
                closed_at = book.balance
            assert book.balance == closed_at  # nothing taken or given after closing
        book = from_json(to_json(book))
