"""The explain trace: every rule considered, whether it fired, and why not — rendered
from the evaluation's record of the decisions it took (engine/evaluation/record.py).

`fired` is always the rule engine's answer to the rule's own question, as recorded, and
`facts` the values it was asked about. What the evaluation then did with a rule that
fired is said apart: `applied` (false when a campaign was used up, had no line in its
categories, is for activities, or a rotation had no line), with the reason. Why a rule
did not fire comes from the engine's answers to its comparisons, recorded with the
decision. Nothing here decides anything: a rule whose question was not asked says so.
Earning, category and tier-multiplier entries report the arithmetic's inputs (the
order's lines and the member's tier), which are not rule-engine decisions.
"""

from __future__ import annotations

from typing import Any

from engine.evaluation.evaluator import Evaluation
from engine.evaluation.outcome import Outcome
from engine.evaluation.record import Decision, entry


def _entry(rule: str, kind: str, fired: bool, reason: str | None = None, **extra: Any) -> dict:
    out: dict[str, Any] = {"rule": rule, "kind": kind, "fired": fired}
    if reason:
        out["reason"] = reason
    out.update(extra)
    return out


def _not_asked(rule: str, kind: str, why: str) -> dict[str, Any]:
    return _entry(rule, kind, False, f"not decided: {why}")


def _applied(out: dict[str, Any], applied: bool, reason: str | None = None) -> None:
    """Say what the evaluation did with a rule that fired."""
    if out["fired"]:
        out["applied"] = applied
        if reason:
            out["reason"] = reason


def _earning(ev: Evaluation, by_rule: dict[str, int], categories: set[str]) -> list[dict]:
    model, order = ev.model, ev.req.order
    has_lines = bool(order and order.lines)
    trace = [_entry("earning.base", "earning", has_lines, None if has_lines else "no order lines",
                    rate=f"{model.earning.base_rate.normalize():f}",
                    points=by_rule.get("earning.base", 0))]
    for cat in sorted(model.earning.categories):
        rule = f"earning.categories.{cat}"
        hit = cat in categories
        trace.append(_entry(rule, "earning", hit, None if hit else f"no line in category {cat!r}",
                            **({"points": by_rule.get(rule, 0)} if hit else {})))
    for cat in sorted(model.earning.excluded_categories):
        hit = cat in categories
        trace.append(_entry(f"earning.exclusions.{cat}", "earning", hit,
                            None if hit else f"no line in category {cat!r}"))
    return trace


def _tiers(ev: Evaluation, by_rule: dict[str, int]) -> list[dict]:
    trace = []
    levels = ev.model.tiers.levels if ev.model.tiers else ()
    for tier in levels:
        mine = tier.id == ev.tier_id
        trace.append(_entry(f"tiers.{tier.id}", "tier", mine,
                            None if mine else f"member tier is {ev.tier_id!r}",
                            **({"multiplier": f"{tier.multiplier.normalize():f}",
                                "points": by_rule.get(f"tiers.{tier.id}", 0)} if mine else {})))
    decision = ev.record.find("tiers")  # asked when the state carries qualifying totals
    if decision is not None:
        trace.extend(entry(decision, f"tiers.{tier.id}.qualification", "tier_qualification")
                     for tier in levels)
    return trace


def _rotations(ev: Evaluation, order_decision: Decision, outcome: Outcome,
               by_rule: dict[str, int], categories: set[str]) -> list[dict]:
    trace = []
    for rotation in ev.model.rotations:
        out = entry(order_decision, rotation.rule_id, "seasonal")
        rule = rotation.rule_id
        if rule in outcome.usage.caps_hit:
            _applied(out, True, "spending cap reached; spend past it earned the regular rate")
        elif not rotation.categories & categories:
            _applied(out, False, "no line in its categories " + ", ".join(sorted(rotation.categories)))
        else:
            _applied(out, True)
        if out["fired"]:
            out["points"] = by_rule.get(rule, 0)
        trace.append(out)
    return trace


def _campaign(ev: Evaluation, order_decision: Decision, campaign: Any, advanced: set[str],
              by_rule: dict[str, int], categories: set[str]) -> dict[str, Any]:
    rule = campaign.rule_id
    out = entry(order_decision, rule, f"campaign:{campaign.type}")
    if rule in ev.skipped:
        _applied(out, False, ev.skipped[rule])
    elif campaign.type == "referral":
        _applied(out, False, "applies to referral activities, not to orders")
    elif campaign.categories and not campaign.categories & categories:
        _applied(out, False, "no line in its categories " + ", ".join(sorted(campaign.categories)))
    elif campaign.type == "tier_challenge":
        _applied(out, campaign.id in advanced,
                 None if campaign.id in advanced else "its goal is not reached")
    else:
        _applied(out, True, ev.skipped.get(rule + "#capped"))
    if out["fired"]:
        out["points"] = by_rule.get(rule, 0)
    return out


