"""Abuse of the points economy, in the store (SQLite, or PostgreSQL with CI=true): refunds
after redemption under each `refund_policy`, debts and their repayment, the first-purchase
bonus of a refunded order, referrals, birthdays, refunds and redemptions in time.

The program is tests/store/helpers.py's `economy`: 1 point per 1.00 (electronics 2), a
200-point first-purchase bonus, points expiring after 6 months, redemptions from 500."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import select

from engine.lifecycle import from_json
from store.checkout import activities, orders, refunds
from store.db.database import Database
from store.errors import Conflict, StoreError, Unprocessable
from store.jobs import expiry
from store.ledger import members
from store.redemptions import automatic as auto_redemption
from store.redemptions import redeem as redemptions
from store.registry.programs import ProgramCache
from store.tables.core import LedgerEntryRow, MemberRow
from tests.store.helpers import assert_ledger_exact, order, publish_economy

P = "economy"


def at(day: str, hour: int = 12) -> str:
    return f"{day}T{hour:02d}:00:00-05:00"


@dataclass
class Shop:
    """The store's calls on the economy program, dated by day (noon, New York)."""

    db: Database
    cache: ProgramCache

    def buy(self, order_id: str, amount: str, day: str, member: str = "M1",
            quantity: int = 1) -> dict[str, Any]:
        return orders.commit(self.db, self.cache, P, order(
            order_id, member=member, amount=amount, placed_at=at(day), quantity=quantity)).result

    def redeem(self, day: str, member: str = "M1", **body: Any) -> dict[str, Any]:
        return redemptions.redeem(self.db, self.cache, P, {"member_id": member, "as_of": at(day),
                                                           **body}).result

    def refund(self, order_id: str, day: str, refund_id: str = "R-1",
               **body: Any) -> dict[str, Any]:
        return refunds.refund(self.db, self.cache, P, order_id,
                              {"refund_id": refund_id, "refunded_at": at(day), **body}).result

    def activity(self, body: dict[str, Any]) -> dict[str, Any]:
        return activities.record(self.db, self.cache, P, body).result

    def balance(self, member: str = "M1") -> int:
        with self.db.reading() as session:
            row = members.find(session, P, member)
            return int(row.balance) if row is not None else 0


@pytest.fixture
def program(db):
    """`program(policy)` publishes the economy program and answers a Shop on it."""
    def make(policy: str | None = "clawback") -> Shop:
        publish_economy(db, policy)
        return Shop(db, ProgramCache())
    return make


# --- 1. earn → redeem → refund ---------------------------------------------------------

def test_clawback_takes_back_spent_points_and_later_earnings_repay_the_debt(db, program):
    shop = program("clawback")
    assert shop.buy("O-1", "775.00", "2026-03-03")["commit"]["points_awarded"] == 1750
    shop.redeem("2026-03-04", points=1500)  # from O-1's earned lot, oldest first
    done = shop.refund("O-1", "2026-03-05")
    # Everything the order earned comes back (1,550 and the 200 first-purchase bonus):
    # the 250 still held and 1,500 more than the member has.
    assert done["points_reversed"] == 1750 and done["balance"] == -1500 == shop.balance()
    assert_ledger_exact(db, negative=True)
    with db.reading() as session:  # the debt: drawn by the refund's reverse entries, 1,500 owed
        debts = [e for e in session.scalars(select(LedgerEntryRow)) if debt_drawn(e)]
    assert {(d.kind, d.source_type, d.source_ref) for d in debts} == {
        ("reverse", "refund", "O-1/R-1")}
    assert sum(debt_drawn(d) for d in debts) == 1500

    # Nothing can be redeemed meanwhile: points, a reward, a checkout hold.
    for body in ({"points": 500}, {"reward_id": "MUG"},
                 {"points": 500, "order_id": "H-1", "order_total": "100.00"}):
        with pytest.raises(StoreError) as refused:
            shop.redeem("2026-03-06", **body)
        assert (refused.value.code, refused.value.status) == ("NEGATIVE_BALANCE", 409)
        assert refused.value.errors[0]["rule"] == "redemption.refund_policy"
    assert shop.balance() == -1500

    # Later earnings repay the debt first: their lots are drawn to it.
    assert shop.buy("O-2", "400.00", "2026-03-10")["commit"]["balance"] == -700
    with db.reading() as session:  # O-2's lot (base, electronics) went to the debt
        o2 = credits(session, "order", "O-2")
        assert sum(debt_drawn(e) for e in o2) == 800 == sum(e.points for e in o2)
        book = from_json(session.scalars(select(MemberRow)).one().book)
        assert {e.lot for e in o2}.isdisjoint(lot.no for lot in book.lots)
    assert_ledger_exact(db, negative=True)

    # Expiry never deepens a debt: the repaying lots have nothing left to expire.
    report = expiry.expire(db, P, datetime.fromisoformat(at("2027-01-01")))
    assert report.points_expired == 0 and shop.balance() == -700

    assert shop.buy("O-3", "500.00", "2027-01-05")["commit"]["balance"] == 300
    assert_ledger_exact(db, negative=True)
    assert shop.redeem("2027-01-06", points=300 + 200) if False else True


