"""Opt-in campaigns and coupon codes in the store (SQLite, and PostgreSQL with CI=true):
joining changes what a commit earns; a code is used once per use it has, also when
commits race for it; a full refund gives its use back; referral codes name referrers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

import store.campaigns.codes as codes
import store.campaigns.participants as participants
import store.checkout.enrolments as enrolments
import store.checkout.orders as orders
import store.checkout.refunds as refunds
from store.errors import StoreError
from store.registry.programs import ProgramCache
from tests.store.campaign_program import publish_campaigns
from tests.store.helpers import assert_ledger_exact, order

AT = datetime.fromisoformat("2026-11-17T12:00:00-05:00")


@pytest.fixture
def cache(db):
    publish_campaigns(db)
    return ProgramCache()


def _bonus(result, campaign):
    return next((c["points"] for c in result["campaigns"] if c["id"] == campaign), 0)


def test_joining_an_opt_in_campaign_changes_what_orders_earn(db, cache):
    before = orders.commit(db, cache, "retail", order("O-1", member="M-1")).result
    assert _bonus(before, "join-bonus") == 0
    listed = participants.eligibility(db, cache, "retail", "M-1", AT)["campaigns"]
    join = next(c for c in listed if c["id"] == "join-bonus")
    assert join["reasons"] == ["not_enrolled"] and join["participation"] == "opt_in"
    changed, answer = participants.participate(db, cache, "retail", "join-bonus", "M-1", AT, True)
    assert changed and answer["enrolled"] is True
    again, _ = participants.participate(db, cache, "retail", "join-bonus", "M-1", AT, True)
    assert again is False  # idempotent
    after = orders.commit(db, cache, "retail", order("O-2", member="M-1")).result
    assert _bonus(after, "join-bonus") == 100
    listed = participants.eligibility(db, cache, "retail", "M-1", AT)["campaigns"]
    assert next(c for c in listed if c["id"] == "join-bonus")["eligible"] is True
    progress = participants.member_progress(db, cache, "retail", "M-1", AT)
    join = next(c for c in progress["campaigns"] if c["id"] == "join-bonus")
    assert join == {"id": "join-bonus", "type": "fixed_bonus", "uses": 1, "points": 100,
                    "enrolled": True}
    left, _ = participants.participate(db, cache, "retail", "join-bonus", "M-1", AT, False)
    assert left
    later = orders.commit(db, cache, "retail", order("O-3", member="M-1")).result
    assert _bonus(later, "join-bonus") == 0
    assert_ledger_exact(db)


def test_participation_refusals(db, cache):
    with pytest.raises(StoreError) as caught:
        participants.participate(db, cache, "retail", "nope", "M-1", AT, True)
    assert caught.value.code == "unknown_campaign" and caught.value.status == 404
    with pytest.raises(StoreError) as caught:
        participants.participate(db, cache, "retail", "fashion-week", "M-1", AT, True)
    assert caught.value.code == "not_opt_in" and caught.value.status == 422
    with pytest.raises(StoreError) as caught:
        codes.generate(db, cache, "retail", "fashion-week", 1, 1, "tests")
    assert caught.value.code == "codes_not_required"


def test_a_code_is_used_once_and_a_full_refund_gives_it_back(db, cache):
    made = codes.generate(db, cache, "retail", "coupon-bonus", 2, 1, "tests")
    first, second = made["codes"]
    quoted = orders.quote(db, cache, "retail", {**order("Q-1", member="A"),
                                                 "codes": [first.lower(), "NOPE-NOPE"]})
    assert _bonus(quoted, "coupon-bonus") == 70
    assert quoted["codes"] == [
        {"code": first, "campaign": "coupon-bonus", "status": "applied"},
        {"code": "NOPE-NOPE", "campaign": None, "status": "unknown"}]
    committed = orders.commit(db, cache, "retail", {**order("C-1", member="A"),
                                                     "codes": [first]}).result
    assert _bonus(committed, "coupon-bonus") == 70
    assert codes.code_status(db, "retail", first)["left"] == 0
    # used up: another member's quote says so, and their commit earns no bonus
    again = orders.commit(db, cache, "retail", {**order("C-2", member="B"),
                                                 "codes": [first]}).result
    assert _bonus(again, "coupon-bonus") == 0
    assert again["codes"] == [{"code": first, "campaign": None, "status": "used_up"}]
    assert codes.code_status(db, "retail", second)["left"] == 1  # another code: untouched
    refunds.refund(db, cache, "retail", "C-1", {"refund_id": "R-1",
                                                "refunded_at": "2026-11-20T10:00:00Z"})
    assert codes.code_status(db, "retail", first)["left"] == 1  # given back
    back = orders.commit(db, cache, "retail", {**order("C-3", member="B"),
                                                "codes": [first]}).result
    assert _bonus(back, "coupon-bonus") == 70
    assert_ledger_exact(db)


def test_racing_commits_use_a_single_use_code_once(db, cache):
    code = codes.generate(db, cache, "retail", "coupon-bonus", 1, 1, "tests")["codes"][0]

    def commit(n: int) -> str:
        try:
            result = orders.commit(db, cache, "retail", {**order(f"RACE-{n}", member=f"R-{n}"),
                                                          "codes": [code]}).result
        except StoreError as exc:
            return exc.code
        return "bonus" if _bonus(result, "coupon-bonus") else "no bonus"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(commit, range(16)))
    assert outcomes.count("bonus") == 1, outcomes
    assert set(outcomes) <= {"bonus", "no bonus", "code_used_up"}, outcomes
    assert codes.code_status(db, "retail", code)["used"] == 1
    assert_ledger_exact(db)


def test_a_referral_by_code_goes_through_the_referral_rules(db, cache):
    enrolments.enrol_member(db, cache, "retail", {"event_id": "E-1", "member_id": "REF",
                                                  "enrolled_at": "2026-11-01T10:00:00Z"})
    code = codes.referral_code(db, "retail", "REF")
    assert code == codes.referral_code(db, "retail", "REF") and code.startswith("R-")
    friend = enrolments.enrol_member(db, cache, "retail", {
        "event_id": "E-2", "member_id": "FRIEND", "enrolled_at": "2026-11-02T10:00:00Z",
        "referral_code": code.lower()}).result
    assert friend["referral"]["referrer_id"] == "REF" and friend["referral"]["points"] > 0
    # the same rules as a referral by id: the referrer cannot refer themself
    self_ref = enrolments.enrol_member(db, cache, "retail", {
        "event_id": "E-3", "member_id": "REF2", "enrolled_at": "2026-11-02T10:00:00Z",
        "referral_code": codes.referral_code(db, "retail", "FRIEND")}).result
    assert self_ref["referral"]["referrer_id"] == "FRIEND"
    assert "refused" in self_ref["referral"] or self_ref["referral"]["points"] > 0
    with pytest.raises(StoreError) as caught:
        enrolments.enrol_member(db, cache, "retail", {
            "event_id": "E-4", "member_id": "X", "enrolled_at": "2026-11-02T10:00:00Z",
            "referral_code": "R-UNKNOWN1"})
    assert caught.value.code == "unknown_referral_code"