def _campaigns(ev: Evaluation, order_decision: Decision, outcome: Outcome,
               by_rule: dict[str, int], categories: set[str]) -> list[dict]:
    advanced = {a.campaign for a in outcome.advances}
    goals = ev.record.find("challenges")
    trace = []
    for campaign in ev.model.campaigns:
        trace.append(_campaign(ev, order_decision, campaign, advanced, by_rule, categories))
        rule = campaign.rule_id
        for question in (f"{rule}.limit_per_member", f"{rule}.budget"):
            if order_decision.asked(question):  # decided with the order's rules
                trace.append(entry(order_decision, question, "campaign_limit"))
        if campaign.type == "tier_challenge" and campaign.target_spend is not None:
            goal = f"{rule}.goal"
            trace.append(entry(goals, goal, "challenge_goal")
                         if goals is not None and goals.asked(goal) else
                         _not_asked(goal, "challenge_goal", "the challenge does not apply"))
    return trace


def _custom(ev: Evaluation, order_decision: Decision) -> list[dict]:
    trace = []
    lines = ev.record.lines()
    for custom in ev.model.rules:
        rule = custom.rule_id
        if not custom.line_level:
            trace.append(entry(order_decision, rule, "rule"))
            continue
        if not lines:
            trace.append(_not_asked(rule, "rule", "no order lines"))
            continue
        hits = [d.line.index for d in lines if rule in d.fired]
        out = _entry(rule, "rule", bool(hits), None if hits else " | ".join(
            f"line {d.line.index}: {d.why_not(rule)}" for d in lines))
        out["facts"] = [d.facts(rule) for d in lines]
        if hits:
            out["lines"] = hits
        trace.append(out)
    return trace


def _redemption(ev: Evaluation, outcome: Outcome) -> list[dict]:
    redemption = outcome.redemption
    trace = []
    decision = ev.record.find("redemption")
    questions = ev.program.questions.redemption
    if decision is not None and questions is not None:
        kind = "reward" if decision.fact.get("redeem.kind") == "reward" else "points"
        wanted = decision.fact.get("reward.id")
        for reason in questions.reasons:
            if reason.path in ("any", kind) and reason.reward in (None, wanted):
                trace.append(entry(decision, reason.id, "redemption", code=reason.code))
    trace.append(_entry("redemption", "redemption", redemption.eligible,
                        "; ".join(r.code for r in redemption.reasons) or None,
                        max_points=redemption.max_points))
    return trace


def _activities(ev: Evaluation, outcome: Outcome) -> list[dict]:
    """The first-purchase bonus: the refusal rules asked with the order, and whether the
    bonus was given (`earning.activities.first_purchase`)."""
    decision = ev.record.find("activity_refusals")
    if decision is None:  # not asked: no order, or the ruleset has no first-purchase bonus
        return []
    trace = [entry(decision, reason.id, "activity_refusal", code=reason.code)
             for reason in ev.program.questions.refusals.reasons
             if reason.path in ("any", "first_purchase")]
    given = next((a for a in outcome.activities if a.activity == "first_purchase"), None)
    trace.append(_entry("earning.activities.first_purchase", "activity", given is not None,
                        None if given else "a refusal rule holds",
                        **({"points": given.points} if given else {})))
    return trace


def build_trace(ev: Evaluation, outcome: Outcome) -> list[dict[str, Any]]:
    """The trace of `ev`, whose decisions are recorded and whose outcome is `outcome`."""
    by_rule = outcome.earn.by_rule
    order = ev.req.order
    categories = {ln.category for ln in order.lines} if order else set()
    order_decision = ev.record.find("order")
    assert order_decision is not None, "every evaluation decides its order rules"
    return [*_earning(ev, by_rule, categories), *_tiers(ev, by_rule),
            *_rotations(ev, order_decision, outcome, by_rule, categories),
            *_campaigns(ev, order_decision, outcome, by_rule, categories),
            *_custom(ev, order_decision), *_activities(ev, outcome), *_redemption(ev, outcome)]
