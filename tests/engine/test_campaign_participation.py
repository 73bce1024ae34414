"""Opt-in campaigns and campaigns that need a coupon code: the compiled campaign
condition decides with the member's enrolments and the codes the request presents
(member.state carries them in a stateless request), and the eligibility listing gives
the rule engine's reasons a member is not eligible."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.evaluation.campaigns import campaign_eligibility
from engine.evaluation.state import MemberState

JOIN = {"id": "join-bonus", "name": "Join Bonus", "type": "fixed_bonus", "points": 100,
        "participation": "opt_in"}
COUPON = {"id": "coupon-bonus", "name": "Coupon Bonus", "type": "fixed_bonus", "points": 70,
          "requires_code": True}
GOLD_ONLY = {"id": "gold-only", "name": "Gold only", "type": "fixed_bonus", "points": 5,
             "eligibility": {"tiers": ["gold"]}, "limit_per_member": 2,
             "schedule": {"from": "2026-11-01", "to": "2026-11-30",
                          "days_of_week": ["tuesday"]}}
ENDED = {"id": "ended", "name": "Ended", "type": "fixed_bonus", "points": 5,
         "schedule": {"from": "2026-01-01", "to": "2026-01-31"}}


@pytest.fixture(scope="module")
def gated(variant):
    return variant(lambda data: data.__setitem__(
        "campaigns", [dict(JOIN), dict(COUPON), dict(GOLD_ONLY), dict(ENDED)]))


def _bonus(result, campaign):
    return next((c["points"] for c in result["campaigns"] if c["id"] == campaign), 0)


def test_opt_in_campaign_applies_only_to_enrolled_members(gated, req, run):
    plain = run(gated, req([("fashion", "10.00")]))
    assert _bonus(plain, "join-bonus") == 0
    joined = run(gated, req([("fashion", "10.00")], state={"enrolments": ["join-bonus"]}))
    assert _bonus(joined, "join-bonus") == 100
    assert joined["earn"]["points"] == plain["earn"]["points"] + 100


def test_code_campaign_needs_a_valid_presented_code(gated, req, run):
    base = req([("fashion", "10.00")], state={"codes": {"SAVE-123": "coupon-bonus"}})
    assert _bonus(run(gated, base), "coupon-bonus") == 0  # valid, but not presented
    res = run(gated, {**base, "codes": ["save-123", "NOPE-1"]})
    assert _bonus(res, "coupon-bonus") == 70
    assert res["codes"] == [
        {"code": "SAVE-123", "campaign": "coupon-bonus", "status": "applied"},
        {"code": "NOPE-1", "campaign": None, "status": "unknown"}]
    # a code presented without being valid (no state) gives nothing
    res = run(gated, {**req([("fashion", "10.00")]), "codes": ["SAVE-123"]})
    assert _bonus(res, "coupon-bonus") == 0
    assert res["codes"][0]["status"] == "unknown"


def test_explain_says_why_an_opt_in_campaign_did_not_fire(gated, req, run):
    res = run(gated, req([("fashion", "10.00")], explain=True))
    entry = next(e for e in res["trace"] if e["rule"] == "campaigns.join-bonus")
    assert entry["fired"] is False
    assert "member.enrolled.join-bonus" in entry["reason"]


def _listing(program, state, when="2026-11-17T15:00:00+00:00", attributes=None):
    at = datetime.fromisoformat(when).astimezone(UTC)
    return {c["id"]: c for c in campaign_eligibility(program, "M1", attributes or {},
                                                     state, at)}


def test_listing_gives_the_rule_engines_reasons(gated):
    listed = _listing(gated, MemberState(tier="silver"))
    assert "ended" not in listed  # not running
    assert listed["join-bonus"]["reasons"] == ["not_enrolled"]
    assert listed["join-bonus"]["eligible"] is False
    assert listed["coupon-bonus"]["eligible"] is True
    assert listed["coupon-bonus"]["order_terms"] == {"code": True}
    assert listed["gold-only"]["reasons"] == ["tier_not_eligible"]
    gold = _listing(gated, MemberState(tier="gold", enrolments=frozenset({"join-bonus"}),
                                       campaign_usage={"gold-only": 2}))
    assert gold["join-bonus"]["eligible"] is True and gold["join-bonus"]["enrolled"] is True
    assert gold["gold-only"]["reasons"] == ["limit_reached"]
    wednesday = _listing(gated, MemberState(tier="gold"), "2026-11-18T15:00:00+00:00")
    assert wednesday["gold-only"]["reasons"] == ["not_today"]


@pytest.mark.parametrize(("codes", "message"), [
    ("X", "expected a list of codes"),
    (["ab"], "item 0"),
    ([f"C{i:03d}" for i in range(21)], "at most 20 codes"),
    (["bad code"], "not a code"),
])
def test_codes_field_is_checked(gated, req, codes, message):
    from engine.evaluation.request import RequestInvalid, parse
    with pytest.raises(RequestInvalid) as caught:
        parse({**req([("fashion", "10.00")]), "codes": codes})
    assert any(path == "$.codes" and message in text for path, text in caught.value.errors)


def test_a_code_given_twice_counts_once(req):
    from engine.evaluation.request import parse
    assert parse({**req([("fashion", "10.00")]), "codes": ["ab-1", "AB-1", "cd-2"]}).codes \
        == ("AB-1", "CD-2")


def test_referral_campaign_cannot_be_opt_in():
    from engine.language.loader import load_sources
    from engine.language.validate import validate
    loaded = load_sources({"program.yaml": "program: x\nversion: 1\nname: X\n"
                           "timezone: UTC\ncurrency: USD\n"
                           "earning:\n  base_rate: 1\n  activities:\n    referral: {points: 1}\n"
                           "campaigns:\n  - id: r\n    type: referral\n    points: 5\n"
                           "    participation: opt_in\n"})
    errors = [str(e) for e in validate(loaded)]
    assert any("participation and requires_code are for campaigns on orders" in e
               for e in errors), errors


def test_an_exclusive_campaign_needing_enrolment_or_a_code_drops_nothing_always():
    from engine.language.warnings import source_warnings
    base = ("program: x\nversion: 1\nname: X\ntimezone: UTC\ncurrency: USD\n"
            "earning:\n  base_rate: 1\ncampaigns:\n"
            "  - id: small\n    type: multiplier\n    multiplier: 1.5\n"
            "  - id: big\n    type: multiplier\n    multiplier: 3\n    stacking: exclusive\n")

    def codes(extra: str) -> list[str]:
        return [w.code for w in source_warnings({"program.yaml": base + extra})]
    assert "unreachable_campaign" in codes("")
    assert "unreachable_campaign" not in codes("    participation: opt_in\n")
    assert "unreachable_campaign" not in codes("    requires_code: true\n")


def test_a_join_that_brings_a_book_past_an_expiry_is_counted(gated, tmp_path):
    """Joining brings the member's book to the join's instant: points that expire by then
    are expired and counted, so the simulation's books still balance."""
    import json

    from engine.simulation.simulate import simulate
    history = tmp_path / "h.jsonl"
    events = [
        {"type": "order", "member_id": "M", "at": "2026-01-05T10:00:00Z",
         "order": {"id": "O1", "lines": [{"sku": "s", "category": "fashion", "quantity": 1,
                                          "unit_price": "100.00"}]}},
        {"type": "campaign_join", "member_id": "M", "at": "2029-06-01T10:00:00Z",
         "campaign": "join-bonus"},
        {"type": "campaign_join", "member_id": "M", "at": "2029-06-02T10:00:00Z",
         "campaign": "gold-only"},
    ]
    history.write_text("".join(json.dumps(e) + "\n" for e in events))
    states = tmp_path / "states.jsonl"
    doc = simulate(gated, history, member_states=states)
    totals = doc["totals"]
    assert totals["points_expired"] == totals["points_issued"] > 0
    assert totals["books_balance"] is True and totals["sum_of_member_balances"] == 0
    assert json.loads(states.read_text())["enrolments"] == ["join-bonus"]
    assert doc["events"]["errors"][0]["message"].startswith("not_opt_in")
