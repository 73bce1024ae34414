"""Which running campaigns a member may take part in at an instant, and why not — the
rule engine's answers to the reason rules of engine/rules/eligibility.py, asked on one
fact of the member (tier, attributes, enrolments, campaign uses and budgets) at the
instant, program-local. Nothing here decides: it builds the fact and reads the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.evaluation.evaluator import gate_fact
from engine.evaluation.request import Request
from engine.evaluation.state import MemberState
from engine.program import Program
from engine.rules.facts import order_fact

__all__ = ["campaign_eligibility"]


def _terms(c: Any) -> dict[str, Any]:
    """What a campaign asks of an order, which no member fact can decide."""
    elig = c.eligibility
    out: dict[str, Any] = {}
    if elig.channels:
        out["channels"] = sorted(elig.channels)
    if elig.min_order is not None:
        out["min_order"] = f"{elig.min_order:.2f}"
    if c.type == "spend_threshold" and c.threshold is not None:
        out["threshold"] = f"{c.threshold:.2f}"
    if c.categories:
        out["categories"] = sorted(c.categories)
    if c.requires_code:
        out["code"] = True
    return out


def campaign_eligibility(program: Program, member_id: str, attributes: Mapping[str, Any],
                         state: MemberState, at: datetime) -> list[dict[str, Any]]:
    """The campaigns running at `at` (program-local day inside their dates), each with
    whether the member is eligible now and, if not, the reason codes in order."""
    questions = program.eligibility
    request = Request(member={"id": member_id, "attributes": attributes}, order=None,
                      redeem=None, explain=False, as_of=at)
    tier = state.tier
    if tier is None and program.model.tiers is not None:
        tier = program.model.tiers.levels[0].id
    fact = order_fact(program, request, tier)
    index = program.index
    usage, budgets = state.campaign_usage, state.campaign_budget_used
    fact.update({name: (usage if kind == "usage" else budgets).get(cid, 0)
                 for cid, kind, name in index.limited})
    fact.update(gate_fact(index.opt_in, (), state, ()))
    fired = questions.group.decide(fact)
    why: dict[str, list[str]] = {}
    for reason in questions.reasons:
        if reason.id in fired:
            why.setdefault(reason.campaign, []).append(reason.code)
    out = []
    for c in program.model.campaigns:
        reasons = why.get(c.id, [])
        if "not_running" in reasons:
            continue
        schedule = c.schedule
        out.append({
            "id": c.id, "name": c.name, "type": c.type, "rule": c.rule_id,
            "participation": c.participation, "enrolled": c.id in state.enrolments,
            "from": schedule.start.isoformat() if schedule.start else None,
            "to": schedule.end.isoformat() if schedule.end else None,
            "eligible": not reasons, "reasons": reasons, "order_terms": _terms(c)})
    return out