def debt_drawn(entry: LedgerEntryRow) -> int:
    """Points an entry moved on the member's debt (lot 0): a clawback running into
    debt, or a credit repaying it."""
    return sum(points for lot, points in entry.draws or () if lot == 0)


def credits(session: Any, source_type: str, source_ref: str) -> list[LedgerEntryRow]:
    return list(session.scalars(select(LedgerEntryRow).where(
        LedgerEntryRow.source_type == source_type, LedgerEntryRow.source_ref == source_ref,
        LedgerEntryRow.lot.is_not(None)).order_by(LedgerEntryRow.id)))


def ledger_time(day: str) -> Any:
    from datetime import datetime
    return datetime.fromisoformat(at(day))


def test_forfeit_remaining_takes_back_only_what_the_order_still_holds(db, program):
    shop = program("forfeit_remaining")
    shop.buy("O-1", "775.00", "2026-03-03")
    shop.redeem("2026-03-04", points=1500)
    done = shop.refund("O-1", "2026-03-05")
    assert done["points_reversed"] == 50 + 200 and done["balance"] == 0
    assert_ledger_exact(db)


def test_without_a_refund_policy_a_program_forfeits_the_remaining(db, program):
    shop = program(None)
    shop.buy("O-1", "775.00", "2026-03-03")
    shop.redeem("2026-03-04", points=1500)
    assert shop.refund("O-1", "2026-03-05")["balance"] == 0


@pytest.mark.parametrize("policy, reversed_, left", [("clawback", 500, -500),
                                                     ("forfeit_remaining", 0, 0)])
def test_points_lost_to_expiry_are_not_taken_back(db, program, policy, reversed_, left):
    """1,000 + 200 earned in January, 500 redeemed, the rest expired in July: a refund in
    August takes back (under clawback) only the 500 the member spent."""
    shop = program(policy)
    shop.buy("O-1", "500.00", "2026-01-10")
    shop.redeem("2026-02-01", points=500)
    done = shop.refund("O-1", "2026-08-01")
    assert (done["points_reversed"], done["balance"]) == (reversed_, left)
    assert_ledger_exact(db, negative=True)


def test_cancelling_the_redemption_repays_the_debt_it_made(db, program):
    shop = program("clawback")
    shop.buy("O-1", "775.00", "2026-03-03")
    spent = shop.redeem("2026-03-04", points=1500)
    assert shop.refund("O-1", "2026-03-05")["balance"] == -1500
    back = redemptions.cancel(db, ProgramCache(), P, spent["id"], {"cancelled_at": at("2026-03-06")}).result
    assert back["balance"] == 0  # where a plain refund of the order would have left it
    assert_ledger_exact(db, negative=True)


@pytest.mark.parametrize("policy", ["clawback", "forfeit_remaining"])
def test_redeem_expire_refund_cancel_ends_where_a_plain_refund_would(db, program, policy):
    """500 of January's 1,000 + 200 redeemed; the rest expires in July; the order is
    refunded in August (under clawback the 500 redeemed become a debt); then the
    redemption is cancelled: its points come back past their date, and the member ends at
    0 — where the same order, unspent, expired and refunded, would leave them."""
    shop = program(policy)
    shop.buy("O-1", "500.00", "2026-01-10")
    spent = shop.redeem("2026-02-01", points=500)
    assert shop.refund("O-1", "2026-08-01")["balance"] == (-500 if policy == "clawback" else 0)
    back = redemptions.cancel(db, ProgramCache(), P, spent["id"], {"cancelled_at": at("2026-08-02")}).result
    assert back["balance"] == 0 == shop.balance()
    assert_ledger_exact(db, negative=True)


