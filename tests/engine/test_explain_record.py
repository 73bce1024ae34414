"""Explain renders the decisions the evaluation took (engine/evaluation/record.py): what
the rule engine answered is what the trace says fired, and the evaluation used that very
answer — explain decides nothing again."""

from __future__ import annotations

import copy

from engine import evaluate
from engine.evaluation.evaluator import Evaluation
from engine.evaluation.request import parse
from engine.evaluation.result import assemble
from engine.evaluation.state import from_request
from engine.program import Program
from tests.conftest import check_trace, make_request

WEEKEND = "campaigns.double-points-weekend"


def test_the_trace_shows_the_answer_that_was_used(retail):
    # A program of its own (its own caches), whose cached answer for a Tuesday fact is
    # made to say that the weekend campaign holds: the points and the trace both follow
    # the recorded answer, so the trace cannot have been decided again.
    program = Program.from_data(copy.deepcopy(dict(retail.data)))
    request = make_request([("electronics", "100.00")], explain=True)
    ev = Evaluation(program, parse(request), from_request(request["member"]))
    key = program.compiled.order.encoding.key(ev.fact)
    program.compiled.order.cache[key] = ev.fired | {WEEKEND}
    result = evaluate(program, request)
    assert result["earn"]["by_rule"][WEEKEND] == 300
    entry = next(e for e in result["trace"] if e["rule"] == WEEKEND)
    assert entry["fired"] is True and entry["applied"] is True and entry["points"] == 300
    assert entry["facts"]["order.weekday"] == "tuesday"


def test_every_decision_is_recorded_in_order(retail):
    request = make_request([("electronics", "100.00"), ("gift_cards", "50.00")],
                           state={"qualifying": {"spend": "450.00", "orders": 4}},
                           redeem={"points": 600})
    ev = Evaluation(retail, parse(request), from_request(request["member"]))
    assert assemble(ev, None).redemption.eligible is False  # assessed when first read
    # (the campaigns' usage limits are decided with the order's rules)
    assert [d.question for d in ev.record.decisions] == [
        "order", "lines", "tiers", "challenges", "activity_refusals", "redemption"]
    # the first-purchase bonus: the member's orders are not known, so not a first order
    first = ev.record.find("activity_refusals")
    assert first is not None and first.fired == {
        "earning.activities.first_purchase.first_order"}
    assert [d.line.index for d in ev.record.lines()] == [0, 1]
    tiers = ev.record.find("tiers")
    assert tiers is not None and tiers.fired == {"tiers.bronze.qualification",
                                                 "tiers.silver.qualification"}
    assert tiers.held is None  # comparisons are asked for explain only


def test_qualification_goal_and_refusals_are_in_the_trace(retail):
    request = make_request([("electronics", "600.00")], tier="bronze", explain=True,
                           state={"qualifying": {"spend": "0.00", "orders": 4}},
                           redeem={"points": 100})
    result = evaluate(retail, request)
    by_rule = {e["rule"]: e for e in result["trace"]}
    silver = by_rule["tiers.silver.qualification"]
    assert silver["fired"] is True
    assert silver["facts"] == {"member.qualifying_spend": "600.00",
                               "member.qualifying_orders": 5}
    gold = by_rule["tiers.gold.qualification"]
    assert gold["fired"] is False and "needs gte '1500.00'" in gold["reason"]
    goal = by_rule["campaigns.tier-up-challenge.goal"]
    assert goal["fired"] is True and goal["facts"] == {
        "member.challenge_spend.tier-up-challenge": "600.00"}
    assert by_rule["campaigns.tier-up-challenge"]["applied"] is True
    minimum = by_rule["redemption.min_points"]
    assert minimum["fired"] is True and minimum["code"] == "BELOW_MINIMUM"
    assert result["tier_after"] == "gold"  # qualified for silver, the challenge adds one
    assert check_trace(retail, result) >= 15