def test_quotes_and_automatic_redemption_see_a_negative_balance(db, program):
    shop = program("clawback")
    shop.buy("O-1", "775.00", "2026-03-03")
    shop.redeem("2026-03-04", points=1500)
    shop.refund("O-1", "2026-03-05")
    quote = orders.quote(db, shop.cache, P, {
        **order("Q-1", member="M1", placed_at=at("2026-03-06")), "redeem": {"points": 500}})
    reasons = [r["code"] for r in quote["redemption"]["reasons"]]
    assert reasons == ["NEGATIVE_BALANCE"] and quote["member"]["points_balance"] == -1500
    # Opted in to automatic redemption (500 at 500 points, once a month): nothing while
    # the balance is below zero, and once later earnings have repaid the debt, as usual.
    auto_redemption.configure(db, shop.cache, P, "M1", {"method": "cashback"})
    owing = shop.buy("O-2", "100.00", "2026-03-07")["commit"]
    assert owing["balance"] == -1300 and not owing.get("auto_redemptions")
    repaid = shop.buy("O-3", "1000.00", "2026-03-08")["commit"]
    assert [a["points"] for a in repaid["auto_redemptions"]] == [500]
    assert repaid["balance"] == -1300 + 2000 - 500


# --- 3. the first-purchase bonus -----------------------------------------------------

def test_a_partial_refund_keeps_the_first_purchase_bonus_the_whole_refund_takes_it(db, program):
    shop = program("clawback")
    shop.buy("O-1", "387.50", "2026-03-03", quantity=2)  # 1,550 + 200
    first = shop.refund("O-1", "2026-03-04", lines=[{"index": 0, "quantity": 1}])
    # Half of each rule's lot, rounded down: 387 of earning.base's 775, 387 of the
    # electronics multiplier's 775.
    assert first["points_reversed"] == 774 and first["balance"] == 1750 - 774
    rest = shop.refund("O-1", "2026-03-05", refund_id="R-2")
    assert rest["points_reversed"] == 776 + 200 and rest["balance"] == 0


@pytest.mark.parametrize("policy, left", [("clawback", -1700), ("forfeit_remaining", 0)])
def test_a_spent_first_purchase_bonus(db, program, policy, left):
    """1,700 of 1,750 redeemed (the earned 1,550, then 150 of the bonus): clawback takes
    all back; forfeit_remaining what the lots hold (the bonus's last 50)."""
    shop = program(policy)
    shop.buy("O-1", "775.00", "2026-03-03")
    shop.redeem("2026-03-04", points=1700)
    done = shop.refund("O-1", "2026-03-05")
    assert done["balance"] == left
    assert done["points_reversed"] == (1750 if policy == "clawback" else 50)


# --- 4. refunds and redemptions in time ------------------------------------------------

def test_a_refund_dated_before_its_order_is_refused(db, program):
    shop = program()
    shop.buy("O-1", "100.00", "2026-03-03")
    with pytest.raises(Unprocessable) as err:
        refunds.refund(db, shop.cache, P, "O-1", {"refund_id": "R-1",
                                             "refunded_at": "2026-03-03T11:59:59-05:00"})
    assert (err.value.code, err.value.pointer) == ("refund_before_order", "/refunded_at")
    assert shop.balance() == 400
    same = refunds.refund(db, shop.cache, P, "O-1", {"refund_id": "R-1",
                                                "refunded_at": "2026-03-03T17:00:00Z"})
    assert same.result["balance"] == 0  # the order's own instant is fine


def test_an_empty_list_of_lines_is_refused_omitting_it_refunds_everything(db, program):
    shop = program()
    shop.buy("O-1", "100.00", "2026-03-03")
    with pytest.raises(Unprocessable) as err:
        shop.refund("O-1", "2026-03-04", lines=[])
    assert (err.value.code, err.value.pointer) == ("invalid_request", "/lines")
    assert shop.balance() == 400
    assert shop.refund("O-1", "2026-03-04")["points_reversed"] == 400


def test_a_redemption_draws_only_on_points_that_existed_at_its_instant(db, program):
    shop = program()
    shop.buy("O-1", "775.00", "2026-03-03")           # 1,750 on 3 March
    shop.buy("O-2", "400.00", "2026-03-10")           # 800 on 10 March
    with pytest.raises(StoreError) as early:
        shop.redeem("2026-03-01", points=500)          # before any point existed
    assert (early.value.code, early.value.status) == ("INSUFFICIENT_POINTS", 409)
    with pytest.raises(StoreError) as short:
        shop.redeem("2026-03-05", points=2000)         # only O-1's 1,750 existed
    assert short.value.code == "INSUFFICIENT_POINTS"
    assert "1750" in short.value.errors[0]["message"]
    made = shop.redeem("2026-03-05", points=1700)
    with db.reading() as session:
        o1 = {str(e.lot) for e in credits(session, "order", "O-1")
              + credits(session, "activity", "order:O-1")}
    assert {lot["lot_id"] for lot in made["lots"]} <= o1
    assert shop.balance() == 1750 + 800 - 1700


# --- 2. referrals ----------------------------------------------------------------------

def refer(shop: Shop, event_id: str, referrer: str, friend: str | None,
          day: str = "2026-03-03") -> dict[str, Any]:
    body = {"event_id": event_id, "member_id": referrer, "activity": "referral",
            "occurred_at": at(day)}
    if friend is not None:
        body["friend_id"] = friend
    return shop.activity(body)


def test_a_friend_is_referred_once_whoever_refers_them(db, program):
    shop = program()
    first = refer(shop, "E-1", "A", "F")
    assert (first["points"], first["friend"]["points"]) == (500, 200)
    for event_id, referrer in (("E-2", "B"), ("E-3", "A")):
        with pytest.raises(Conflict) as again:
            refer(shop, event_id, referrer, "F")
        assert (again.value.code, again.value.pointer) == ("already_referred", "/friend_id")
    assert (shop.balance("A"), shop.balance("B"), shop.balance("F")) == (500, 0, 200)


@pytest.mark.parametrize("chain", [["A", "B"], ["A", "B", "C"], ["A", "B", "C", "D"]])
def test_circular_referrals_are_refused(db, program, chain):
    shop = program()
    for n, (referrer, friend) in enumerate(pairwise(chain)):
        refer(shop, f"E-{n}", referrer, friend)
    with pytest.raises(Conflict) as circle:
        refer(shop, "E-last", chain[-1], chain[0])
    assert (circle.value.code, circle.value.pointer) == ("circular_referral", "/friend_id")
    assert shop.balance(chain[0]) == 500  # referred nobody's referrer, earned once


@pytest.mark.parametrize("friend, code", [(None, "friend_required"), ("A", "self_referral")])
def test_a_referral_names_another_member(db, program, friend, code):
    shop = program()
    with pytest.raises(Unprocessable) as err:
        refer(shop, "E-1", "A", friend)
    assert (err.value.code, err.value.pointer) == (code, "/friend_id")


# --- 3. birthdays ----------------------------------------------------------------------

def birthday(shop: Shop, event_id: str, day: str,
             attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"event_id": event_id, "member_id": "M1", "activity": "birthday",
                            "occurred_at": at(day)}
    if attributes is not None:
        body["attributes"] = attributes
    return shop.activity(body)


def test_a_birthday_bonus_needs_a_birthday_on_record(db, program):
    shop = program()
    with pytest.raises(Unprocessable) as unknown:
        birthday(shop, "E-1", "2026-03-03")
    assert (unknown.value.code, unknown.value.pointer) == ("birthday_unknown",
                                                           "/attributes/birthday")
    with pytest.raises(Unprocessable) as other_month:
        birthday(shop, "E-2", "2026-03-03", {"birthday": "1990-07-14"})
    assert other_month.value.code == "not_birthday_month"
    assert birthday(shop, "E-3", "2026-07-03", {"birthday": "1990-07-14"})["points"] == 100
    assert birthday(shop, "E-4", "2027-07-03")["points"] == 100  # the birthday on record


def test_under_forfeit_remaining_points_that_come_back_are_taken_by_the_refund(db, program):
    """Redeemed, then the order refunded (its lot held nothing: nothing taken), then the
    redemption cancelled: the points come back to the refunded order's lot, and the
    refund takes them (`<order>/owed`) — the member ends where a plain refund leaves them."""
    shop = program("forfeit_remaining")
    shop.buy("O-1", "500.00", "2026-01-10")
    spent = shop.redeem("2026-02-01", points=500)
    assert shop.refund("O-1", "2026-03-01")["balance"] == 0
    back = redemptions.cancel(db, shop.cache, P, spent["id"],
                              {"cancelled_at": at("2026-03-02")}).result
    assert back["balance"] == 0 == shop.balance()
    with db.reading() as session:
        owed = session.scalars(select(LedgerEntryRow).where(
            LedgerEntryRow.source_ref == "O-1/owed")).all()
    assert sum(e.points for e in owed) == -500 and {e.source_type for e in owed} == {"refund"}
    assert_ledger_exact(db)
